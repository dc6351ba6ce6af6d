"""The `voucherflow` command: serve, worker, migrate, demo, reconcile, audit, synth, read."""

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(
    help="VoucherFlow 集中作业 — back-office voucher processing", no_args_is_help=True
)
console = Console(stderr=True)


def _settings():  # noqa: ANN202
    from storage.settings import get_settings

    return get_settings()


def _prepare_database(settings) -> None:  # noqa: ANN001
    from storage.db import session_scope
    from storage.migrate import upgrade_head
    from storage.voucher_types import seed_builtin_types

    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_head(settings.effective_database_url)
    with session_scope(settings.effective_database_url) as session:
        seed_builtin_types(session)
        session.commit()


@app.command()
def migrate() -> None:
    """Upgrade the database schema to the newest migration."""
    settings = _settings()
    with console.status("migrating database…"):
        _prepare_database(settings)
    console.print("[green]database at head[/green]")


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
) -> None:
    """Serve the API and pages (migrate first with `voucherflow migrate`)."""
    import uvicorn

    uvicorn.run(
        "api.app:build_default_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
    )


@app.command()
def worker(
    queues: Annotated[list[str] | None, typer.Argument(help="queues, in priority order")] = None,
    burst: Annotated[bool, typer.Option(help="exit when the queues are empty")] = False,
) -> None:
    """Run an RQ worker (needs VOUCHERFLOW_REDIS_URL)."""
    from workers.main import run_worker

    run_worker(queues or None, burst=burst)


@app.command()
def reconcile(
    every: Annotated[int, typer.Option(help="repeat every N seconds (0: once)")] = 0,
    older_than: Annotated[int | None, typer.Option(help="seconds untouched")] = None,
) -> None:
    """Re-enqueue vouchers whose imaging job was lost."""
    import time

    from workers.reconciler import reconcile_intake

    while True:
        report = reconcile_intake(older_than_s=older_than)
        console.print(
            f"checked {report.checked}, re-enqueued {len(report.requeued)}, "
            f"failed {len(report.failed)}, alive {report.alive}"
        )
        if not every:
            return
        time.sleep(every)


@app.command()
def demo(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    vouchers: Annotated[int, typer.Option(help="generated demo vouchers to upload")] = 0,
    no_serve: Annotated[bool, typer.Option(help="seed only, do not serve")] = False,
) -> None:
    """Migrate, seed demo branches and users, print the logins, and serve."""
    from storage.db import session_scope
    from storage.seed import seed_demo

    settings = _settings()
    with console.status("preparing database…"):
        _prepare_database(settings)
        with session_scope(settings.effective_database_url) as session:
            users = seed_demo(session, password=settings.demo_password)
            session.commit()
    mode = (
        "embedded (SQLite, local blobs, in-process jobs)" if settings.embedded_jobs else "services"
    )
    console.print(f"[bold]VoucherFlow[/bold] — mode: {mode}")
    console.print(f"URL: http://{host}:{port}/   API docs: http://{host}:{port}/docs")
    pw = (
        "the value of VOUCHERFLOW_DEMO_PASSWORD"
        if os.environ.get("VOUCHERFLOW_DEMO_PASSWORD")
        else "demo"
    )
    console.print(f"Demo logins (password: {pw}):")
    for u in users:
        console.print(f"  {u.username:<12} {'/'.join(u.roles):<11} {u.display_name}")
    if no_serve:
        return
    serve(host=host, port=port, workers=1)


@app.command()
def audit(action: Annotated[str, typer.Argument(help="verify")] = "verify") -> None:
    """Verify every voucher's event hash chain; exit 1 if anything was edited or deleted."""
    from storage.audit import verify_all_chains
    from storage.db import session_scope

    if action != "verify":
        raise typer.BadParameter("only 'verify' is supported")
    settings = _settings()
    with session_scope(settings.effective_database_url) as session:
        problems = verify_all_chains(session)
    for p in problems:
        console.print(f"[red]{p.problem}[/red] voucher {p.voucher_id} event {p.event_id}")
    console.print(f"audit chain: {'OK' if not problems else f'{len(problems)} problem(s)'}")
    raise typer.Exit(1 if problems else 0)


@app.command()
def read(
    images: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False)],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = True,
) -> None:
    """Run the image pipeline offline on files (no database, no queue)."""
    from cli.read import run_read

    results = run_read(images)
    json.dump(
        results if len(results) != 1 else results[0], sys.stdout, ensure_ascii=False, indent=2
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    app()
