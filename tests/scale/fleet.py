"""Plumbing for the scale tests: a scratch PostgreSQL database, a seeded outbox, and a fleet
of real `flask --app wsgi outreach worker --once` processes that can be SIGKILLed.

Nothing here times anything for its own sake: deadlines only bound how long a test may
wait before it fails, and every wait polls for the condition it needs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from datetime import UTC, datetime
from datetime import time as wall_time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
UNRESOLVED = ("scheduled", "held", "claimed", "unknown")
WORKER_SECRET = "scale-test-secret-" + "0123456789abcdef" * 3  # 66 characters
BANNER = "outreach worker "


@contextmanager
def scratch_database(server_url: str, prefix: str = "alcance_scale"):
    """A fresh, empty database on `server_url`'s server; dropped (forcibly) afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def midday_zone(now: datetime | None = None) -> str:
    """A fixed-offset IANA zone where it is about 14:00 now, so a test on the real clock is
    hours inside every country's sending window (MX 09:00-21:00, US 08:00-21:00)."""
    now = now or datetime.now(UTC)
    offset = (14 - now.hour + 12) % 24 - 12  # -12 .. +11 hours from UTC
    # Etc/GMT signs are POSIX-inverted: "Etc/GMT-5" is UTC+5.
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/UTC"


def create_schema_and_seed(
    url: str, n: int, *, body: str = "Hola, infórmate sobre el fentanilo."
) -> list[str]:
    """create_all on `url`, then one organization whose window is the whole day, one active
    campaign, `n` eligible adult contacts and one due outbox row each. Returns the phones."""
    from sqlalchemy import insert, select

    from app import create_app
    from app.campaigns.models import Campaign
    from app.contacts.models import Contact
    from app.extensions import db
    from app.organizations.services import create_organization
    from app.outbox.models import OutboxMessage
    from config import TestingConfig

    class ScaleConfig(TestingConfig):
        SQLALCHEMY_DATABASE_URI = url
        REDIS_URL = ""

    app = create_app(ScaleConfig)
    consent = datetime(2026, 1, 15, 12, tzinfo=UTC)
    phones = [f"+52664{i:07d}" for i in range(n)]
    with app.app_context():
        db.create_all()
        org = create_organization(
            slug="scale", name="Escala", country="MX", timezone="America/Tijuana"
        )
        # Whatever the wall clock says while the test runs must be inside quiet hours: the
        # organization allows the whole day and the contacts live where it is midday now
        # (Mexican numbers get nothing outside 09:00-21:00 local, whatever the organization).
        org.quiet_start, org.quiet_end = wall_time(0, 0), wall_time(23, 59, 59)
        campaign = Campaign(
            organization_id=org.id,
            name="Escala",
            topic="fentanyl",
            strategy="information_dissemination",
            level="universal",
            status="active",
            default_language="es",
        )
        db.session.add(campaign)
        db.session.commit()
        for start in range(0, n, 5000):
            db.session.execute(
                insert(Contact),
                [
                    dict(
                        organization_id=org.id,
                        phone=phone,
                        first_name="Joven",
                        language="es",
                        birth_year=2000,
                        country="MX",
                        state_code="02",
                        municipality="Tijuana",
                        timezone=midday_zone(),
                        consent_source="workshop",
                        consent_at=consent,
                        guardian_consent=False,
                        undeliverable=False,
                        created_at=consent,
                        updated_at=consent,
                    )
                    for phone in phones[start : start + 5000]
                ],
            )
        ids = db.session.scalars(select(Contact.id).order_by(Contact.id)).all()
        due = datetime.now(UTC)
        for start in range(0, n, 5000):
            db.session.execute(
                insert(OutboxMessage),
                [
                    dict(
                        organization_id=org.id,
                        campaign_id=campaign.id,
                        contact_id=cid,
                        language="es",
                        body=body,
                        due_at=due,
                        status="scheduled",
                        purpose="campaign",
                    )
                    for cid in ids[start : start + 5000]
                ],
            )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return phones


class Outbox:
    """Read-only look at the scratch database from the test process."""

    def __init__(self, url: str):
        self.engine = create_engine(url, pool_size=1, max_overflow=0)

    def close(self) -> None:
        self.engine.dispose()

    def statuses(self) -> Counter:
        with self.engine.connect() as conn:
            return Counter(
                dict(
                    conn.execute(
                        text("SELECT status, count(*) FROM outbox_messages GROUP BY status")
                    ).all()
                )
            )

    def started(self, send_id: int) -> int:
        """How many of a send's rows have gone to the provider (or are on their way)."""
        with self.engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT count(*) FROM outbox_messages "
                    "WHERE send_id = :send AND send_started_at IS NOT NULL"
                ),
                {"send": send_id},
            ).scalar_one()

    def unresolved(self) -> int:
        counts = self.statuses()
        return sum(counts[s] for s in UNRESOLVED)

    def next_due_in(self) -> float:
        """Seconds until the earliest scheduled row is due (0 when one is due now or none).

        Measured against this process's clock, which the workers share (not the database
        server's: a test run under a shifted clock must not wait for the real calendar)."""
        with self.engine.connect() as conn:
            earliest = conn.execute(
                text("SELECT min(due_at) FROM outbox_messages WHERE status = 'scheduled'")
            ).scalar()
        if earliest is None:
            return 0.0
        return max(0.0, (earliest - datetime.now(UTC)).total_seconds())

    def rows(self) -> list[tuple]:
        """(phone, status, twilio_sid) for every outbox row."""
        with self.engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT c.phone, o.status, o.twilio_sid FROM outbox_messages o "
                    "JOIN contacts c ON c.id = o.contact_id ORDER BY o.id"
                )
            ).all()


def worker_env(database_url: str, fake, **settings) -> dict[str, str]:
    """Environment of a worker process: development config, the real TwilioGateway pointed
    at the fake, a production-length secret. Test-suite variables are not inherited."""
    from tests.fake_twilio import MESSAGING_SERVICE_SID

    dropped = (
        "TEST_",
        "TWILIO_",
        "OUTREACH_",
        "REDIS_",
        "DATABASE_",
        "SMS_",
        "GUNICORN_",
        "PUBLIC_BASE_URL",
        "LOG_JSON",
        "APP_CONFIG",
        "SECRET_KEY",
        "FLASK_",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env.update(
        {
            "APP_CONFIG": "development",
            "DATABASE_URL": database_url,
            "SECRET_KEY": WORKER_SECRET,
            "SMS_BACKEND": "twilio",
            "TWILIO_ACCOUNT_SID": fake.account_sid,
            "TWILIO_AUTH_TOKEN": fake.auth_token,
            "TWILIO_MESSAGING_SERVICE_SID": MESSAGING_SERVICE_SID,
            "TWILIO_API_BASE_URL": fake.base_url,
            "TWILIO_MAX_MPS": "100000",
            "REDIS_URL": "",
            "PUBLIC_BASE_URL": "https://alcance.example.org",
            "ALCANCE_LANG": "en",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update({k: str(v) for k, v in settings.items()})
    return env


class WorkerProcess:
    def __init__(self, args: list[str], env: dict, log_path: Path):
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115  (open while the worker runs; close())
        try:
            self.proc = subprocess.Popen(
                args,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
            )
        except BaseException:
            self._log.close()
            raise
        self.killed = False

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def started(self) -> bool:
        """The worker printed its banner: the app is built and it is about to work."""
        try:
            return BANNER in self.log_path.read_text(errors="replace")
        except OSError:
            return False

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.killed = True
        self.proc.wait()

    def close(self) -> None:
        self.kill()
        self._log.close()

    def tail(self, chars: int = 1500) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


class Fleet:
    """Starts worker processes and guarantees every one is killed and reaped."""

    def __init__(self, env: dict, log_dir: Path, *, concurrency: int, batch: int):
        self.env, self.log_dir = env, log_dir
        self.args = [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "wsgi",
            "outreach",
            "worker",
            "--once",
            "--concurrency",
            str(concurrency),
            "--batch",
            str(batch),
        ]
        self.workers: list[WorkerProcess] = []

    def start(self, n: int) -> list[WorkerProcess]:
        started = []
        for _ in range(n):
            path = self.log_dir / f"worker-{len(self.workers):03d}.log"
            worker = WorkerProcess(self.args, self.env, path)
            self.workers.append(worker)
            started.append(worker)
        return started

    @property
    def alive(self) -> list[WorkerProcess]:
        return [w for w in self.workers if w.alive]

    def wait_started(self, workers: list[WorkerProcess], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(w.started() or not w.alive for w in workers):
                return
            time.sleep(0.02)
        raise AssertionError("workers did not start in time:\n" + workers[0].tail())

    def wait_exit(self, workers: list[WorkerProcess], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for worker in workers:
            try:
                worker.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                raise AssertionError(
                    f"worker still running after {timeout:.0f} s:\n" + worker.tail()
                ) from None

    def check_clean_exits(self) -> None:
        """Workers that were not SIGKILLed must have exited 0."""
        for worker in self.workers:
            if not worker.killed and worker.proc.returncode not in (0, None):
                raise AssertionError(f"worker exited {worker.proc.returncode}:\n" + worker.tail())

    def close(self) -> None:
        for worker in self.workers:
            worker.close()


def drain(fleet: Fleet, outbox: Outbox, *, workers: int, timeout: float) -> int:
    """Run waves of `--once` workers until no row is scheduled, held, claimed or unknown.

    Between waves it waits for the earliest retry to come due; expired leases and unknown
    outcomes are dealt with by each worker's maintenance step. Returns the number of waves.
    """
    deadline = time.monotonic() + timeout
    waves = 0
    while outbox.unresolved():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"rows still unresolved after {timeout:.0f} s: {dict(outbox.statuses())}"
            )
        time.sleep(min(outbox.next_due_in(), 2.0) + 0.2)
        wave = fleet.start(workers)
        fleet.wait_exit(wave, timeout=max(1.0, deadline - time.monotonic()))
        waves += 1
    return waves


def _scratch_app(url: str):
    from app import create_app
    from config import TestingConfig

    class ScaleConfig(TestingConfig):
        SQLALCHEMY_DATABASE_URI = url
        REDIS_URL = ""

    return create_app(ScaleConfig)


def seed_two_sends(url: str, n: int, texts: tuple[str, str]) -> tuple[list[str], int, int]:
    """Like `create_schema_and_seed`, then two sends (A and B) of the same campaign to the
    same `n` contacts, both due now: two messages per contact in the same minute, each
    with its own text ("{text} {n}" so every (To, text) pair is unique).
    Returns the phones and the two send ids."""
    from sqlalchemy import insert, select

    from app.campaigns.models import Campaign, CampaignMessage
    from app.contacts.models import Contact
    from app.extensions import db
    from app.outbox.models import OutboxMessage
    from app.outreach.models import OutreachSend

    create_schema_and_seed(url, 0)  # schema, organization, campaign
    phones = [f"+52664{i:07d}" for i in range(n)]
    app = _scratch_app(url)
    consent = datetime(2026, 1, 15, 12, tzinfo=UTC)
    now = datetime.now(UTC)
    with app.app_context():
        campaign = db.session.scalar(select(Campaign))
        org_id = campaign.organization_id
        db.session.execute(
            insert(Contact),
            [
                dict(
                    organization_id=org_id,
                    phone=phone,
                    first_name="Joven",
                    language="es",
                    birth_year=2000,
                    country="MX",
                    state_code="02",
                    municipality="Tijuana",
                    timezone=midday_zone(),
                    consent_source="workshop",
                    consent_at=consent,
                    guardian_consent=False,
                    undeliverable=False,
                    created_at=consent,
                    updated_at=consent,
                )
                for phone in phones
            ],
        )
        ids = db.session.scalars(select(Contact.id).order_by(Contact.id)).all()
        sends = []
        for label, text_ in zip("AB", texts, strict=True):
            message = CampaignMessage(
                organization_id=org_id,
                campaign_id=campaign.id,
                label=label,
                body_es=text_,
                body_en=text_,
            )
            db.session.add(message)
            db.session.flush()
            send = OutreachSend(
                organization_id=org_id,
                campaign_id=campaign.id,
                message_id=message.id,
                kind="once",
                fixed_at=now,
                fanned_out_at=now,
            )
            db.session.add(send)
            db.session.flush()
            sends.append((send, message, text_))
        # Interleaved (A then B for each contact), so a batch holds both of a contact's rows.
        db.session.execute(
            insert(OutboxMessage),
            [
                dict(
                    organization_id=org_id,
                    campaign_id=campaign.id,
                    send_id=send.id,
                    message_id=message.id,
                    contact_id=cid,
                    language="es",
                    body=f"{text_} {i}",
                    due_at=now,
                    status="scheduled",
                    purpose="campaign",
                )
                for i, cid in enumerate(ids)
                for send, message, text_ in sends
            ],
        )
        send_ids = [send.id for send, _, _ in sends]
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return phones, send_ids[0], send_ids[1]


def cancel_send_now(url: str, send_id: int) -> tuple[datetime, set[int]]:
    """Cancel a send as the coordinator's button does. Returns the moment and the ids of the
    send's rows that were already with the provider (started) when the cancel committed:
    once it has committed no other row of the send can start (sending.start_row)."""
    from sqlalchemy import select

    from app.extensions import db
    from app.outbox.models import OutboxMessage
    from app.outreach.models import OutreachSend
    from app.outreach.services import cancel_send

    app = _scratch_app(url)
    with app.app_context():
        moment = datetime.now(UTC)
        cancel_send(db.session.get(OutreachSend, send_id), now=moment)
        started = set(
            db.session.scalars(
                select(OutboxMessage.id).where(
                    OutboxMessage.send_id == send_id, OutboxMessage.send_started_at.is_not(None)
                )
            )
        )
        db.session.remove()
        db.engine.dispose()
    return moment, started
