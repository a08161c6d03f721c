"""/api/v1/campaigns: the campaigns list (the campaigns page's `list_campaigns`, with its
status filters) and one campaign with its targets, places and messages (texts per
language: not personal data)."""

from flask_babel import gettext as _
from flask_smorest import Blueprint
from marshmallow import RAISE

from app.api.common import NOT_MODIFIED, key_org, owned
from app.api.feature_schemas import CampaignList, CampaignListArgs, CampaignOut
from app.api.guard import guard, scope_required
from app.campaigns.models import Campaign
from app.campaigns.services import list_campaigns

blp = Blueprint(
    "api_campaigns",
    __name__,
    url_prefix="/api/v1/campaigns",
    description="Campaigns: their status, targets, places and messages.",
)
guard(blp)


@blp.route("", methods=["GET"])
@scope_required(blp, "campaigns:read")
@blp.arguments(CampaignListArgs, location="query", as_kwargs=True, unknown=RAISE)
@blp.response(200, CampaignList)
@blp.doc(responses=NOT_MODIFIED)
def list_all(status="current"):
    """List campaigns, live ones first then by name. `status`: current (the default:
    every campaign but archived), active, paused, draft, completed, archived or all."""
    listing = list_campaigns(key_org().id, status_filter=status)
    return {
        "data": [
            {
                "id": c.id,
                "name": c.name,
                "status": c.status,
                "topic": c.topic,
                "strategy": c.strategy,
                "level": c.level,
                "start_date": c.start_date,
                "end_date": c.end_date,
                "messages": n,
            }
            for c, n in listing.rows
        ],
        "counts": listing.counts,
    }


@blp.route("/<int:campaign_id>", methods=["GET"])
@scope_required(blp, "campaigns:read")
@blp.response(200, CampaignOut)
@blp.doc(responses=NOT_MODIFIED)
def get_campaign(campaign_id):
    """Read one campaign: targets, places, and messages with their texts per language."""
    c = owned(Campaign, campaign_id, _("No campaign with this id."))
    return {
        "id": c.id,
        "name": c.name,
        "description": c.description,
        "objectives": c.objectives,
        "status": c.status,
        "topic": c.topic,
        "strategy": c.strategy,
        "level": c.level,
        "default_language": c.default_language,
        "start_date": c.start_date,
        "end_date": c.end_date,
        "targets": {
            "age_min": c.target_age_min,
            "age_max": c.target_age_max,
            "population": c.target_population,
        },
        "places": c.places,
        "messages": [
            {
                "id": m.id,
                "label": m.label,
                "texts": {"es": m.body_es, "en": m.body_en},
                "track_links": m.track_links,
                "whatsapp_template_name": m.whatsapp_template_name,
            }
            for m in sorted(c.messages, key=lambda m: m.id)
        ],
        "created_at": c.created_at,
        "updated_at": c.updated_at,
    }
