"""Prometheus metrics, read from the database at scrape time (so every process agrees), plus
the state of Redis, sign-in limits and rejected webhooks (see RuntimeCollector)."""

from datetime import timedelta

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from sqlalchemy import func, select

from app.extensions import db
from app.jobs.models import Job
from app.outbox import api as outbox
from app.outbox.models import EarlyStatusCallback, InboundMessage, OutboxMessage
from app.ratelimit import rate_limits
from app.timeutil import utcnow
from app.webhooks.signature import REASONS, rejections


class OutreachCollector:
    def collect(self):
        now = utcnow()
        queue = GaugeMetricFamily(
            "alcance_outbox_messages", "Outbox rows by status", labels=["status"]
        )
        # Every organization's, from the status counters (a scrape never counts the rows).
        for status, count in sorted(outbox.status_counts().items()):
            queue.add_metric([status], count)
        yield queue
        due = db.session.scalar(
            select(func.count()).where(
                OutboxMessage.status == "scheduled", OutboxMessage.due_at <= now
            )
        )
        yield GaugeMetricFamily(
            "alcance_outbox_due", "Scheduled rows already due (backlog)", value=due or 0
        )
        recent = db.session.scalar(
            select(func.count()).where(OutboxMessage.sent_at >= now - timedelta(minutes=5))
        )
        yield GaugeMetricFamily(
            "alcance_sends_per_second_5m",
            "Messages handed to the provider per second, last 5 minutes",
            value=(recent or 0) / 300,
        )
        errors = CounterMetricFamily(
            "alcance_send_errors",
            "Failed or undelivered messages by Twilio error code",
            labels=["code"],
        )
        for code, count in db.session.execute(
            select(OutboxMessage.error_code, func.count())
            .where(OutboxMessage.error_code.is_not(None))
            .group_by(OutboxMessage.error_code)
        ):
            errors.add_metric([code], count)
        yield errors
        inbound = CounterMetricFamily(
            "alcance_inbound_messages", "Inbound SMS by intent", labels=["intent"]
        )
        for intent, count in db.session.execute(
            select(InboundMessage.intent, func.count()).group_by(InboundMessage.intent)
        ):
            inbound.add_metric([intent], count)
        yield inbound
        failures, oldest = db.session.execute(
            select(
                func.coalesce(func.sum(OutboxMessage.reconcile_failures), 0),
                func.min(OutboxMessage.send_started_at),
            ).where(OutboxMessage.status == "unknown")
        ).one()
        yield GaugeMetricFamily(
            "alcance_outbox_unknown_lookup_failures",
            "Failed provider lookups of the rows "
            "still unknown (a lasting value means the provider's list API does not answer)",
            value=failures,
        )
        yield GaugeMetricFamily(
            "alcance_outbox_unknown_oldest_seconds",
            "Age of the oldest unknown row (it "
            "becomes failed_unknown at OUTREACH_UNKNOWN_ESCALATION_SECONDS)",
            value=(now - oldest).total_seconds() if oldest else 0,
        )
        yield GaugeMetricFamily(
            "alcance_early_status_callbacks",
            "Status callbacks waiting for their SID",
            value=db.session.scalar(select(func.count()).select_from(EarlyStatusCallback)) or 0,
        )


class JobCollector:
    """Background jobs by kind and status, and how long finished ones took (last 24 h)."""

    def collect(self):
        jobs = GaugeMetricFamily(
            "alcance_jobs", "Background jobs by kind and status", labels=["kind", "status"]
        )
        for kind, status, count in db.session.execute(
            select(Job.kind, Job.status, func.count()).group_by(Job.kind, Job.status)
        ):
            jobs.add_metric([kind, status], count)
        yield jobs
        durations: dict[str, list[float]] = {}
        for kind, started, finished in db.session.execute(
            select(Job.kind, Job.started_at, Job.finished_at)
            .where(Job.finished_at >= utcnow() - timedelta(hours=24), Job.started_at.is_not(None))
            .order_by(Job.finished_at.desc())
            .limit(10_000)
        ):
            durations.setdefault(kind, []).append((finished - started).total_seconds())
        summary = SummaryMetricFamily(
            "alcance_job_duration_seconds",
            "Run time of jobs finished in the last 24 hours",
            labels=["kind"],
        )
        for kind, values in sorted(durations.items()):
            summary.add_metric([kind], count_value=len(values), sum_value=sum(values))
        yield summary


class RuntimeCollector:
    """Redis as this process sees it, and its sign-in limit mode. The fallback count is this
    process's own (the one answering the scrape); rejected webhooks are every process's
    while Redis answers, this process's otherwise."""

    def collect(self):
        redis_state = rate_limits.redis_state()
        if redis_state != "not_configured":
            yield GaugeMetricFamily(
                "alcance_redis_up",
                "1 when Redis answers, 0 when not",
                value=int(redis_state == "ok"),
            )
        limits = rate_limits.status()
        shared = limits.shared and redis_state == "ok"
        yield GaugeMetricFamily(
            "alcance_login_limits_shared",
            "1 when sign-in limits are kept in Redis for every "
            "process, 0 when this process counts alone",
            value=int(shared),
        )
        yield CounterMetricFamily(
            "alcance_login_limit_fallbacks",
            "Sign-in limit checks (account, address) this "
            "process made in its own memory because Redis did not answer",
            value=limits.fallbacks,
        )
        rejected = CounterMetricFamily(
            "alcance_webhook_signature_rejections",
            "Twilio webhooks rejected for their "
            "signature, by reason (a wrong PUBLIC_BASE_URL rejects them all)",
            labels=["reason"],
        )
        counts = rejections().counts
        for reason in REASONS:
            rejected.add_metric([reason], counts.get(reason, 0))
        yield rejected


def render_metrics() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(OutreachCollector())
    registry.register(JobCollector())
    registry.register(RuntimeCollector())
    return generate_latest(registry)
