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
    from api.server import serve as serve_app

    serve_app("api.app:build_default_app", host=host, port=port, workers=workers)


@app.command()
def worker(
    queues: Annotated[list[str] | None, typer.Argument(help="queues, in priority order")] = None,
    burst: Annotated[bool, typer.Option(help="exit when the queues are empty")] = False,
    fork: Annotated[
        bool,
        typer.Option(
            help="a work-horse process per job; --no-fork (posting/default queues only) runs jobs "
            "in the worker, keeping its connections open"
        ),
    ] = True,
) -> None:
    """Run an RQ worker (needs VOUCHERFLOW_REDIS_URL)."""
    from workers.main import run_worker

    run_worker(queues or None, burst=burst, fork=fork)


@app.command()
def reconcile(
    every: Annotated[int, typer.Option(help="repeat every N seconds (0: once)")] = 0,
    older_than: Annotated[int | None, typer.Option(help="seconds untouched")] = None,
) -> None:
    """Re-enqueue lost imaging, seal-check and posting jobs; escalate tasks past their SLA."""
    import time

    from workers.tasks import reconcile as reconcile_all

    while True:
        report = reconcile_all(older_than_s=older_than)
        console.print(", ".join(f"{k} {v}" for k, v in report.items()))
        if not every:
            return
        time.sleep(every)


@app.command()
def demo(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    vouchers: Annotated[int, typer.Option(help="generated vouchers loaded on first start")] = 12,
    no_serve: Annotated[bool, typer.Option(help="seed only, do not serve")] = False,
) -> None:
    """Migrate, seed demo branches and users, print the logins, and serve."""
    from authorization.default_rules import seed_default_rules
    from entry.defaults import seed_entry_defaults
    from storage.db import session_scope
    from storage.seed import seed_demo
    from storage.settings import get_settings

    # The demo core opens an account for any Luhn-valid number, so every voucher can post.
    os.environ.setdefault("VOUCHERFLOW_CORE_AUTO_OPEN_ACCOUNTS", "true")
    get_settings.cache_clear()
    settings = _settings()
    with console.status("preparing database…"):
        _prepare_database(settings)
        with session_scope(settings.effective_database_url) as session:
            users = seed_demo(session, password=settings.demo_password)
            seed_entry_defaults(session)
            seed_default_rules(session)
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
    if vouchers:
        from cli.demo_data import load_demo_vouchers

        with console.status(f"loading {vouchers} generated demo vouchers…"):
            loaded = load_demo_vouchers(settings, n=vouchers)
        if loaded:
            console.print(f"{loaded} demo vouchers uploaded by teller1/teller2; imaging runs now")
    if no_serve:
        from workers.queues import inline_runner

        inline_runner.drain()  # embedded: finish the imaging jobs before exiting
        return
    serve(host=host, port=port, workers=1)


@app.command()
def simulate(
    vouchers: Annotated[int, typer.Option(help="synthetic vouchers to key")] = 500,
    keyers: Annotated[int, typer.Option(help="concurrent simulated keyers")] = 50,
    error_rate: Annotated[float, typer.Option(help="per-field misreading rate p")] = 0.02,
    correlated: Annotated[float, typer.Option(help="share of misreadings made alike")] = 0.3,
    qr_share: Annotated[float, typer.Option(help="vouchers carrying a verified QR")] = 0.3,
    ocr_all_types: Annotated[bool, typer.Option(help="OCR + one for names too")] = False,
    workers: Annotated[int, typer.Option(help="uvicorn workers")] = 2,
) -> None:
    """Key synthetic vouchers through the HTTP API on PostgreSQL with simulated keyers."""
    from cli.simulate import run_simulation

    run_simulation(
        vouchers=vouchers,
        keyers=keyers,
        error_rate=error_rate,
        correlated=correlated,
        qr_share=qr_share,
        ocr_all_types=ocr_all_types,
        workers=workers,
        console=console,
    )


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
def synth(
    out: Annotated[Path, typer.Argument(help="output folder")],
    n: Annotated[int, typer.Option("--n", help="how many vouchers")] = 20,
    seed: Annotated[int, typer.Option(help="same seed, same files")] = 0,
    hard: Annotated[bool, typer.Option(help="90/180° turns and heavier damage")] = False,
    clean: Annotated[bool, typer.Option(help="undistorted 300 dpi renders")] = False,
) -> None:
    """Generate synthetic vouchers (image + ground-truth JSON each)."""
    from rich.progress import Progress

    from synth.generate import generate_vouchers

    with Progress(console=console) as progress:
        task = progress.add_task("rendering vouchers", total=n)
        paths = generate_vouchers(
            out,
            n=n,
            seed=seed,
            hard=hard,
            clean=clean,
            on_written=lambda _p: progress.advance(task),
        )
    console.print(f"wrote {len(paths)} vouchers and their ground truth to {out}")


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
