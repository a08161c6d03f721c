"""Preparing a claimed batch for sending: every send-time check, in one short transaction.

For the whole batch at once (a few queries, not a few per message): the campaign must be
active, the contact still eligible, the recipient's local time inside the quiet-hours
window, the frequency caps respected, and the opt-out instruction added to a contact's
first message. The batch's contacts are locked meanwhile (row locks on PostgreSQL, the
write lock on SQLite), so two workers never both send a contact's "first" message or both
squeeze under its cap. Rows that will go out get `prepared_at` before the lock is released
(caps and "first message" count them from then on) and their text is final: a row given
back and prepared again keeps the text it was given the first time, so retries, recovery
and reconciliation (which matches provider messages by exact text) all see one text.
`send_started_at` is set per row right before its own provider call (sending.py).
"""

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import (
    ARRAY,
    Boolean,
    Integer,
    String,
    all_,
    any_,
    bindparam,
    column,
    func,
    select,
    update,
)

from app.auth.models import User
from app.contacts.eligibility import block_reason
from app.contacts.models import Contact
from app.db_dialect import is_postgres, lock_for_write
from app.extensions import db
from app.organizations.models import Organization
from app.outbox import channel_plan, finalizers, guards
from app.outbox.models import (
    ANSWERS,
    CAPPED_PURPOSES,
    OPT_OUT_ANSWERS,
    OutboxMessage,
    counted_as_sent,
)
from app.outbox.text import opt_out_notice
from app.outbox.timing import (
    FrequencyCap,
    is_within,
    next_allowed,
    org_window,
    plan_send,
    rules_for,
)


@dataclass(frozen=True)
class Prepared:
    id: int
    to: str
    body: str
    purpose: str
    organization_id: int
    contact_id: int
    campaign_id: int | None
    workshop_id: int | None
    worker_id: str
    lease_expires_at: datetime
    sender: str | None = None  # the organization's own number or Messaging Service, if any
    channel: str = "sms"  # "whatsapp": `content_sid` (a template) or free-form `body`
    content_sid: str | None = None
    content_variables: str | None = None  # JSON object string


def _among(column, values: list, *, negate: bool = False):
    """`column IN (values)` (NOT IN with `negate`); on PostgreSQL `= ANY(:array)`, one
    parameter: an IN list of a batch's 640 ids is 640 parameters in a statement text that
    psycopg and PostgreSQL parse again every time (issue 15)."""
    if not is_postgres():
        return column.not_in(values) if negate else column.in_(values)
    array = bindparam(None, list(values), type_=ARRAY(column.type))
    return column != all_(array) if negate else column == any_(array)


def _lock_contacts(contact_ids: list[int]) -> None:
    lock_for_write(select(Contact.id).where(_among(Contact.id, contact_ids)).order_by(Contact.id))


def _history(contact_ids: list[int], since: datetime, batch: list[int]) -> tuple[dict, set]:
    """Per contact: recent campaign send moments, and whether anything was ever sent (not
    counting the batch's own rows, which may carry an earlier preparation)."""
    recent, ever = defaultdict(list), set()
    rows = db.session.execute(
        select(
            OutboxMessage.contact_id,
            func.coalesce(OutboxMessage.send_started_at, OutboxMessage.prepared_at),
        ).where(
            _among(OutboxMessage.contact_id, contact_ids),
            OutboxMessage.purpose.not_in(ANSWERS),
            _among(OutboxMessage.id, batch, negate=True),
            counted_as_sent(),
        )
    )
    for contact_id, started in rows:
        ever.add(contact_id)
        if started > since:
            recent[contact_id].append(started)
    return recent, ever


def _answer_blocked(row, contact, now):
    """An answer goes when the feature queued it (a reply's time was chosen then); only an
    unreachable phone stops it, an opt-out a reply (OPT_OUT_ANSWERS), and its `expires_at`
    one queued for later."""
    if contact.erased_at is not None or contact.undeliverable or not contact.phone:
        return "skipped", None, "unreachable"
    if row.purpose in OPT_OUT_ANSWERS and contact.opted_out_at is not None:
        return "skipped", None, "opted_out"
    if row.expires_at is not None and now >= row.expires_at:
        return "skipped", None, "expired"
    return None


def _decide(row, contact, org, first, later, recent, now):
    """(status, due_at, reason) when the row must not go now, else None. `first` and `later`
    are the features' verdicts on the row (guards.py), if any."""
    if first is not None:
        return first.status, None, first.reason
    if row.purpose in ANSWERS:
        return _answer_blocked(row, contact, now)
    if row.expires_at is not None and now >= row.expires_at:
        return "skipped", None, "expired"
    if later is not None:
        return later.status, None, later.reason
    reason = block_reason(contact, today=now.date())
    if reason:
        return "skipped", None, reason
    rules = rules_for(contact.country, contact.state_code, org_window(org))
    if not is_within(now, contact.timezone, rules.window):
        return "scheduled", next_allowed(now, contact.timezone, rules.window), None
    cap = FrequencyCap(org.cap_messages, org.cap_days) if row.purpose in CAPPED_PURPOSES else None
    planned = plan_send(now, contact.timezone, rules, recent, cap)
    if planned is None:
        return "skipped", None, "frequency_cap"
    if row.expires_at is not None and planned >= row.expires_at:
        return "skipped", None, "expired"
    if planned > now:
        return "scheduled", planned, None
    return None


def _staff_alerts(rows, worker_id: str, now: datetime) -> list[Prepared]:
    """Alerts to staff phones (no contact): only a staff member without an active account
    or a phone stops one."""
    if not rows:
        return []
    phones = dict(
        db.session.execute(
            select(User.id, User.staff_phone).where(
                User.id.in_({r.user_id for r in rows}), User.active.is_(True)
            )
        ).all()
    )
    senders = dict(
        db.session.execute(
            select(Organization.id, Organization.sms_sender).where(
                Organization.id.in_({r.organization_id for r in rows})
            )
        ).all()
    )
    ready = []
    for row in rows:
        if not phones.get(row.user_id):
            row.status, row.skip_reason, row.final_at = "skipped", "unreachable", now
            row.claimed_by = row.lease_expires_at = None
            continue
        row.prepared_at = now
        ready.append(
            Prepared(
                row.id,
                phones[row.user_id],
                row.body,
                row.purpose,
                row.organization_id,
                None,
                None,
                None,
                worker_id,
                row.lease_expires_at,
                senders.get(row.organization_id),
            )
        )
    return ready


def prepare_batch(ids: list[int], *, worker_id: str, now: datetime) -> list[Prepared]:
    """Apply every send-time rule to a claimed batch; return the rows to send now."""
    if not ids:
        return []
    # Plain rows, not ORM objects (issue 15: loading ~640 rows and their contacts as ORM
    # objects was most of the worker's preparing time); the guards read them the same way.
    claimed = (
        _among(OutboxMessage.id, ids),
        OutboxMessage.status == "claimed",
        OutboxMessage.claimed_by == worker_id,
    )
    order = (OutboxMessage.due_at, OutboxMessage.id)
    rows = db.session.execute(select(_OUTBOX).where(*claimed).order_by(*order)).all()
    staff = [r.id for r in rows if r.contact_id is None]  # rare: through the ORM
    ready = _staff_alerts(
        db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.id.in_(staff)).order_by(*order)
        ).all()
        if staff
        else [],
        worker_id,
        now,
    )
    rows = [r for r in rows if r.contact_id is not None]
    contact_ids = sorted({r.contact_id for r in rows})
    if not contact_ids:
        db.session.commit()
        return ready
    _lock_contacts(contact_ids)
    contacts = {
        c.id: c
        for c in db.session.execute(
            select(Contact.__table__).where(_among(Contact.id, contact_ids))
        ).all()
    }
    orgs = {
        o.id: o
        for o in db.session.scalars(
            select(Organization).where(Organization.id.in_({r.organization_id for r in rows}))
        )
    }
    first, later = guards.verdicts(rows, first=True), guards.verdicts(rows, first=False)
    longest = max(max(o.cap_days, 1) for o in orgs.values())
    recent, ever = _history(contact_ids, now - timedelta(days=longest), [r.id for r in rows])

    templates = _templates(rows, contacts, now)
    notices, marks, held, fresh = {}, [], [], []
    for row in rows:
        contact, org = contacts[row.contact_id], orgs[row.organization_id]
        decision = _decide(
            row,
            contact,
            org,
            first.get(row.id),
            later.get(row.id),
            recent[contact.id],
            now,
        )
        if decision:
            status, due_at, reason = decision
            final_at = now if status in ("skipped", "canceled") else None
            held.append(
                dict(
                    p_id=row.id,
                    p_status=status,
                    p_due=due_at or row.due_at,
                    p_reason=reason,
                    p_final=final_at,
                )
            )
            continue
        if _needs_plan(row):
            way = channel_plan.plan(row, contact, org, now, templates.get(row.id))
            if way.held_reason:
                held.append(
                    dict(p_id=row.id, p_status="held", p_due=row.due_at, p_reason=way.held_reason)
                )
                held[-1]["p_final"] = None
                continue
            channel, form = way.channel, way.form
            content_sid, content_variables = way.content_sid, way.content_variables
        else:  # prepared before: it keeps what it was given
            channel, form = row.channel or "sms", row.whatsapp_form
            content_sid, content_variables = row.content_sid, row.content_variables
        body, notice = row.body, row.with_opt_out_notice
        if row.purpose not in ANSWERS:
            final_text = row.prepared_at is not None  # prepared before: its text is fixed
            if not final_text and (org.opt_out_notice == "always" or contact.id not in ever):
                if row.language not in notices:
                    notices[row.language] = opt_out_notice(row.language)
                body, notice = f"{row.body}\n{notices[row.language]}", True
            ever.add(contact.id)
            recent[contact.id].append(now)
        marks.append(
            dict(
                p_id=row.id,
                p_body=body,
                p_notice=notice,
                p_channel=channel,
                p_form=form,
                p_content_sid=content_sid,
                p_content_variables=content_variables,
            )
        )
        if row.prepared_at is None:  # its first preparation: features finalize the text
            fresh.append((row, marks[-1]))
        ready.append(
            Prepared(
                row.id,
                contact.phone,
                body,
                row.purpose,
                row.organization_id,
                row.contact_id,
                row.campaign_id,
                row.workshop_id,
                worker_id,
                row.lease_expires_at,
                (org.whatsapp_sender if channel == "whatsapp" else org.sms_sender),
                channel,
                content_sid,
                content_variables,
            )
        )
    ready = _finalize_texts(fresh, ready, now)
    _hold_back(held)
    _mark_prepared(marks, now)
    db.session.commit()  # releases the contact locks
    return ready


_OUTBOX = OutboxMessage.__table__


def _needs_plan(row) -> bool:
    """Its first preparation, or a replacement of a failed WhatsApp row (channel_plan.py)."""
    return row.prepared_at is None or row.fallback_of_id is not None


def _templates(rows, contacts: dict, now: datetime) -> dict:
    """{row id: TemplateChoice} for the WhatsApp rows outside the window (one lookup)."""
    asking = []
    for row in rows:
        contact = contacts[row.contact_id]
        if (
            _needs_plan(row)
            and channel_plan.wanted_channel(row, contact) == "whatsapp"
            and channel_plan.needs_template(row, contact, now)
        ):
            asking.append(
                channel_plan.TemplateRequest(
                    row.id,
                    row.organization_id,
                    row.contact_id,
                    row.campaign_id,
                    row.message_id,
                    row.workshop_id,
                    row.language,
                    row.purpose,
                )
            )
    return channel_plan.pick_templates(asking, now)


def _finalize_texts(fresh: list, ready: list[Prepared], now: datetime) -> list[Prepared]:
    """The registered finalizers' texts (finalizers.py: e.g. each recipient's own short
    links) for rows prepared for the first time, in their marks and in `ready`."""
    if not fresh or not finalizers.active():
        return ready
    drafts = [
        finalizers.Draft(
            row.id,
            row.organization_id,
            row.contact_id,
            row.campaign_id,
            row.message_id,
            row.language,
            row.purpose,
            mark["p_body"],
        )
        for row, mark in fresh
    ]
    texts = finalizers.finalize(drafts, now=now)
    if not texts:
        return ready
    for row, mark in fresh:
        mark["p_body"] = texts.get(row.id, mark["p_body"])
    return [replace(p, body=texts[p.id]) if p.id in texts else p for p in ready]


def _hold_back(held: list[dict]) -> None:
    """The rows that must not go now: their new status, due time and reason (one statement
    per row, as the ORM flushed them), no longer claimed."""
    if not held:
        return
    moment = _OUTBOX.c.due_at.type
    db.session.execute(
        update(_OUTBOX)
        .where(_OUTBOX.c.id == bindparam("p_id"))
        .values(
            status=bindparam("p_status"),
            due_at=bindparam("p_due", type_=moment),
            skip_reason=bindparam("p_reason"),
            final_at=bindparam("p_final", type_=moment),
            claimed_by=None,
            lease_expires_at=None,
        ),
        held,
    )


def unnested(*columns):
    """FROM rows given as one array per column: `unnest(:p_ids, ...) AS v(id, ...)` for
    columns (name, type), bound as p_<name>s. One statement text whatever the number of
    rows (PostgreSQL prepares it once) and one statement-level status trigger run."""
    arrays = [bindparam(f"p_{name}s", type_=ARRAY(kind)) for name, kind in columns]
    rows = func.unnest(*arrays).table_valued(*(column(name, kind) for name, kind in columns))
    return rows.render_derived("v")


def _mark_prepared(marks: list[dict], now: datetime) -> None:
    """The ready rows' final text and `prepared_at`, in one statement on PostgreSQL (an ORM
    flush ran one UPDATE, and one status trigger, per row: ~0.4 ms of the database's CPU
    per message at 64 threads)."""
    if not marks:
        return
    table = OutboxMessage.__table__
    if not is_postgres():
        db.session.execute(
            update(table)
            .where(table.c.id == bindparam("p_id"))
            .values(
                prepared_at=now,
                body=bindparam("p_body"),
                with_opt_out_notice=bindparam("p_notice"),
                channel=bindparam("p_channel"),
                whatsapp_form=bindparam("p_form"),
                content_sid=bindparam("p_content_sid"),
                content_variables=bindparam("p_content_variables"),
            ),
            marks,
        )
        return
    rows = unnested(
        ("id", Integer),
        ("body", table.c.body.type),
        ("notice", Boolean),
        ("channel", String),
        ("form", String),
        ("content_sid", String),
        ("content_variable", table.c.content_variables.type),
    )
    db.session.execute(
        update(table)
        .where(table.c.id == rows.c.id)
        .values(
            prepared_at=now,
            body=rows.c.body,
            with_opt_out_notice=rows.c.notice,
            channel=rows.c.channel,
            whatsapp_form=rows.c.form,
            content_sid=rows.c.content_sid,
            content_variables=rows.c.content_variable,
        ),
        dict(
            p_ids=[m["p_id"] for m in marks],
            p_bodys=[m["p_body"] for m in marks],
            p_notices=[m["p_notice"] for m in marks],
            p_channels=[m["p_channel"] for m in marks],
            p_forms=[m["p_form"] for m in marks],
            p_content_sids=[m["p_content_sid"] for m in marks],
            p_content_variables=[m["p_content_variables"] for m in marks],
        ),
    )
