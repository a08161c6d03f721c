"""The one list of periodic maintenance the worker runs besides sending (like Redash's
tasks/schedule.py). The outbox's own upkeep (the inbound spool, expired leases,
reconciliation, early callbacks) runs first on every pass; these follow, in this order.
Wired into the app by create_app, so the worker imports none of these features."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.api.idempotency import purge_idempotent_requests
from app.contacts.retention import purge_inactive_contacts
from app.conversations.escalation import escalate
from app.integrations.delivery import deliver_due as deliver_webhooks
from app.integrations.delivery import purge_old_deliveries as purge_webhook_log
from app.jobs.cleanup import purge_progress_files
from app.links.services import purge_expired_links
from app.outbox.archive import TASK_BATCHES as ARCHIVE_TASK_BATCHES
from app.outbox.archive import archive_outbox
from app.outbox.counters import fold as fold_status_counters
from app.outreach.completion import note_completed_sends
from app.outreach.services import enroll_late_joiners
from app.participation.partitions import maintain_partitions
from app.reports.export_jobs import purge_old_exports
from app.surveys.services import expire_responses, fan_out_due_runs
from app.whatsapp.services import refresh_due_templates


@dataclass(frozen=True)
class Task:
    name: str
    run: Callable[[datetime], object]  # called with the worker's "now"
    every: timedelta = timedelta(0)  # 0: on every maintenance pass


def maintenance_tasks(config) -> tuple[Task, ...]:
    tasks = [
        # First: an urgent case nobody acknowledged alerts a person in this very pass.
        Task("escalate_urgent_cases", lambda now: escalate(now)),
        # One-off sends whose messages all went: send.completed for webhooks (below).
        Task(
            "note_completed_sends",
            lambda now: note_completed_sends(now=now),
            every=timedelta(minutes=1),
        ),
        # Outbound webhooks due now (bounded: a slow endpoint cannot hold up sending).
        Task("deliver_webhooks", lambda now: deliver_webhooks(now=now)),
        Task("purge_webhook_log", purge_webhook_log, every=timedelta(hours=6)),
        Task("purge_old_exports", lambda now: purge_old_exports(now=now)),
        Task("enroll_late_joiners", lambda now: enroll_late_joiners(now=now)),
        # Survey runs that are due ask their contacts; unanswered questions get their one
        # reminder, then close as partial.
        Task(
            "fan_out_survey_runs",
            lambda now: fan_out_due_runs(now=now),
            every=timedelta(minutes=1),
        ),
        Task(
            "expire_survey_responses",
            lambda now: expire_responses(now=now),
            every=timedelta(minutes=1),
        ),
        Task("purge_progress_files", lambda now: purge_progress_files(), every=timedelta(hours=1)),
        # WhatsApp's decisions on submitted templates (and pauses of approved ones).
        Task(
            "refresh_whatsapp_templates",
            lambda now: refresh_due_templates(now=now),
            every=timedelta(minutes=5),
        ),
        Task(
            "purge_expired_links",
            lambda now: purge_expired_links(now=now),
            every=timedelta(hours=6),
        ),
        # The API's kept Idempotency-Key responses, after their 24 hours.
        Task(
            "purge_idempotent_requests",
            lambda now: purge_idempotent_requests(now=now),
            every=timedelta(hours=1),
        ),
        # PostgreSQL: next months' event partitions exist before their first event.
        Task(
            "maintain_partitions",
            lambda now: maintain_partitions(
                now=now, months_ahead=config.get("PARTITION_MONTHS_AHEAD", 3)
            ),
            every=timedelta(hours=1),
        ),
        # PostgreSQL: old, finished messages leave the live outbox for its archive.
        Task(
            "archive_outbox",
            lambda now: archive_outbox(
                now=now,
                months=config.get("OUTBOX_ARCHIVE_MONTHS", 0),
                max_batches=ARCHIVE_TASK_BATCHES,
            ),
            every=timedelta(minutes=10),
        ),
    ]
    months = config.get("RETENTION_MONTHS", 0)
    if months:
        tasks.append(
            Task(
                "purge_inactive_contacts",
                lambda now: purge_inactive_contacts(months=months, now=now),
                every=timedelta(hours=6),
            )
        )
    # Last, so it also takes the deltas of the tasks above: the outbox's status counters
    # fold what every writer added since the last pass (reads stay cheap).
    tasks.append(Task("fold_status_counters", lambda now: fold_status_counters()))
    return tuple(tasks)
