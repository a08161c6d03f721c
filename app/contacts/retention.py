"""Data retention: erase the personal data of contacts inactive for RETENTION_MONTHS.

Off by default (0). "Inactive" means: not created or edited, not messaged, no reply and no
participation (workshop or SMS) since the cutoff, and nothing pending for them. Erasure is
the same as a cancellation request (contacts.services.erase_contact), done set-based: the
row stays de-identified (age band, gender, language, place) so reach figures stay correct,
and the text of the messages exchanged with the contact is blanked.
"""

from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, or_, select, update

from app.contacts.age import age_band_sql
from app.contacts.models import Contact, ContactTag
from app.contacts.services import ERASED_VALUES, erase_messages
from app.extensions import db
from app.participation.models import ParticipationEvent
from app.security_log import security_event

# Other packages' signs that a contact is active (e.g. the outbox: messages sent since the
# cutoff or still pending, replies): each a function(cutoff) -> SQL correlated on Contact.id.
_ACTIVITY = []


def register_activity(clause) -> None:
    if clause not in _ACTIVITY:
        _ACTIVITY.append(clause)


def purge_inactive_contacts(*, months: int, now: datetime) -> int:
    """Erase contacts inactive for `months` (30-day months). Returns how many."""
    if months <= 0:
        return 0
    cutoff = now - timedelta(days=30 * months)
    active = or_(
        exists().where(
            ParticipationEvent.contact_id == Contact.id, ParticipationEvent.occurred_at >= cutoff
        ),
        *(activity(cutoff) for activity in _ACTIVITY),
    )
    stale = and_(
        Contact.erased_at.is_(None),
        Contact.created_at < cutoff,
        Contact.updated_at < cutoff,
        ~active,
    )
    ids = list(db.session.scalars(select(Contact.id).where(stale)))
    if not ids:
        return 0
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        db.session.execute(delete(ContactTag).where(ContactTag.contact_id.in_(chunk)))
        db.session.execute(
            update(Contact)
            .where(Contact.id.in_(chunk))
            .values(
                age_band=age_band_sql(now.year),
                **ERASED_VALUES,
                erased_at=now,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        erase_messages(chunk, now=now)
    db.session.commit()
    security_event("retention_purge", contacts=len(ids), months=months)
    return len(ids)
