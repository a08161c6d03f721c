"""/api/v1/sends: schedule a send of a campaign message to an audience, read its progress,
list a campaign's sends, cancel one.

Scheduling and cancelling go through the outreach services the web pages use
(`schedule_send`, `cancel_send`): the same rules (campaign status, past times, quiet hours,
caps, channels, experiments) and the same fan-out. Progress comes from the outbox's status
counters, as on the send page: no request counts the messages themselves. Reading needs
`sends:write` or `campaigns:read` (no personal data or message text is answered)."""

from datetime import datetime
from functools import wraps
from zoneinfo import ZoneInfo

from flask import request, url_for
from flask_babel import gettext as _
from flask_smorest import Blueprint
from marshmallow import RAISE
from sqlalchemy import select

from app.api.common import IDEMPOTENCY_PARAM, NOT_MODIFIED, decode_cursor, encode_cursor
from app.api.guard import current_key, guard, scope_required
from app.api.idempotency import idempotent
from app.api.problems import ApiProblem
from app.api.send_schemas import CancelOut, SendIn, SendListArgs, SendPage, SendProgress
from app.campaigns.models import Campaign, CampaignMessage
from app.contacts.models import Audience
from app.errors import DomainError
from app.extensions import db
from app.organizations.models import Organization
from app.outbox import api as outbox
from app.outbox.models import OUTBOX_STATUSES
from app.outreach import services
from app.outreach.models import OutreachSend
from app.security_log import security_event
from app.tenancy import MAX_ID
from app.timeutil import utcnow

blp = Blueprint(
    "api_sends",
    __name__,
    url_prefix="/api/v1/sends",
    description="Sends: a campaign message to an audience, on a schedule.",
)
guard(blp)

READ_SCOPES = ("sends:write", "campaigns:read")
# Messages that may still go out: a cancel stops the first three; "unknown" ones are being
# verified with the provider (a canceled send's are canceled if the provider never had them).
STILL_GOING = ("scheduled", "held", "claimed", "unknown")


def any_scope_required(blueprint, scopes: tuple[str, ...]):
    """A view that needs one of `scopes`: 403 problem without any (documented as
    alternative security requirements)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            key = current_key()
            if not any(key.has_scope(scope) for scope in scopes):
                security_event(
                    "api_scope_denied",
                    key_id=key.id,
                    org_id=key.organization_id,
                    scope=" | ".join(scopes),
                    endpoint=request.endpoint,
                )
                raise ApiProblem(
                    "insufficient_scope",
                    _("This key needs one of the scopes %(scopes)s.", scopes=", ".join(scopes)),
                    scope=" ".join(scopes),
                )
            return view(*args, **kwargs)

        security = [{"bearerAuth": [scope]} for scope in scopes]
        return blueprint.doc(security=security)(wrapped)

    return decorator


def _org_id() -> int:
    return current_key().organization_id


def _owned(model, object_id: int):
    """The key's organization's row, or None (another organization's looks the same)."""
    if not 0 < object_id <= MAX_ID:
        return None
    return db.session.scalar(
        select(model).where(model.organization_id == _org_id(), model.id == object_id)
    )


def _send(send_id: int) -> OutreachSend:
    send = _owned(OutreachSend, send_id)
    if send is None:
        raise ApiProblem("not_found", _("No send with this id."))
    return send


def _state(send: OutreachSend, counts: dict) -> str:
    if send.status == "canceled":
        return "canceled"
    if send.fanned_out_at is None:
        return "preparing"
    going = any(counts.get(status) for status in STILL_GOING)
    if not going and send.kind != "sequence":
        return "finished"
    handed_over = any(counts.get(status) for status in outbox.HANDED_OVER)
    return "sending" if handed_over else "scheduled"


def _counts_of(send_ids) -> dict:
    return services.status_counts(send_ids=list(send_ids))


def _body(send: OutreachSend, counts: dict, *, detail: bool = False) -> dict:
    all_counts = {status: counts.get(status, 0) for status in OUTBOX_STATUSES}
    body = {
        **{name: getattr(send, name) for name in _SEND_COLUMNS},
        "state": _state(send, counts),
        "messages": sum(all_counts.values()),
        "counts": all_counts,
    }
    if detail:
        body["recipients"] = (
            services.count_recipients(send, today=utcnow().date())
            if send.status != "canceled" and send.audience is not None
            else None
        )
    return body


_SEND_COLUMNS = (
    "id",
    "campaign_id",
    "message_id",
    "audience_id",
    "workshop_id",
    "kind",
    "status",
    "local_date",
    "local_time",
    "fixed_at",
    "weekdays",
    "weeks",
    "day_offset",
    "created_at",
    "fanned_out_at",
    "canceled_at",
)


def _progress(send: OutreachSend) -> dict:
    return _body(send, _counts_of([send.id]).get(send.id, {}), detail=True)


def _invalid(field: str | None, message) -> ApiProblem:
    text = str(message)
    return ApiProblem("validation_failed", text, errors={"json": {field or "_schema": [text]}})


def _references(data: dict) -> tuple:
    """The campaign, message and audience the request names, each the key's
    organization's (422 naming the field otherwise: another's looks unknown)."""
    campaign = _owned(Campaign, data["campaign_id"])
    if campaign is None:
        raise _invalid("campaign_id", _("No campaign with this id."))
    message = _owned(CampaignMessage, data["message_id"])
    if message is None:
        raise _invalid("message_id", _("No message with this id."))
    audience = _owned(Audience, data["audience_id"])
    if audience is None:
        raise _invalid("audience_id", _("No audience with this id."))
    return campaign, message, audience


def _when(data: dict, now: datetime) -> dict:
    """The schedule as the web form gives it to `schedule_send`: "send now" is a one-time
    send fixed at now; a fixed instant also carries its date and time in the
    organization's zone (the form's fields, so the same date checks apply)."""
    if data["send_now"]:
        return {"kind": "once", "fixed_at": now}
    when = {
        "kind": data["kind"],
        "local_date": data.get("local_date"),
        "local_time": data.get("local_time"),
        "weekdays": data.get("weekdays") or [],
        "weeks": data.get("weeks"),
        "day_offset": data.get("day_offset"),
    }
    fixed_at = data.get("fixed_at")
    if fixed_at is not None:
        zone = ZoneInfo(db.session.get(Organization, _org_id()).timezone)
        try:
            local = fixed_at.astimezone(zone)
        except (OverflowError, ValueError):
            too_far = (
                _("The date is too far in the past.")
                if fixed_at.year < 2000
                else _("The date is too far in the future.")
            )
            raise _invalid("fixed_at", too_far) from None
        when.update(
            fixed_at=local, local_date=local.date(), local_time=local.time().replace(tzinfo=None)
        )
    return when


@blp.route("", methods=["POST"])
@scope_required(blp, "sends:write")
@idempotent
@blp.arguments(SendIn)
@blp.response(201, SendProgress, description="Scheduled.")
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def schedule(data):
    """Schedule a send of a campaign message to an audience (the web form's rules).

    Refused (422 with `errors`, nothing created): another organization's or an unknown
    campaign, message or audience; a campaign that is not active or paused; a message of
    another campaign; a moment already past for every recipient; what the form refuses.
    A large audience's messages are written by a worker: `state` is `preparing` until then.
    """
    campaign, message, audience = _references(data)
    now = utcnow()
    when = _when(data, now)
    try:
        send, _created = services.schedule_send(
            campaign, message=message, audience=audience, user_id=None, now=now, **when
        )
    except DomainError as error:
        db.session.rollback()
        field = error.field
        if data.get("fixed_at") is not None and field in ("local_date", "local_time"):
            field = "fixed_at"
        raise _invalid(field, error.message) from None
    location = url_for("api_sends.get_send", send_id=send.id)
    return _progress(send), 201, {"Location": location}


@blp.route("", methods=["GET"])
@any_scope_required(blp, READ_SCOPES)
@blp.arguments(SendListArgs, location="query", as_kwargs=True, unknown=RAISE)
@blp.response(200, SendPage)
@blp.doc(responses=NOT_MODIFIED)
def list_sends(campaign_id=None, cursor=None, limit=50):
    """List sends, newest first (optionally one campaign's), with their message counts.

    Cursor pagination: pass `next_cursor` back as `cursor`. Responses carry an `ETag`."""
    stmt = select(OutreachSend).where(OutreachSend.organization_id == _org_id())
    if campaign_id is not None:
        if _owned(Campaign, campaign_id) is None:
            raise ApiProblem("not_found", _("No campaign with this id."))
        stmt = stmt.where(OutreachSend.campaign_id == campaign_id)
    if cursor:
        stmt = stmt.where(OutreachSend.id < decode_cursor("s", cursor))
    rows = db.session.scalars(stmt.order_by(OutreachSend.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    counts = _counts_of(send.id for send in rows)
    return {
        "data": [_body(send, counts.get(send.id, {})) for send in rows],
        "next_cursor": encode_cursor("s", rows[-1].id) if more else None,
    }


@blp.route("/<int:send_id>", methods=["GET"])
@any_scope_required(blp, READ_SCOPES)
@blp.response(200, SendProgress)
@blp.doc(responses=NOT_MODIFIED)
def get_send(send_id):
    """A send's progress: its state, its messages by status, its schedule, when it was
    canceled. Send the `ETag` as `If-None-Match` to get 304 while nothing changed."""
    return _progress(_send(send_id))


@blp.route("/<int:send_id>/cancel", methods=["POST"])
@scope_required(blp, "sends:write")
@idempotent
@blp.response(200, CancelOut)
@blp.alt_response(409, description="The send has finished: nothing left to cancel.")
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def cancel(send_id):
    """Cancel every message of the send not yet handed to the provider, as the send page's
    cancel does: nothing more goes out. Cancelling a canceled send changes nothing and
    answers its state; a finished send (nothing left to go out) is a 409 problem."""
    send = _send(send_id)
    counts = _counts_of([send.id]).get(send.id, {})
    if _state(send, counts) == "finished":
        raise ApiProblem(
            "conflict", _("This send has finished: none of its messages is left to cancel.")
        )
    stopped, with_provider = 0, None
    if send.status != "canceled":
        try:
            result = services.cancel_send(send, now=utcnow())
        except DomainError:  # canceled meanwhile by another request: the same outcome
            db.session.rollback()
            db.session.refresh(send)
        else:
            stopped, with_provider = result.canceled, result.with_provider
    return {**_progress(send), "canceled_messages": stopped, "with_provider": with_provider}
