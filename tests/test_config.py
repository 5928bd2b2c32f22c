"""Settings: the documented defaults, where the file comes from, and bad files."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from trialfinder.config import Settings, load_settings
from trialfinder.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def test_config_toml_documents_exactly_the_defaults():
    data = tomllib.loads((ROOT / "config.toml").read_text(encoding="utf-8"))
    assert Settings.model_validate(data) == Settings()
    # and every setting the model has appears in the file
    for section, model in (("cache", Settings().cache), ("http", Settings().http)):
        assert set(data[section]) == set(type(model).model_fields)
    assert set(data["registries"]["ctgov"]) == set(type(Settings().registries.ctgov).model_fields)


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
        ("[nonsense]\n", "nonsense: unknown setting"),
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


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "absent.toml")
