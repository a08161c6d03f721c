"""`flask partitions list|maintain|archive`: the monthly partitions of participation events
(PostgreSQL; see app/participation/partitions.py) and the outbox archive
(app/outbox/archive.py). The worker runs the same maintenance (every hour; the archive every
10 minutes); the commands are for a new deployment, a check, or after a long stop."""

import click
from flask import current_app
from flask.cli import AppGroup
from flask_babel import format_number, ngettext
from flask_babel import gettext as _

from app.cli.helpers import localized
from app.db_dialect import is_postgres
from app.outbox.archive import archive_outbox, archived_count
from app.participation.partitions import list_partitions, maintain_partitions
from app.timeutil import utcnow

partitions_cli = AppGroup(
    "partitions", help="Monthly partitions of participation events, and the outbox archive."
)


def _require_postgres() -> None:
    if not is_postgres():
        click.echo(_("This database (SQLite) keeps participation events in one plain table."))
        raise SystemExit(0)


@partitions_cli.command("list")
@localized
def list_command():
    """List the partitions with PostgreSQL's row estimates (as of the last ANALYZE)."""
    _require_postgres()
    for partition in list_partitions():
        rows = "?" if partition.rows_estimate is None else f"{partition.rows_estimate:,}"
        click.echo(f"{partition.name}\t{partition.bounds}\t{rows}")


@partitions_cli.command("maintain")
@click.option("--months-ahead", type=click.IntRange(0, 36), default=None)
@localized
def maintain_command(months_ahead):
    """Create the missing monthly partitions (last month to PARTITION_MONTHS_AHEAD ahead),
    moving their rows out of the default partition."""
    _require_postgres()
    if months_ahead is None:
        months_ahead = current_app.config.get("PARTITION_MONTHS_AHEAD", 3)
    created = maintain_partitions(now=utcnow(), months_ahead=months_ahead)
    for name, moved in created.items():
        click.echo(
            ngettext(
                "%(name)s created; %(num)d row moved from the default partition.",
                "%(name)s created; %(num)d rows moved from the default partition.",
                moved,
                name=name,
            )
        )
    if not created:
        click.echo(_("Every partition already exists."))


@partitions_cli.command("archive")
@click.option("--months", type=click.IntRange(1, 120), default=None)
@localized
def archive_command(months):
    """Move finished outbox messages due more than OUTBOX_ARCHIVE_MONTHS ago to the outbox
    archive (pages still read them; app/outbox/archive.py), all of them at once. The worker
    moves up to 50,000 every 10 minutes."""
    _require_postgres()
    if months is None:
        months = current_app.config.get("OUTBOX_ARCHIVE_MONTHS", 0)
        if months <= 0:
            click.echo(_("The outbox archive is off (OUTBOX_ARCHIVE_MONTHS=0)."))
            return
    moved = archive_outbox(now=utcnow(), months=months)
    click.echo(
        ngettext(
            "%(num)d message moved to the archive; it now holds %(total)s.",
            "%(num)d messages moved to the archive; it now holds %(total)s.",
            moved,
            total=format_number(archived_count()),
        )
    )
