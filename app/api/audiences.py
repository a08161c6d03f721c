"""/api/v1/audiences: the saved audiences, and how many of an audience's contacts can be
messaged, with the others counted by the reason they cannot (the audience page's and the
send review's `audience_summary`)."""

from flask_babel import gettext as _
from flask_smorest import Blueprint
from marshmallow import RAISE
from sqlalchemy import select

from app.api.common import NOT_MODIFIED, decode_cursor, encode_cursor, key_org, owned
from app.api.feature_schemas import AudienceCount, AudiencePage, PageArgs
from app.api.guard import guard, scope_required
from app.contacts.audiences import audience_summary
from app.contacts.eligibility import REASONS
from app.contacts.models import Audience
from app.contacts.services import local_today
from app.extensions import db
from app.timeutil import utcnow

blp = Blueprint(
    "api_audiences",
    __name__,
    url_prefix="/api/v1/audiences",
    description="Audiences: saved segments of an organization's contacts.",
)
guard(blp)


@blp.route("", methods=["GET"])
@scope_required(blp, "contacts:read")
@blp.arguments(PageArgs, location="query", as_kwargs=True, unknown=RAISE)
@blp.response(200, AudiencePage)
@blp.doc(responses=NOT_MODIFIED)
def list_audiences(cursor=None, limit=50):
    """List audiences, newest first (cursor pagination: pass `next_cursor` as `cursor`)."""
    stmt = select(Audience).where(Audience.organization_id == key_org().id)
    if cursor:
        stmt = stmt.where(Audience.id < decode_cursor("a", cursor))
    rows = db.session.scalars(stmt.order_by(Audience.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {"data": rows, "next_cursor": encode_cursor("a", rows[-1].id) if more else None}


@blp.route("/<int:audience_id>/count", methods=["GET"])
@scope_required(blp, "contacts:read")
@blp.response(200, AudienceCount)
@blp.doc(responses=NOT_MODIFIED)
def count_audience(audience_id):
    """How many of the audience's contacts can be messaged today, and the others by the
    first reason they cannot (erased, no consent, opted out, undeliverable, a minor
    without guardian consent)."""
    audience = owned(Audience, audience_id, _("No audience with this id."))
    org = key_org()
    summary = audience_summary(
        org.id, audience.filters, today=local_today(org, utcnow()), sample_size=0
    )
    return {
        "audience_id": audience.id,
        "eligible": summary.eligible,
        "matched": summary.matched,
        "excluded_total": summary.excluded_total,
        "excluded": [
            {"reason": code, "label": str(REASONS[code]), "count": n}
            for code, n in summary.excluded
        ],
    }
