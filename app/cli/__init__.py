"""The command line: one module per area, registered here (the composition root).

`helpers` depends on nothing above the kernel; every other module may use any layer.
"""

from app.cli.contacts import contacts_cli
from app.cli.conversations import conversations_cli
from app.cli.demo import seed_demo
from app.cli.i18n import i18n_cli
from app.cli.orgs import orgs_cli, users_cli
from app.cli.outbox import outreach_cli
from app.cli.partitions import partitions_cli
from app.cli.reports import reports_cli
from app.cli.stats import stats_cli
from app.cli.surveys import surveys_cli


def register_cli(app) -> None:
    for command in (
        orgs_cli,
        users_cli,
        i18n_cli,
        seed_demo,
        contacts_cli,
        outreach_cli,
        reports_cli,
        partitions_cli,
        conversations_cli,
        surveys_cli,
        stats_cli,
    ):
        app.cli.add_command(command)
