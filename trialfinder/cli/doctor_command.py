"""``trialfinder doctor``: one line per registry and drug source, and what to do about each."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from trialfinder.cli.context import AppContext, pass_app

if TYPE_CHECKING:
    from trialfinder.doctor import Check


@click.command("doctor")
@pass_app
def doctor_command(app: AppContext) -> None:
    """Check the way to every enabled registry and drug source: DNS, connection, TLS,
    proxy, and a tiny real question. Exits 0 only when every one answers."""
    import asyncio  # only here: every other command's start would pay for it

    from trialfinder.doctor import check_everything

    checks = asyncio.run(check_everything(app.settings))
    width = max(len(c.label) for c in checks) if checks else 0
    for check in checks:
        click.echo(_line(check, width))
        if check.advice:
            click.echo(f"{'':6}what to do: {check.advice}")
    failed = [c.label for c in checks if not c.ok]
    if failed:
        click.echo(f"{len(failed)} of {len(checks)} cannot be used: {', '.join(failed)}", err=True)
        sys.exit(1)


def _line(check: Check, width: int) -> str:
    route = f"via proxy {_without_password(check.proxy)}" if check.proxy else "direct"
    if check.skipped:
        verdict, detail = "off", check.skipped
    elif check.ok:
        verdict, detail = "ok", ", ".join(check.steps)
    else:
        verdict, detail = "FAIL", "; ".join([*check.steps, check.problem or ""])
    if not check.over_http:
        return f"{verdict:<5} {check.label:<{width}}  {check.url}: {detail}"
    return f"{verdict:<5} {check.label:<{width}}  {check.url}  {route}: {detail}"


def _without_password(proxy: str) -> str:
    scheme, _, rest = proxy.partition("://")
    _, at, host = rest.rpartition("@")
    return f"{scheme}://{host}" if at else proxy
