"""Settings: the documented defaults, where the file comes from, and bad files."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from trialfinder.config import Settings, load_settings
from trialfinder.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def _settings_in(model, table: dict, where: str = ""):
    """Yield (key path, in file?) for every setting of ``model``, walking nested tables."""
    for name, field in type(model).model_fields.items():
        if field.exclude:
            continue
        value = getattr(model, name)
        if hasattr(type(value), "model_fields"):
            yield from _settings_in(value, table.get(name, {}), f"{where}{name}.")
        else:
            yield f"{where}{name}", name in table


def test_config_toml_documents_exactly_the_defaults():
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    assert Settings.model_validate(data) == Settings()
    # every setting the model has appears in the file (a secret may be commented out)
    absent = [key for key, present in _settings_in(Settings(), data) if not present]
    assert absent == [
        "store.url",
        "http.proxy",
        "http.ca_bundle",
        "registries.nci_cts.api_key",
        "drugs.openfda.api_key",
        "refresh.cron",
        "server.admin_token",
        "server.public_url",
    ]
    assert "# api_key" in text and "# cron" in text and "# admin_token" in text
    assert "# proxy = " in text and "# ca_bundle = " in text


def test_required_keys_have_their_meanings():
    settings = Settings()
    assert settings.registries.ctgov.base_url == "https://clinicaltrials.gov/api/v2"
    assert settings.cache.path == Path("cache/trialfinder.sqlite")
    assert settings.registries.ctgov.requests_per_second == 1.0
    assert settings.cache.ttl_hours == 24


def test_relative_cache_path_resolves_against_the_config_folder(tmp_path, monkeypatch):
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "my.toml").write_text('[cache]\npath = "data/x.sqlite"\n')
    monkeypatch.chdir(tmp_path)
    settings = load_settings(folder / "my.toml")
    assert settings.cache.path == (folder / "data" / "x.sqlite").resolve()


def test_environment_variable_selects_the_file(tmp_path, monkeypatch):
    (tmp_path / "env.toml").write_text("[cache]\nttl_hours = 2\n")
    monkeypatch.setenv("TRIALFINDER_CONFIG", str(tmp_path / "env.toml"))
    assert load_settings().cache.ttl_hours == 2


def test_explicit_path_wins_over_environment(tmp_path, monkeypatch):
    (tmp_path / "env.toml").write_text("[cache]\nttl_hours = 2\n")
    (tmp_path / "cli.toml").write_text("[cache]\nttl_hours = 3\n")
    monkeypatch.setenv("TRIALFINDER_CONFIG", str(tmp_path / "env.toml"))
    assert load_settings(tmp_path / "cli.toml").cache.ttl_hours == 3


def test_without_any_file_defaults_apply_relative_to_cwd(tmp_path, monkeypatch):
    monkeypatch.delenv("TRIALFINDER_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.cache.path == tmp_path / "cache" / "trialfinder.sqlite"
    assert settings.source is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[cache]\nttl_hourz = 3\n", "[cache] ttl_hourz: unknown setting"),
        ("[registries.ctgov]\npage_size = 5000\n", "[registries.ctgov] page_size"),
        ('[registries.ctgov]\nbase_url = "ftp://x"\n', "[registries.ctgov] base_url"),
        ('[http]\nmax_retries = "many"\n', "[http] max_retries"),
        ("[cache]\nttl_hours = -1\n", "[cache] ttl_hours"),
        ("[server]\nmemo_seconds = -5\n", "[server] memo_seconds"),
        ("[cache]\nlock_wait_seconds = 0\n", "[cache] lock_wait_seconds"),
        ("[nonsense]\n", "nonsense: unknown setting"),
        ("[cache]\nttl_hours = inf\n", "[cache] ttl_hours: Input should be a finite number"),
        ("[server]\nmemo_seconds = nan\n", "[server] memo_seconds: Input should be a finite"),
        ("[drugs]\nttl_days = 1e300\n", "[drugs] ttl_days: Input should be less than or equal"),
        ('[http]\nuser_agent = "x\\r\\nX-Evil: 1"\n', "[http] user_agent: Value error, must not"),
        ('[server]\nadmin_token = "a\\nb"\n', "[server] admin_token: Value error, must not"),
        ('[refresh]\ncron = "every tuesday"\n', "[refresh] cron: Value error, is not a cron"),
        ('[refresh]\ncron = "61 * * * *"\n', "[refresh] cron: Value error, is not a cron"),
        ("[cache\n", "is not valid TOML"),
    ],
)
def test_bad_files_name_the_bad_key(tmp_path, text, expected):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert expected in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_good_cron_passes(tmp_path):
    (tmp_path / "c.toml").write_text('[refresh]\ncron = "30 4 * * 1-5"\n')
    assert load_settings(tmp_path / "c.toml").refresh.cron == "30 4 * * 1-5"


def test_a_key_from_the_environment_must_be_header_safe(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIALFINDER_ADMIN_TOKEN", "token\r\nX-Evil: yes")
    (tmp_path / "c.toml").write_text("")
    with pytest.raises(ConfigError, match=r"\$TRIALFINDER_ADMIN_TOKEN must not contain control"):
        load_settings(tmp_path / "c.toml")


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "absent.toml")


def test_openfda_key_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIALFINDER_OPENFDA_API_KEY", "secret-key")
    (tmp_path / "c.toml").write_text("")
    assert load_settings(tmp_path / "c.toml").drugs.openfda.api_key == "secret-key"
    (tmp_path / "d.toml").write_text('[drugs.openfda]\napi_key = "from-file"\n')
    assert load_settings(tmp_path / "d.toml").drugs.openfda.api_key == "from-file"


def test_drug_sources_have_their_documented_defaults():
    drugs = Settings().drugs
    assert drugs.nci_drug_dictionary.base_url == "https://webapis.cancer.gov/drugdictionary/v1"
    assert drugs.nci_evs.base_url == "https://api-evsrest.nci.nih.gov/api/v1"
    assert drugs.rxnav.base_url == "https://rxnav.nlm.nih.gov/REST"
    assert drugs.openfda.base_url == "https://api.fda.gov"
    assert drugs.ttl_days == 7 and drugs.max_terms == 20


def test_http_proxy_and_ca_bundle_settings(tmp_path):
    (tmp_path / "c.toml").write_text(
        '[http]\nproxy = "http://proxy.example.org:3128"\nca_bundle = "certs/ca.pem"\n'
        'transport = "browser-tls"\n'
    )
    http = load_settings(tmp_path / "c.toml").http
    assert http.proxy == "http://proxy.example.org:3128"
    assert http.ca_bundle == tmp_path / "certs" / "ca.pem"  # relative to the config file
    assert http.transport == "browser-tls"
    (tmp_path / "bad.toml").write_text('[http]\nproxy = "proxy:3128"\ntransport = "curl"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path / "bad.toml")
    assert "[http] proxy: Value error, must start with http:// or https://" in str(caught.value)
    assert "[http] transport:" in str(caught.value)
