"""trialfinder: find clinical trials by drug name, cached in SQLite.

The data flows one way: registry clients (``trialfinder.registries``) yield
registry-neutral models (``trialfinder.models``), the store
(``trialfinder.store``) keeps them, and the CLI and the web app read them
through the core (``trialfinder.search``).
"""

__version__ = "0.1.0"
