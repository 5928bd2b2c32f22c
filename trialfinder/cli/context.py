"""What every command needs: the settings (read once, lazily) and the store."""

from __future__ import annotations

from dataclasses import dataclass

import click

from trialfinder.cli.replay import Question
from trialfinder.config import Settings, load_settings
from trialfinder.store import Store


@dataclass
class AppContext:
    """What every command needs, built once from ``--config``."""

    config_path: str | None
    question: Question | None = None  # where a cache hit's answer is kept for replay
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings

    def open_store(self) -> Store:
        return Store.open_configured(self.settings)


pass_app = click.make_pass_decorator(AppContext)
