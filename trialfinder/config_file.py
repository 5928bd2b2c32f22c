"""Where the settings come from: which file, its TOML, and paths relative to it.

Standard library only, apart from the settings' validation (``config``): a
replayed CLI answer (``cli.replay``) must find the cache through the same file
and the same path rules as everything else, without paying for pydantic.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from trialfinder.errors import ConfigError

CONFIG_ENV_VAR = "TRIALFINDER_CONFIG"
DEFAULT_CONFIG_NAME = "config.toml"
DEFAULT_CACHE_PATH = Path("cache/trialfinder.sqlite")


STORE_URL_ENV_VAR = "TRIALFINDER_STORE_URL"
SQLITE_URL_PREFIX = "sqlite:///"


def find_config_file(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The config file to read: ``--config``, else ``$TRIALFINDER_CONFIG``, else
    ``./config.toml`` if there is one; None to use the defaults alone."""
    if explicit:
        return Path(explicit)
    from_env = os.environ.get(CONFIG_ENV_VAR)
    if from_env:
        return Path(from_env)
    local = Path(DEFAULT_CONFIG_NAME)
    return local if local.is_file() else None


def read_config(path: Path) -> dict:
    """The TOML of ``path`` as a dict, or a ConfigError that says what is wrong."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read config file {path}: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None


def config_base(path: Path | None) -> Path:
    """What relative paths in the settings are relative to: the file's folder, or
    the working folder when there is no file."""
    return path.resolve().parent if path is not None else Path.cwd()


def relative_to(value: str | os.PathLike[str], base: Path) -> Path:
    """A path from the settings, with ``~`` expanded and made absolute against ``base``."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def store_url_of(data: dict) -> str | None:
    """The ``[store] url`` a config's (unvalidated) TOML names, else ``$TRIALFINDER_STORE_URL``
    (so a password need not be written in a file), else None: the SQLite file."""
    store = data.get("store", {})
    url = store.get("url") if isinstance(store, dict) else None
    if not isinstance(url, str) or not url.strip():
        url = os.environ.get(STORE_URL_ENV_VAR, "").strip() or None
    return url


def sqlite_path_of_url(url: str) -> str | None:
    """``PATH`` of ``sqlite:///PATH`` (relative; ``sqlite:////abs/path`` is absolute)."""
    return url[len(SQLITE_URL_PREFIX) :] or None if url.startswith(SQLITE_URL_PREFIX) else None


def cache_path_of(data: dict, base: Path) -> Path | None:
    """The cache file a config's (unvalidated) TOML names; None if it names it wrongly
    (then only the validated settings can say what is wrong) or names a server."""
    url = store_url_of(data)
    if url is not None:
        path = sqlite_path_of_url(url)
        return None if path is None else relative_to(path, base)
    cache = data.get("cache", {})
    value = cache.get("path", DEFAULT_CACHE_PATH) if isinstance(cache, dict) else None
    if not isinstance(value, str | Path) or not str(value):
        return None
    return relative_to(value, base)


def replays_answers(data: dict) -> bool:
    """Whether a config's (unvalidated) TOML lets the CLI replay answers; anything but
    the default or ``true`` is no (the validated settings say if it is wrong)."""
    cache = data.get("cache", {})
    return isinstance(cache, dict) and cache.get("replay_answers", True) is True
