"""Attendance at workshops: the door roster (check-in, undo) and the records every way of
attending shares. Walk-ins, sign-in sheets, completion and the funnel have their own
modules (walk_ins.py, sign_in_sheet.py, completion.py, funnel.py).

Vocabulary and invariants:

- *Registered* means the young person asked for a seat: a registration "confirmed" or
  "waitlisted". A *walk-in* attends without being registered: no registration at all, or
  one that is only "invited", "declined" or "canceled". Their registration gets
  `walk_in=True`; a new one is created "confirmed" (they hold a seat now) with no
  `invited_at`. The RSVP status of an existing registration is never rewritten, so the
  funnel still shows what the person answered.
- Participation events mirror the registration. "attended" (and "walk_in", for walk-ins)
  exist exactly while `attended_at` is set; "no_show" exactly while `no_show` is set.
- Undoing a check-in corrects a mis-tap at the door: nothing happened that reports should
  see. So the undo *deletes* the events its check-in recorded instead of appending a
  compensating one, and every report can count events of a kind as they are, without
  netting out corrections. (A late check-in after completion likewise deletes the
  "no_show" it contradicts.)
- Check-ins are conditional UPDATEs (`attended_at IS NULL`): a double tap, two
  coordinators at two doors, or a sign-in sheet uploaded twice record one attendance.

Every public service is one unit of work: it commits once, or raises a DomainError
(with a translatable message) having changed nothing.
"""

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from app.contacts.models import Contact
from app.contacts.services import (
    fold_sql,
    full_name,
    full_name_sql,
)
from app.contacts.validation import fold
from app.errors import DomainError
from app.extensions import db
from app.organizations.events import emit_all
from app.organizations.models import Organization
from app.participation.models import ParticipationEvent
from app.participation.services import record_event
from app.workshops.events import registration_changed, registration_event
from app.workshops.models import Workshop, WorkshopRegistration

REGISTERED = ("confirmed", "waitlisted")


ROSTER_STATUSES = ("confirmed", "waitlisted", "invited")


class AttendanceError(DomainError):
    pass


CONCURRENT_REGISTRATION = _l(
    "Someone registered this person at the same moment. Check the roster and try again."
)


def organization_of(workshop: Workshop) -> Organization:
    return db.session.get(Organization, workshop.organization_id)


def ensure_not_canceled(workshop: Workshop) -> None:
    if workshop.status == "canceled":
        raise AttendanceError(_l("This workshop was canceled: attendance cannot be recorded."))


def add_event(workshop: Workshop, contact_id: int, kind: str, now: datetime) -> None:
    record_event(
        organization_id=workshop.organization_id,
        contact_id=contact_id,
        kind=kind,
        channel="workshop",
        occurred_at=now,
        campaign_id=workshop.campaign_id,
        workshop_id=workshop.id,
    )


def delete_events(workshop: Workshop, contact_id: int, kinds: tuple[str, ...]) -> None:
    db.session.execute(
        delete(ParticipationEvent)
        .where(
            ParticipationEvent.organization_id == workshop.organization_id,
            ParticipationEvent.workshop_id == workshop.id,
            ParticipationEvent.contact_id == contact_id,
            ParticipationEvent.kind.in_(kinds),
        )
        .execution_options(synchronize_session=False)
    )


def commit_or_conflict() -> None:
    try:
        db.session.commit()
    except IntegrityError:  # a concurrent walk-in of the same person (same phone)
        db.session.rollback()
        raise AttendanceError(CONCURRENT_REGISTRATION) from None


def mark_attended(
    workshop: Workshop,
    registration: WorkshopRegistration,
    *,
    user_id: int | None,
    now: datetime,
    walk_in: bool,
) -> bool:
    """Check in an existing registration unless it already is; record the events.

    Returns whether this call checked the person in.
    """
    values = {"attended_at": now, "checked_in_by": user_id, "no_show": False}
    if walk_in:
        values["walk_in"] = True
    is_walk_in = walk_in or registration.walk_in
    claimed = db.session.execute(
        update(WorkshopRegistration)
        .where(
            WorkshopRegistration.id == registration.id, WorkshopRegistration.attended_at.is_(None)
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        return False
    delete_events(workshop, registration.contact_id, ("no_show",))  # a late check-in
    add_event(workshop, registration.contact_id, "attended", now)
    if is_walk_in:
        add_event(workshop, registration.contact_id, "walk_in", now)
    return True


def mark_attended_many(
    workshop: Workshop,
    registrations: list[WorkshopRegistration],
    *,
    user_id: int | None,
    now: datetime,
) -> set[int]:
    """`mark_attended` for many registrations at once. Returns the ids it checked in."""
    claimed: set[int] = set()
    groups = {True: [], False: []}  # newly a walk-in (invited or declined, came anyway)?
    for registration in registrations:
        groups[registration.status not in REGISTERED].append(registration.id)
    for walk_in, ids in groups.items():
        for chunk in (ids[i : i + 1000] for i in range(0, len(ids), 1000)):
            values = {"attended_at": now, "checked_in_by": user_id, "no_show": False}
            if walk_in:
                values["walk_in"] = True
            claimed.update(
                db.session.scalars(
                    update(WorkshopRegistration)
                    .where(
                        WorkshopRegistration.id.in_(chunk),
                        WorkshopRegistration.attended_at.is_(None),
                    )
                    .values(**values)
                    .returning(WorkshopRegistration.id)
                    .execution_options(synchronize_session=False)
                )
            )
    done = [r for r in registrations if r.id in claimed]
    contact_ids = [r.contact_id for r in done]
    for chunk in (contact_ids[i : i + 1000] for i in range(0, len(contact_ids), 1000)):
        db.session.execute(
            delete(ParticipationEvent)
            .where(  # late check-ins: no no-show
                ParticipationEvent.organization_id == workshop.organization_id,
                ParticipationEvent.workshop_id == workshop.id,
                ParticipationEvent.contact_id.in_(chunk),
                ParticipationEvent.kind == "no_show",
            )
            .execution_options(synchronize_session=False)
        )
    insert_events(
        workshop,
        now,
        [(r.contact_id, "attended") for r in done]
        + [(r.contact_id, "walk_in") for r in done if r.walk_in or r.status not in REGISTERED],
    )
    return claimed


def add_walk_ins(
    workshop: Workshop, contact_ids: list[int], *, user_id: int | None, now: datetime
) -> None:
    """`add_walk_in` for many contacts at once (plain multi-row INSERTs)."""
    if not contact_ids:
        return
    db.session.execute(
        insert(WorkshopRegistration),
        [
            dict(
                organization_id=workshop.organization_id,
                workshop_id=workshop.id,
                contact_id=c,
                status="confirmed",
                responded_at=now,
                walk_in=True,
                no_show=False,
                attended_at=now,
                checked_in_by=user_id,
                created_at=now,
            )
            for c in contact_ids
        ],
    )
    insert_events(
        workshop, now, [(c, kind) for c in contact_ids for kind in ("attended", "walk_in")]
    )
    emit_all(
        [
            registration_event(workshop, c, "confirmed", now=now, cause="walk_in")
            for c in contact_ids
        ]
    )


def insert_events(workshop: Workshop, now: datetime, events: list[tuple[int, str]]) -> None:
    if events:
        db.session.execute(
            insert(ParticipationEvent),
            [
                dict(
                    organization_id=workshop.organization_id,
                    contact_id=contact_id,
                    kind=kind,
                    channel="workshop",
                    occurred_at=now,
                    campaign_id=workshop.campaign_id,
                    workshop_id=workshop.id,
                )
                for contact_id, kind in events
            ],
        )


def add_walk_in(
    workshop: Workshop, contact_id: int, *, user_id: int | None, now: datetime
) -> WorkshopRegistration:
    registration = WorkshopRegistration(
        organization_id=workshop.organization_id,
        workshop_id=workshop.id,
        contact_id=contact_id,
        status="confirmed",
        responded_at=now,
        walk_in=True,
        no_show=False,
        attended_at=now,
        checked_in_by=user_id,
        created_at=now,
    )
    db.session.add(registration)
    add_event(workshop, contact_id, "attended", now)
    add_event(workshop, contact_id, "walk_in", now)
    registration_changed(
        workshop, contact_id, "confirmed", now=now, registration=registration, cause="walk_in"
    )
    return registration


def attendance_status(attended_at: datetime | None, no_show: bool) -> str | None:
    """What every list shows of a registration's attendance (one rule for the door roster
    and the workshop's registrations): "attended" once checked in, whichever way (at the
    door, as a walk-in, from a sign-in sheet); "no_show" when the workshop was completed
    without them; None while nothing is known yet."""
    if attended_at is not None:
        return "attended"
    if no_show:
        return "no_show"
    return None


@dataclass(frozen=True)
class RosterEntry:
    registration_id: int
    contact_id: int
    name: str | None
    phone: str | None
    status: str
    walk_in: bool
    no_show: bool
    attended_at: datetime | None

    @property
    def attendance(self) -> str | None:
        return attendance_status(self.attended_at, self.no_show)

    @property
    def attended(self) -> bool:
        return self.attendance == "attended"

    @property
    def search_name(self) -> str:
        """What the client-side filter matches (same folding as the server's search)."""
        return fold(self.name)

    @property
    def phone_digits(self) -> str:
        return "".join(c for c in self.phone or "" if c.isdigit())

    @property
    def phone_end(self) -> str:
        """The last four digits: enough to tell two people apart at the door."""
        return self.phone_digits[-4:]


def _entry(registration: WorkshopRegistration, contact: Contact) -> RosterEntry:
    return RosterEntry(
        registration_id=registration.id,
        contact_id=contact.id,
        name=full_name(contact),
        phone=contact.phone,
        status=registration.status,
        walk_in=registration.walk_in,
        no_show=registration.no_show,
        attended_at=registration.attended_at,
    )


def roster(workshop: Workshop, *, q: str | None = None) -> list[RosterEntry]:
    """Who may come through the door: confirmed, waitlisted and invited registrations,
    plus anyone already checked in or registered as a walk-in, sorted by name.

    `q` filters by name (first and last; case- and accent-insensitive "contains") or, when it is
    made of digits and phone punctuation, by phone digits. Erased contacts are left out.
    """
    reg = WorkshopRegistration
    stmt = (
        select(reg, Contact)
        .join(Contact, Contact.id == reg.contact_id)
        .where(
            reg.workshop_id == workshop.id,
            reg.organization_id == workshop.organization_id,
            Contact.erased_at.is_(None),
            or_(
                reg.status.in_(ROSTER_STATUSES), reg.walk_in.is_(True), reg.attended_at.is_not(None)
            ),
        )
    )
    q = (q or "").strip()
    if q:
        digits = "".join(c for c in q if c.isdigit())
        if digits and all(c.isdigit() or c in "+-() ." for c in q):
            stmt = stmt.where(Contact.phone.contains(digits))
        else:
            stmt = stmt.where(fold_sql(full_name_sql()).contains(fold(q), autoescape=True))
    entries = [_entry(r, c) for r, c in db.session.execute(stmt)]
    return sorted(entries, key=lambda e: (e.search_name == "", e.search_name, e.registration_id))


def roster_entry(registration: WorkshopRegistration) -> RosterEntry:
    return _entry(registration, registration.contact)


def check_in(registration: WorkshopRegistration, *, user_id: int | None, now: datetime) -> bool:
    """Mark the person attended (idempotent) and record participation "attended".

    An invited (or declined) person who comes anyway is a walk-in: the registration is
    flagged and "walk_in" recorded too. A check-in after the workshop was completed
    clears its no-show.

    Returns:
        True when this call checked the person in, False when they already were.
    Raises:
        AttendanceError: the workshop was canceled or the contact erased.
    """
    workshop = registration.workshop
    ensure_not_canceled(workshop)
    if registration.contact.erased_at is not None:
        raise AttendanceError(_l("This contact was erased on request."))
    changed = mark_attended(
        workshop,
        registration,
        user_id=user_id,
        now=now,
        walk_in=registration.status not in REGISTERED,
    )
    db.session.commit()
    return changed


def undo_check_in(registration: WorkshopRegistration, *, now: datetime) -> bool:
    """Undo a check-in (idempotent): the person is no longer counted as attended.

    The "attended" and "walk_in" events of this workshop are deleted (see the module
    docstring). After completion, a confirmed registration becomes a no-show again.

    Returns:
        True when this call undid a check-in, False when there was none.
    """
    workshop = registration.workshop
    no_show = (
        workshop.status == "completed"
        and registration.status == "confirmed"
        and not registration.walk_in
    )
    values = {"attended_at": None, "checked_in_by": None}
    if no_show:
        values["no_show"] = True
    released = db.session.execute(
        update(WorkshopRegistration)
        .where(
            WorkshopRegistration.id == registration.id,
            WorkshopRegistration.attended_at.is_not(None),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if released != 1:
        db.session.rollback()
        return False
    delete_events(workshop, registration.contact_id, ("attended", "walk_in"))
    if no_show:
        add_event(workshop, registration.contact_id, "no_show", now)
    db.session.commit()
    return True
