"""The errors trialfinder raises on purpose, each with a message fit for a user.

Every layer raises these (never a bare ``Exception``) so that the CLI and the
web app can map them to an exit code or an HTTP status in one place, and so
that nothing a user or a registry does ends in a traceback.
"""

from __future__ import annotations


class TrialfinderError(Exception):
    """Base class: ``str(error)`` is the message shown to the user."""


class ConfigError(TrialfinderError):
    """The configuration file is missing, unreadable or invalid."""


class BadInputError(TrialfinderError):
    """Something the user typed cannot be used (exit code 2, HTTP 400).

    When one named input is at fault, ``field`` names it as the core calls it
    (``country``, ``since``) and ``problem`` says what is wrong with it, and the
    message is the two together: "country is 290 characters long; ...". Each
    door can then name the input its own way (``named``): the API's parameters
    are called as the fields are, the CLI says ``--country``.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{field} {message}" if field else message)
        self.field = field
        self.problem = message

    def named(self, name: str) -> str:
        """The message with the input called ``name`` (the whole message if none is at fault)."""
        return f"{name} {self.problem}" if self.field else str(self)


class NotFoundError(TrialfinderError):
    """The thing asked for does not exist, in the registry or the cache."""


class NothingCachedError(TrialfinderError):
    """Offline, and the cache has no answer for the question."""


class StoreUnreachableError(TrialfinderError):
    """The PostgreSQL server that ``[store] url`` names did not answer, or refused us.

    Nothing was read or written; trying again once it is back helps (exit code 3,
    HTTP 503). The message names the server, never its password.
    """


class CacheBusyError(TrialfinderError):
    """Another process held the cache's write lock for longer than we may wait.

    Nothing was written; trying again later helps (exit code 3, HTTP 503).
    """


class RegistryError(TrialfinderError):
    """A registry could not give a usable answer.

    ``registry`` names it for the user. Subclasses say whether trying again
    later could help (``RegistryUnavailableError``) or not.
    """

    def __init__(self, registry: str, message: str) -> None:
        super().__init__(f"{registry}: {message}")
        self.registry = registry
        self.detail = message


class RegistryUnavailableError(RegistryError):
    """Unreachable, throttling, failing or answering garbage, after polite retries."""


class RegistryRejectedError(RegistryError):
    """The registry refused the request itself (HTTP 400): its words are kept."""


class IncompleteResultError(RegistryUnavailableError):
    """Fewer studies arrived than the registry announced: the result is not whole."""
