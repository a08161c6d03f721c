"""Bulk actions on the contact list: add or remove a tag, opt out, export to CSV, erase.

A `Selection` is either the contacts checked on a page (ids) or every contact matching
the list's filters. It is resolved on the server at action time, always within the
organization: checked ids that are not live contacts of the organization refuse the whole
action (nothing changes), and filters are evaluated again, so the action applies to the
contacts as they are now. Writes are set-based, in chunks of ids (tens of thousands of
contacts cost a few hundred statements, not one ORM round trip each); the export streams
its rows in batches. Each action is one unit of work, and raises `DomainError` (nothing
changed) on bad input.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from app.contacts.age import age_band_sql
from app.contacts.models import Contact, ContactTag
from app.contacts.services import (
    ERASED_VALUES,
    contact_filter_query,
    erase_messages,
    opt_out_event,
)
from app.contacts.validation import MAX_TAGS, TAG_RE
from app.csvutil import SafeCsvWriter
from app.errors import DomainError
from app.extensions import db
from app.organizations.events import emit_all
from app.security_log import security_event
from app.tenancy import MAX_ID

ACTIONS = ("add_tag", "remove_tag", "opt_out", "export", "erase")
OPT_OUT_REASONS = ("asked", "guardian", "wrong_number", "program_left", "other")
MAX_CHECKED = 500  # ids a form may carry; more is "every contact matching"
CHUNK = 500  # ids per statement (SQLite accepts 32k parameters; PostgreSQL far more)
EXPORT_BATCH = 1000
# Columns of the export: the import's own field names first (the file can be imported
# back), then what only the application records.
EXPORT_COLUMNS = (
    "phone",
    "first_name",
    "last_name",
    "language",
    "birth_year",
    "age_band",
    "gender",
    "country",
    "state",
    "municipality",
    "timezone",
    "tags",
    "consent_source",
    "consent_basis",
    "consent_date",
    "guardian_consent",
    "contact_id",
    "opted_out_at_utc",
    "opt_out_channel",
    "undeliverable",
    "created_at_utc",
)
BOM = "\ufeff"  # Excel reads the accents as UTF-8 only with it


@dataclass(frozen=True)
class Selection:
    """Checked contacts (`ids`) or every contact matching `filters` (ids is None)."""

    org_id: int
    ids: tuple[int, ...] | None = None
    filters: dict | None = None

    @property
    def by_filter(self) -> bool:
        return self.ids is None


@dataclass(frozen=True)
class TagResult:
    tag: str  # as stored (see clean_tag)
    changed: int  # contacts that got (or lost) the tag
    unchanged: int  # already had it (add) or did not have it (remove)
    full: int = 0  # add: already at MAX_TAGS tags, left as they were


@dataclass(frozen=True)
class OptOutResult:
    opted_out: int
    already: int


def make_selection(
    org_id: int, *, scope: str, ids: list[str], filters: dict | None, filters_valid: bool
) -> Selection:
    """The selection a bulk form designates (see forms.BulkActionForm).

    Raises:
        DomainError: no contact checked, malformed or too many ids, or invalid filters
            (ignoring a bad filter would widen the selection).
    """
    if scope == "all":
        if not filters_valid:
            raise DomainError(
                _l("The search filters are not valid. Search again, then choose the contacts.")
            )
        return Selection(org_id, filters=dict(filters or {}))
    if scope not in ("selected", "page"):
        raise DomainError(_l("Choose which contacts the action applies to."))
    if not ids:
        raise DomainError(_l("Select at least one contact."))
    if len(ids) > MAX_CHECKED:
        raise DomainError(
            _l(
                "Too many contacts checked (%(max)d at most): choose every contact matching "
                "the search instead.",
                max=MAX_CHECKED,
            )
        )
    parsed = set()
    for value in ids:
        text = str(value).strip().lstrip("0")
        # Length first: a huge number must not reach int() or the database.
        if not (text.isascii() and text.isdigit()) or len(text) > 10 or int(text) > MAX_ID:
            raise _gone()
        parsed.add(int(text))
    return Selection(org_id, ids=tuple(sorted(parsed)))


def _gone() -> DomainError:
    return DomainError(
        _l(
            "Some of the selected contacts are no longer in your list. Reload the page and "
            "select them again."
        )
    )


def _ids_query(selection: Selection, *, today: date):
    if selection.by_filter:
        return contact_filter_query(selection.org_id, selection.filters, today=today)
    return select(Contact).where(
        Contact.organization_id == selection.org_id,
        Contact.erased_at.is_(None),
        Contact.id.in_(selection.ids),
    )


def resolve_ids(selection: Selection, *, today: date) -> list[int]:
    """The ids of the live contacts selected, ascending.

    Raises:
        DomainError: a checked id is not a live contact of the organization (another
            organization's, erased or deleted since), or nothing matches the filters.
    """
    ids = list(
        db.session.scalars(
            _ids_query(selection, today=today).with_only_columns(Contact.id).order_by(Contact.id)
        )
    )
    if not selection.by_filter and len(ids) != len(selection.ids):
        raise _gone()
    if not ids:
        raise DomainError(_l("No contact matches this search: nothing was changed."))
    return ids


def count_selected(selection: Selection, *, today: date) -> int:
    """How many contacts the action would apply to now (same checks as `resolve_ids`)."""
    return len(resolve_ids(selection, today=today))


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def clean_tag(text: str | None) -> str:
    """One tag as the contact form stores it (spaces collapsed, lowercase).

    Raises:
        DomainError: blank, or not 1-40 letters, digits, spaces or hyphens (one tag only).
    """
    tag = " ".join((text or "").split()).lower()
    if not tag:
        raise DomainError(_l("Type the tag to add or remove."), field="tag")
    if not TAG_RE.match(tag):
        raise DomainError(
            _l("A tag has up to 40 letters, digits, spaces or hyphens (one tag at a time)."),
            field="tag",
        )
    return tag


def _commit_or_conflict() -> None:
    try:
        db.session.commit()
    except IntegrityError:  # a concurrent change added the same tag
        db.session.rollback()
        raise DomainError(
            _l("These contacts were changed at the same time by someone else. Try again.")
        ) from None


def add_tag(
    selection: Selection, tag_text: str, *, today: date, now: datetime, user_id: int | None
) -> TagResult:
    """Give every selected contact the tag (those at MAX_TAGS tags are left as they were)."""
    tag = clean_tag(tag_text)
    ids = resolve_ids(selection, today=today)
    changed = unchanged = full = 0
    for chunk in _chunks(ids):
        have = set(
            db.session.scalars(
                select(ContactTag.contact_id).where(
                    ContactTag.contact_id.in_(chunk), ContactTag.name == tag
                )
            )
        )
        at_limit = set(
            db.session.scalars(
                select(ContactTag.contact_id)
                .where(ContactTag.contact_id.in_(chunk))
                .group_by(ContactTag.contact_id)
                .having(func.count() >= MAX_TAGS)
            )
        )
        targets = [i for i in chunk if i not in have and i not in at_limit]
        unchanged += len(have)
        full += len(at_limit - have)
        if not targets:
            continue
        db.session.execute(insert(ContactTag), [{"contact_id": i, "name": tag} for i in targets])
        _touch(selection.org_id, targets, now=now)
        changed += len(targets)
    _commit_or_conflict()
    security_event(
        "contacts_tagged", org_id=selection.org_id, user_id=user_id, count=changed, op="add"
    )
    return TagResult(tag=tag, changed=changed, unchanged=unchanged, full=full)


def remove_tag(
    selection: Selection, tag_text: str, *, today: date, now: datetime, user_id: int | None
) -> TagResult:
    """Take the tag off every selected contact that has it."""
    tag = clean_tag(tag_text)
    ids = resolve_ids(selection, today=today)
    changed = 0
    for chunk in _chunks(ids):
        having = list(
            db.session.scalars(
                select(ContactTag.contact_id).where(
                    ContactTag.contact_id.in_(chunk), ContactTag.name == tag
                )
            )
        )
        if not having:
            continue
        db.session.execute(
            delete(ContactTag).where(ContactTag.contact_id.in_(having), ContactTag.name == tag)
        )
        _touch(selection.org_id, having, now=now)
        changed += len(having)
    db.session.commit()
    security_event(
        "contacts_tagged", org_id=selection.org_id, user_id=user_id, count=changed, op="remove"
    )
    return TagResult(tag=tag, changed=changed, unchanged=len(ids) - changed)


def _touch(org_id: int, ids: list[int], *, now: datetime) -> None:
    db.session.execute(
        update(Contact)
        .where(Contact.organization_id == org_id, Contact.id.in_(ids))
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )


def opt_out(
    selection: Selection, *, reason: str, today: date, now: datetime, user_id: int | None
) -> OptOutResult:
    """Opt the selected contacts out, as a coordinator's opt-out of one contact does
    (channel "coordinator"); those already opted out keep their own date and channel.

    Nothing is sent to them from then on: the outbox re-checks every row against the
    contact right before preparing and before sending it (a pending message is skipped
    as "opted_out"). The reason is a code, recorded in the security log with the count.

    Raises:
        DomainError: no reason, or a bad selection.
    """
    if reason not in OPT_OUT_REASONS:
        raise DomainError(_l("Choose the reason for the opt-out."), field="reason")
    ids = resolve_ids(selection, today=today)
    changed = 0
    for chunk in _chunks(ids):
        # One conditional UPDATE, as `services.mark_opted_out`: of concurrent opt-outs
        # (a STOP arriving meanwhile) exactly one changes each row.
        opted_out = db.session.scalars(
            update(Contact)
            .where(
                Contact.organization_id == selection.org_id,
                Contact.id.in_(chunk),
                Contact.erased_at.is_(None),
                Contact.opted_out_at.is_(None),
            )
            .values(
                opted_out_at=now,
                opt_out_channel="coordinator",
                opt_out_reason=reason,
                updated_at=now,
            )
            .returning(Contact.id)
            .execution_options(synchronize_session=False)
        ).all()
        changed += len(opted_out)
        emit_all(
            [
                opt_out_event(selection.org_id, contact_id, channel="coordinator", now=now)
                for contact_id in opted_out
            ]
        )
    db.session.commit()
    security_event(
        "contacts_opted_out",
        org_id=selection.org_id,
        user_id=user_id,
        count=changed,
        channel="coordinator",
        reason=reason,
    )
    return OptOutResult(opted_out=changed, already=len(ids) - changed)


def erase(
    selection: Selection, *, confirmed_count: str, today: date, now: datetime, user_id: int | None
) -> int:
    """Erase the personal data of the selected contacts, as `services.erase_contact` does
    for one (a cancellation request): ERASED_VALUES blanked, the birth year kept as its
    age band, tags deleted, the text of their messages blanked and what is pending
    canceled (`erase_messages`). Returns how many.

    The coordinator confirms by typing the number of contacts: when it is not the number
    the selection has now (mistyped, or the list changed meanwhile), nothing happens.

    Raises:
        DomainError: the typed number does not match (field "confirm_count"), or a bad
            selection.
    """
    ids = resolve_ids(selection, today=today)
    typed = "".join(c for c in (confirmed_count or "") if c.isdigit())
    if typed != str(len(ids)):
        raise DomainError(
            _l("To confirm, type the number of contacts to erase: %(num)d.", num=len(ids)),
            field="confirm_count",
        )
    for chunk in _chunks(ids):
        db.session.execute(delete(ContactTag).where(ContactTag.contact_id.in_(chunk)))
        # The contact rows first: their locks order this after (or before) a worker
        # preparing a send to one of them, which then finds it erased (as erase_contact).
        db.session.execute(
            update(Contact)
            .where(
                Contact.organization_id == selection.org_id,
                Contact.id.in_(chunk),
                Contact.erased_at.is_(None),
            )
            .values(
                age_band=age_band_sql(today.year),
                **ERASED_VALUES,
                erased_at=now,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        erase_messages(chunk, now=now)
    db.session.commit()
    security_event("contacts_erased", org_id=selection.org_id, user_id=user_id, count=len(ids))
    return len(ids)


# --- export ------------------------------------------------------------------------------


def start_export(selection: Selection, *, today: date, user_id: int | None) -> int:
    """Check the selection before a download starts and log who exports how many contacts
    (ids and counts only). Returns the count.

    Raises:
        DomainError: a bad selection (nothing is downloaded).
    """
    count = count_selected(selection, today=today)
    security_event(
        "contacts_exported",
        org_id=selection.org_id,
        user_id=user_id,
        count=count,
        scope="filter" if selection.by_filter else "checked",
    )
    return count


def _yes_no(flag) -> str:
    return "yes" if flag else "no"


def _iso(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else ""


def export_rows(selection: Selection, *, today: date) -> Iterator[list]:
    """The header, then one row per selected contact in id order, read in batches of
    EXPORT_BATCH (keyset on id: memory stays flat however many contacts match)."""
    yield list(EXPORT_COLUMNS)
    base = _ids_query(selection, today=today)
    last = 0
    while True:
        contacts = list(
            db.session.scalars(
                base.where(Contact.id > last).order_by(Contact.id).limit(EXPORT_BATCH)
            )
        )
        if not contacts:
            return
        for c in contacts:
            yield [
                c.phone,
                c.first_name,
                c.last_name,
                c.language,
                c.birth_year,
                c.age_band,
                c.gender,
                c.country,
                c.state_code,
                c.municipality,
                c.timezone,
                ", ".join(c.tag_names),
                c.consent_source,
                c.consent_basis,
                c.consent_at.date().isoformat() if c.consent_at else "",
                _yes_no(c.guardian_consent),
                c.id,
                _iso(c.opted_out_at),
                c.opt_out_channel,
                _yes_no(c.undeliverable),
                _iso(c.created_at),
            ]
        last = contacts[-1].id  # the session holds loaded rows weakly: batches are freed


def export_csv(selection: Selection, *, today: date) -> Iterator[str]:
    """The export as CSV text in chunks (BOM first); every cell is formula-safe."""
    yield BOM
    buffer = _Buffer()
    writer = SafeCsvWriter(buffer)
    for n, row in enumerate(export_rows(selection, today=today), start=1):
        writer.writerow(row)
        if n % EXPORT_BATCH == 0:
            yield buffer.take()
    yield buffer.take()


class _Buffer:
    """A text sink the csv writer fills and the stream empties."""

    def __init__(self):
        self._parts: list[str] = []

    def write(self, text: str) -> int:
        self._parts.append(text)
        return len(text)

    def take(self) -> str:
        text, self._parts = "".join(self._parts), []
        return text
