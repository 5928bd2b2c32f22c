"""Drug sources: NCI Drug Dictionary, NCI EVS, RxNav, openFDA.

Each source answers "what do you know about this name?" with ``DrugFacts`` or
None. Sources know HTTP and their own JSON; they never touch the store, and
each is optional: the resolver carries on without any one of them.
"""
