"""Tracked links' upkeep: forgetting an erased contact's links, purging expired ones."""

from datetime import datetime, timedelta

from sqlalchemy import delete

from app.extensions import db
from app.links.models import TrackedLink

# An expired link still shows the "expired" page, in the recipient's language, for this
# long; then its row goes (the page for an unknown link follows). Clicks stay counted in
# the participation events.
PURGE_AFTER_EXPIRY = timedelta(days=30)


def forget_contacts(contact_ids: list[int]) -> int:
    """Delete the links of contacts whose personal data is erased (in the caller's unit of
    work): the link no longer leads anywhere, the click events stay."""
    if not contact_ids:
        return 0
    deleted = 0
    for start in range(0, len(contact_ids), 5000):
        chunk = contact_ids[start : start + 5000]
        deleted += db.session.execute(
            delete(TrackedLink).where(TrackedLink.contact_id.in_(chunk))
        ).rowcount
    return deleted


def purge_expired_links(*, now: datetime) -> int:
    """Delete links expired more than PURGE_AFTER_EXPIRY ago (a maintenance task)."""
    deleted = db.session.execute(
        delete(TrackedLink).where(TrackedLink.expires_at < now - PURGE_AFTER_EXPIRY)
    ).rowcount
    db.session.commit()
    return deleted
