"""Settings: read from a TOML file, validated by pydantic, defaults in one place.

The defaults below are the real ones; ``config.toml`` at the project root
repeats them with a comment for each (a test keeps the two in step). The file
used is, in order: ``--config PATH``, ``$TRIALFINDER_CONFIG``, ``./config.toml``
if present, else the defaults alone. Relative paths in a file resolve against
that file's folder, so a config works wherever it is run from.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from trialfinder import __version__
from trialfinder.config_file import (
    CONFIG_ENV_VAR,
    DEFAULT_CACHE_PATH,
    DEFAULT_CONFIG_NAME,
    config_base,
    find_config_file,
    read_config,
    relative_to,
    sqlite_path_of_url,
    store_url_of,
)
from trialfinder.errors import ConfigError
from trialfinder.registries import LABELS
from trialfinder.store.connection import is_postgres_url

__all__ = ["CONFIG_ENV_VAR", "DEFAULT_CONFIG_NAME", "Settings", "find_config_file", "load_settings"]

OPENFDA_KEY_ENV_VAR = "TRIALFINDER_OPENFDA_API_KEY"
ADMIN_TOKEN_ENV_VAR = "TRIALFINDER_ADMIN_TOKEN"
NCI_CTS_KEY_ENV_VAR = "TRIALFINDER_NCI_CTS_API_KEY"
DEFAULT_USER_AGENT = (
    f"trialfinder/{__version__} (+https://github.com/trialfinder/trialfinder; "
    "finds clinical trials for drug pages)"
)

# Every number of seconds, minutes, hours or days: finite (no inf, no nan, refused for
# the whole model below) and at most a million, so no later date arithmetic overflows.
MAX_SPAN = 1_000_000.0
PositiveFloat = Annotated[float, Field(gt=0, le=MAX_SPAN)]
NonNegativeFloat = Annotated[float, Field(ge=0, le=MAX_SPAN)]


def _header_safe(value: str | None) -> str | None:
    """A value sent in an HTTP header (a User-Agent, a key, a token): no control
    characters, so it can neither break the request nor smuggle in another header."""
    if value is not None and any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise ValueError("must not contain control characters (a line break, a tab...)")
    return value


HeaderText = Annotated[str, AfterValidator(_header_safe)]


class _Section(BaseModel):
    # A misspelt key is an error that names it, never silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class CacheSettings(_Section):
    path: Path = DEFAULT_CACHE_PATH
    ttl_hours: PositiveFloat = 24.0
    lock_wait_seconds: PositiveFloat = 120.0
    # Read (unvalidated) by cli.replay through config_file.replays_answers.
    replay_answers: bool = True
    # The most the cache's data may take; past it, untracked drugs' searches go (0: no bound).
    max_mb: int = Field(2048, ge=0, le=1_000_000)


class StoreSettings(_Section):
    # Unset: the SQLite file at [cache] path. sqlite:///PATH: that file instead.
    # postgresql://USER@HOST:PORT/DB: a PostgreSQL server that several machines share.
    url: str | None = None
    # Connections one server process keeps to PostgreSQL for reading (the writer has one).
    pool_size: int = Field(4, ge=1, le=64)

    @field_validator("url")
    @classmethod
    def _store_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if value.startswith("sqlite:"):
            if sqlite_path_of_url(value) is None:
                raise ValueError("a SQLite store is sqlite:///PATH (sqlite:////abs/path)")
        elif is_postgres_url(value):
            if not urlsplit(value).hostname and "host=" not in value:
                raise ValueError("name the server: postgresql://USER@HOST:PORT/DATABASE")
        else:
            raise ValueError("must be sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE")
        return value


class HttpSettings(_Section):
    user_agent: HeaderText = Field(DEFAULT_USER_AGENT, min_length=1)
    timeout_seconds: PositiveFloat = 60.0
    connect_timeout_seconds: PositiveFloat = 15.0
    max_retries: int = Field(4, ge=0, le=20)
    backoff_base_seconds: NonNegativeFloat = 1.0
    backoff_max_seconds: NonNegativeFloat = 60.0
    max_retry_after_seconds: NonNegativeFloat = 120.0
    # A response that sends nothing for this long is abandoned (and retried).
    read_timeout_seconds: PositiveFloat = 30.0
    # An answer bigger than this is not read to its end (and not retried).
    max_answer_mb: PositiveFloat = 64.0
    # A proxy for every registry (wins over HTTP(S)_PROXY; NO_PROXY still applies).
    proxy: str | None = None
    # A CA bundle (PEM) to trust instead of the system's store.
    ca_bundle: Path | None = None
    # Which HTTP client carries requests; see trialfinder.transport.
    transport: Literal["auto", "aiohttp", "browser-tls"] = "auto"

    @field_validator("proxy")
    @classmethod
    def _proxy_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value or None

    @property
    def max_answer_bytes(self) -> int:
        return int(self.max_answer_mb * 1024 * 1024)


class _Service(_Section):
    base_url: str

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class CtgovSettings(_Service):
    base_url: str = "https://clinicaltrials.gov/api/v2"
    requests_per_second: PositiveFloat = 1.0
    page_size: int = Field(1000, ge=1, le=1000)


class CtisSettings(_Service):
    base_url: str = "https://euclinicaltrials.eu/ctis-public-api"
    requests_per_second: PositiveFloat = 1.0
    page_size: int = Field(100, ge=1, le=100)


class IsrctnSettings(_Service):
    base_url: str = "https://www.isrctn.com/api"
    requests_per_second: PositiveFloat = 1.0


class NciCtsSettings(_Service):
    base_url: str = "https://clinicaltrialsapi.cancer.gov/api/v2"
    requests_per_second: PositiveFloat = 1.0
    # Off without a key (free from NCI); also TRIALFINDER_NCI_CTS_API_KEY.
    api_key: HeaderText | None = None


REGISTRY_NAMES = tuple(LABELS)


class RegistriesSettings(_Section):
    # Which registries a search asks (also `search --registry ctgov,ctis`).
    enabled: list[str] = Field(default_factory=lambda: list(REGISTRY_NAMES))
    # When a trial is in several registries, the record of the first one here leads.
    preference: list[str] = Field(default_factory=lambda: list(REGISTRY_NAMES))
    # A registry that failed is not asked again for this long (its cached answer, if
    # any, is used); `--refresh` asks it anyway.
    failure_cooldown_minutes: NonNegativeFloat = 10.0
    # One registry's whole answer must come within this, retries and waits included.
    search_deadline_seconds: PositiveFloat = 300.0
    ctgov: CtgovSettings = CtgovSettings()
    ctis: CtisSettings = CtisSettings()
    isrctn: IsrctnSettings = IsrctnSettings()
    nci_cts: NciCtsSettings = NciCtsSettings()

    @field_validator("enabled", "preference")
    @classmethod
    def _known_registries(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in REGISTRY_NAMES]
        if unknown:
            raise ValueError(f"unknown registry {', '.join(unknown)}; known: {REGISTRY_NAMES}")
        return value


class DrugSourceSettings(_Service):
    enabled: bool = True
    requests_per_second: PositiveFloat = 2.0


class NciDrugDictionarySettings(DrugSourceSettings):
    base_url: str = "https://webapis.cancer.gov/drugdictionary/v1"


class NciEvsSettings(DrugSourceSettings):
    base_url: str = "https://api-evsrest.nci.nih.gov/api/v1"


class RxNavSettings(DrugSourceSettings):
    base_url: str = "https://rxnav.nlm.nih.gov/REST"


class OpenFdaSettings(DrugSourceSettings):
    base_url: str = "https://api.fda.gov"
    api_key: HeaderText | None = None


class DailyMedSettings(_Service):
    base_url: str = "https://dailymed.nlm.nih.gov/dailymed"


class DrugsSettings(_Section):
    ttl_days: PositiveFloat = 7.0
    max_terms: int = Field(20, ge=1, le=50)
    timeout_seconds: PositiveFloat = 15.0
    max_retries: int = Field(1, ge=0, le=10)
    # The scheduler (`scheduler`, `serve`) brings the drug lexicon up to date weekly.
    update_lexicon_weekly: bool = False
    nci_drug_dictionary: NciDrugDictionarySettings = NciDrugDictionarySettings()
    nci_evs: NciEvsSettings = NciEvsSettings()
    rxnav: RxNavSettings = RxNavSettings()
    openfda: OpenFdaSettings = OpenFdaSettings()
    dailymed: DailyMedSettings = DailyMedSettings()


class RefreshSettings(_Section):
    # Drugs kept fresh besides those added with `trialfinder track add`.
    drugs: list[str] = Field(default_factory=list)
    # Whether a drug asked for through the web API becomes tracked.
    track_api_requests: bool = False
    # The schedule: an interval in minutes, or a cron expression (which wins if set).
    interval_minutes: PositiveFloat = 60.0
    cron: str | None = None
    jitter_seconds: int = Field(120, ge=0)
    misfire_grace_seconds: int = Field(600, ge=1)
    # A full re-listing of each drug's trial ids (finds trials that left its results).
    full_relisting_hours: PositiveFloat = 24.0
    # A refresher holds a lease on the work for this long; a dead holder's lease expires.
    lease_seconds: int = Field(900, ge=10)
    # A failing drug waits this long, doubling per failure up to the maximum.
    failure_backoff_minutes: PositiveFloat = 15.0
    failure_backoff_max_hours: PositiveFloat = 24.0
    # Most ClinicalTrials.gov URLs stay under this many characters when batching drugs.
    max_query_chars: int = Field(4000, ge=500, le=16000)

    @field_validator("cron")
    @classmethod
    def _a_crontab(cls, value: str | None) -> str | None:
        """Parsed now, so that a bad schedule stops trialfinder at start, not the
        scheduler after the server has said it is serving."""
        if value is None:
            return None
        from apscheduler.triggers.cron import CronTrigger  # only when a cron is set

        try:
            CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as error:
            raise ValueError(f"is not a cron expression ({error})") from None
        return value


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    # The drug the demo page at / shows.
    demo_drug: str = "blinatumomab"
    # Origins allowed to call the API from a browser; ["*"] allows any (public GETs).
    cors_origins: list[str] = Field(default_factory=lambda: ["*"])
    # Who may frame the widget page (the CSP frame-ancestors value).
    frame_ancestors: list[str] = Field(default_factory=lambda: ["*"])
    # Requests per minute per client address; 0 disables the limit.
    rate_limit_per_minute: int = Field(120, ge=0)
    # How long a request waits for a drug that is not cached yet before a 503.
    fetch_wait_seconds: PositiveFloat = 10.0
    # Cache-Control for API answers.
    max_age_seconds: int = Field(300, ge=0)
    stale_while_revalidate_seconds: int = Field(3600, ge=0)
    # Bearer token for writes (POST /api/v1/refresh, tracking); also
    # TRIALFINDER_ADMIN_TOKEN. Without one, writes are off.
    admin_token: HeaderText | None = None
    # Where the JSON access log goes: "stderr", "off", or a file path (appended to).
    access_log: str = Field("stderr", min_length=1)
    # Server processes sharing the port (SO_REUSEPORT); they draw on each registry's
    # and drug source's request budget in the store together (store/budgets.py).
    workers: int = Field(1, ge=1, le=64)
    memo_seconds: NonNegativeFloat = 5.0
    memo_bytes: int = Field(64 * 1024 * 1024, ge=0)
    # Connection limits (web/guard.py): a request's headers must be complete this
    # soon after the connection (or a next request's first byte), else 408 and closed.
    header_timeout_seconds: PositiveFloat = 10.0
    # A request's body (the admin endpoints read one) must arrive this soon.
    body_timeout_seconds: PositiveFloat = 10.0
    # An idle kept-alive connection is closed after this long.
    keepalive_timeout_seconds: PositiveFloat = 15.0
    # Open connections per process; past it, 503 and closed. Lowered to fit the
    # process's descriptor limit (ulimit -n) with room to spare.
    max_connections: int = Field(1000, ge=1)
    # Uncached fetches (searches of the registries) per client per hour; 0: no limit.
    fetches_per_client_per_hour: int = Field(20, ge=0)
    # The server's public origin (https://trials.example.org) for absolute links
    # (the Atom feed, the demo page's embed snippet); without it, a Host header in
    # allowed_hosts, else http://host:port.
    public_url: str | None = None
    allowed_hosts: list[str] = Field(default_factory=list)
    # Proxies (addresses or CIDR networks) whose X-Forwarded-For is believed.
    trusted_proxies: list[str] = Field(default_factory=list)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if (
            parts.scheme not in ("http", "https")
            or not parts.netloc
            or parts.query
            or parts.fragment
        ):
            raise ValueError(
                "must be an http(s) URL without a query, e.g. https://trials.example.org"
            )
        if any(ord(c) < 33 or c in "<>\"'\\" for c in value):
            raise ValueError("must not contain spaces, quotes or control characters")
        return value.rstrip("/")

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an address or a CIDR network") from None
        return value


class PlacesSettings(_Section):
    # How far from a place (--near, ?near=, data-near) a trial's site may be when no
    # radius is given: 50km, 30mi, or a number of kilometres.
    default_radius: str = "50km"

    @field_validator("default_radius")
    @classmethod
    def _a_radius(cls, value: str) -> str:
        from trialfinder.errors import BadInputError
        from trialfinder.geo import parse_radius

        try:
            parse_radius(value)
        except BadInputError as error:
            raise ValueError(str(error)) from None
        return value


class Settings(_Section):
    cache: CacheSettings = CacheSettings()
    store: StoreSettings = StoreSettings()
    http: HttpSettings = HttpSettings()
    registries: RegistriesSettings = RegistriesSettings()
    drugs: DrugsSettings = DrugsSettings()
    refresh: RefreshSettings = RefreshSettings()
    server: ServerSettings = ServerSettings()
    places: PlacesSettings = PlacesSettings()
    source: Path | None = Field(None, exclude=True)

    @property
    def store_place(self) -> Path | str:
        """Where the store is: the PostgreSQL URL of ``[store] url``, else the SQLite file."""
        return self.store.url or self.cache.path

    @property
    def cache_ttl_seconds(self) -> float:
        return self.cache.ttl_hours * 3600

    @property
    def drug_ttl_seconds(self) -> float:
        return self.drugs.ttl_days * 86400

    def drug_http(self) -> HttpSettings:
        """HTTP settings for drug sources: shorter, so a slow source costs little."""
        return self.http.model_copy(
            update={
                "timeout_seconds": self.drugs.timeout_seconds,
                "max_retries": self.drugs.max_retries,
            }
        )


def load_settings(explicit: str | os.PathLike[str] | None = None) -> Settings:
    """Read and validate the settings; raise ConfigError with a readable message."""
    path = find_config_file(explicit)
    if path is None:
        return _resolve_paths(Settings(), config_base(None))
    data = read_config(path)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as error:
        raise ConfigError(f"{path}: {describe_validation_error(error)}") from None
    settings = settings.model_copy(update={"source": path.resolve()})
    return _resolve_paths(settings, config_base(path))


def describe_validation_error(error: ValidationError) -> str:
    """One line per problem, naming the TOML key: ``[cache] ttl_hours: ...``."""
    lines = []
    for problem in error.errors():
        location = [str(part) for part in problem["loc"]]
        table, key = location[:-1], location[-1] if location else "?"
        where = f"[{'.'.join(table)}] {key}" if table else key
        message = problem["msg"]
        if problem["type"] == "extra_forbidden":
            message = "unknown setting"
        lines.append(f"{where}: {message}")
    return "; ".join(lines)


def _resolve_paths(settings: Settings, base: Path) -> Settings:
    cache = settings.cache.model_copy(update={"path": relative_to(settings.cache.path, base)})
    store = settings.store
    url = store_url_of({"store": {"url": store.url}})
    if url is not None:
        try:
            store = store.model_copy(update={"url": StoreSettings._store_url(url)})
        except ValueError as error:
            raise ConfigError(f"[store] url: {error}") from None
        sqlite_path = sqlite_path_of_url(url)
        if sqlite_path is not None:  # the same file as [cache] path would name
            cache = cache.model_copy(update={"path": relative_to(sqlite_path, base)})
            store = store.model_copy(update={"url": None})
    server = settings.server
    http = settings.http
    if http.ca_bundle is not None:
        http = http.model_copy(update={"ca_bundle": relative_to(http.ca_bundle, base)})
    if server.access_log not in ("stderr", "off"):
        server = server.model_copy(update={"access_log": str(relative_to(server.access_log, base))})
    return _with_secrets(
        settings.model_copy(update={"cache": cache, "store": store, "server": server, "http": http})
    )


def _from_environment(name: str) -> str | None:
    value = os.environ.get(name)
    try:
        return _header_safe(value)
    except ValueError as error:
        raise ConfigError(f"${name} {error}") from None


def _with_secrets(settings: Settings) -> Settings:
    """Keys from the environment, so they need not be written in a file."""
    key = _from_environment(OPENFDA_KEY_ENV_VAR)
    if key and not settings.drugs.openfda.api_key:
        openfda = settings.drugs.openfda.model_copy(update={"api_key": key})
        drugs = settings.drugs.model_copy(update={"openfda": openfda})
        settings = settings.model_copy(update={"drugs": drugs})
    cts_key = _from_environment(NCI_CTS_KEY_ENV_VAR)
    if cts_key and not settings.registries.nci_cts.api_key:
        nci_cts = settings.registries.nci_cts.model_copy(update={"api_key": cts_key})
        registries = settings.registries.model_copy(update={"nci_cts": nci_cts})
        settings = settings.model_copy(update={"registries": registries})
    token = _from_environment(ADMIN_TOKEN_ENV_VAR)
    if token and not settings.server.admin_token:
        server = settings.server.model_copy(update={"admin_token": token})
        settings = settings.model_copy(update={"server": server})
    return settings
