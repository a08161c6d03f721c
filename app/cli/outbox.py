import click
from flask import current_app
from flask.cli import AppGroup

from app.outbox.dispatch import settings_from_config
from app.outbox.worker import Worker

outreach_cli = AppGroup("outreach", help="Send scheduled outreach.")


@outreach_cli.command("worker")
@click.option("--once", is_flag=True, help="Process what is due now, then exit (e.g. from cron).")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=None,
    help="Concurrent sends (default OUTREACH_CONCURRENCY).",
)
@click.option(
    "--batch",
    type=click.IntRange(1, 5000),
    default=None,
    help="Rows claimed per pass (default OUTREACH_BATCH).",
)
@click.option(
    "--poll",
    type=click.FloatRange(0.05, 60),
    default=1.0,
    show_default=True,
    help="Seconds to wait when nothing is due.",
)
def worker(once, concurrency, batch, poll):
    """Claim due outbox messages with a lease and send them, and run background jobs
    (contact imports, …). Safe to run several, on several machines."""
    app = current_app._get_current_object()
    settings = settings_from_config(app.config, concurrency=concurrency, batch_size=batch)
    runner = Worker(app, settings=settings)
    click.echo(f"outreach worker {runner.worker_id} ({runner.gateway.name})")
    try:
        runner.run(once=once, poll_seconds=poll, jobs=True)
    except KeyboardInterrupt:
        pass
    finally:
        runner.close()
