"""The command line: a thin layer of options and output over ``trialfinder.cache_policy``.

``main`` first tries to replay the answer to a question asked before
(``replay``: no click, no pydantic, a few milliseconds); otherwise ``app``
runs the command. Exit codes: 0 ok, 1 anything else, 2 bad input, 3 registry
unreachable and nothing cached, or the cache locked by another process for
too long. A traceback is shown only with ``TRIALFINDER_DEBUG=1``.
"""

from __future__ import annotations

import sys

from trialfinder.cli import replay


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    code, question = replay.replay(args)
    if code is not None:
        sys.exit(code)
    from trialfinder.cli.app import run

    run(args, question)
