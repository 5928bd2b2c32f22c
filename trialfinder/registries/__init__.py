"""Registry clients, one per registry, each behind the small ``Registry`` interface.

Registries know HTTP and their own JSON; they never touch the store.
"""
