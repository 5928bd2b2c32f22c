"""Numbers too big for the command line's options are bad input: exit 2, naming the option."""

from __future__ import annotations

import click
import pytest

from tests.conftest import cli_runner
from trialfinder.cli.commands import cli


@pytest.fixture
def run(capsys, config_path):
    return cli_runner(capsys, config_path)


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["search", "blinatumomab", "--limit", str(2**63)], "--limit"),
        (["search", "blinatumomab", "--limit", "9" * 40, "--offline"], "--limit"),
        (["changes", "--since", "99999999999d"], "--since"),
        (["changes", "--since", "9" * 40 + "w"], "--since"),
        (["serve", "--port", str(2**64)], "--port"),
        (["serve", "--workers", str(2**63)], "--workers"),
    ],
)
def test_an_overflowing_number_is_bad_input(run, args, option):
    code, _, err = run(*args)
    assert code == 2, err
    assert option in err
    assert "Overflow" not in err and "unexpected error" not in err


def test_the_largest_limit_is_all_of_them(run):
    code, out, _ = run("search", "blinatumomab", "--limit", str(2**63 - 1))
    assert code == 0 and "5 of 6 trials" in out


def _options(command: click.Command):
    yield from command.params
    for sub in getattr(command, "commands", {}).values():
        yield from _options(sub)


def test_every_integer_option_has_a_largest_value():
    for param in _options(cli):
        if isinstance(param.type, click.IntRange | click.FloatRange):
            assert param.type.max is not None, param.name
        assert param.type is not click.INT, f"{param.name}: a plain INT has no largest value"
