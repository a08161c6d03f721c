"""/api/v1/events: the de-identified participation event stream, as the evaluator's event
export (`reports.exports.event_rows`: pseudonyms, weeks instead of times, quasi-identifiers
generalized so that every combination covers at least the organization's threshold of
contacts), in event order with a cursor; and its codebook.

Per-person rows would let a reader count what the reports suppress, so the stream is
answered only when the organization shares per-person files with evaluators
(`Organization.evaluator_person_files`, off by default): otherwise a 403 problem
`person_files_off`. The codebook is always answered."""

from flask import current_app
from flask_babel import gettext as _
from flask_smorest import Blueprint
from marshmallow import RAISE

from app.api.common import NOT_MODIFIED, decode_cursor, encode_cursor, key_org, owned
from app.api.feature_schemas import Codebook, EventArgs, EventPage
from app.api.guard import guard, scope_required
from app.api.problems import ApiProblem
from app.campaigns.models import Campaign
from app.reports.exports import codebook_entries, event_page_ids, event_rows
from app.reports.period import Period

blp = Blueprint(
    "api_events",
    __name__,
    url_prefix="/api/v1/events",
    description="Participation events, de-identified (the evaluator's event export).",
)
guard(blp)


def _threshold(org) -> int:
    return org.small_cell_threshold or 5


@blp.route("", methods=["GET"])
@scope_required(blp, "events:read")
@blp.arguments(EventArgs, location="query", as_kwargs=True, unknown=RAISE)
@blp.response(200, EventPage)
@blp.doc(responses=NOT_MODIFIED)
def list_events(cursor=None, limit=500, campaign_id=None):
    """Events oldest first, one object per event with the export's columns (see
    /events/codebook), of every campaign or of `campaign_id`. Pass `next_cursor` back as
    `cursor` for the next page; a page may hold fewer events than `limit` when the
    de-identification leaves some out. 403 `person_files_off` unless an administrator
    shares per-person files with evaluators."""
    org = key_org()
    if campaign_id is not None:
        campaign_id = owned(Campaign, campaign_id, _("No campaign with this id.")).id
    if not org.evaluator_person_files:
        raise ApiProblem(
            "person_files_off",
            _(
                "Your organization does not share per-person files with evaluators. The report "
                "pages and their tables have the figures; an administrator can allow these files "
                "in Settings under a data-sharing agreement."
            ),
        )
    after = decode_cursor("e", cursor) if cursor else 0
    period = Period(None, None, org.timezone)
    ids = event_page_ids(
        org.id, campaign_id=campaign_id, period=period, after_id=after, limit=limit
    )
    rows = event_rows(
        org.id,
        campaign_id=campaign_id,
        period=period,
        secret_key=current_app.config["SECRET_KEY"],
        threshold=_threshold(org),
        after_id=after,
        limit=limit,
    )
    header = next(rows)
    return {
        "data": [dict(zip(header, row, strict=True)) for row in rows],
        "next_cursor": encode_cursor("e", ids[limit - 1]) if len(ids) > limit else None,
    }


@blp.route("/codebook", methods=["GET"])
@scope_required(blp, "events:read")
@blp.response(200, Codebook)
@blp.doc(responses=NOT_MODIFIED)
def codebook():
    """What each column of an event means, its type and allowed values, in the request's
    language (the columns an evaluator gets)."""
    threshold = _threshold(key_org())
    return {
        "threshold": threshold,
        "columns": [
            {"column": column, "meaning": meaning, "type": kind, "values": values}
            for column, meaning, kind, values in codebook_entries("events", threshold)
        ],
    }
