"""`voucherflow simulate`: the entry simulation of bench/entry.py behind a command."""

import sys
from pathlib import Path

from rich.console import Console

REPO = Path(__file__).resolve().parent.parent


def run_simulation(*, console: Console | None = None, **options) -> dict:  # noqa: ANN003
    """Run the keying simulation (fresh PostgreSQL database, real HTTP API) and print figures."""
    # bench/ is a folder of scripts in the checkout, not an installed package.
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from bench.entry import Options, run

    return run(Options(**options), console or Console())
