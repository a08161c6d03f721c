"""Marshmallow schemas of /api/v1/sends (requests validated and documented by them)."""

import marshmallow as ma
from flask_babel import gettext as _
from marshmallow import validate

from app.outbox.models import OUTBOX_STATUSES
from app.outreach.models import SEND_KINDS, SEND_STATUSES
from app.tenancy import MAX_ID

STATES = ("preparing", "scheduled", "sending", "finished", "canceled")


def _id(description: str, *, strict: bool = True, **kwargs):
    return ma.fields.Integer(
        strict=strict,
        validate=validate.Range(min=1, max=MAX_ID),
        metadata={"description": description},
        **kwargs,
    )


class SendIn(ma.Schema):
    """A send of one campaign message to one audience: the web form's fields and rules.

    When: `send_now`, or `fixed_at` (one instant for everybody; kind `once`), or
    `local_date` + `local_time` at each recipient's local time (`once`; `recurring` with
    `weekdays` and `weeks`), or `local_time` + `day_offset` (`sequence`: days after each
    contact joins). Quiet hours, caps, channels (WhatsApp or SMS), a running experiment's
    arms and holdout apply as on the web; a moment already past for every recipient is
    refused."""

    class Meta:
        unknown = ma.RAISE

    campaign_id = _id("An active or paused campaign of your organization.", required=True)
    message_id = _id("One of the campaign's messages.", required=True)
    audience_id = _id("One of your organization's audiences.", required=True)
    kind = ma.fields.String(load_default="once", validate=validate.OneOf(SEND_KINDS))
    send_now = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "Send at once (within each recipient's allowed hours)."},
    )
    fixed_at = ma.fields.AwareDateTime(
        metadata={"description": "One instant for everybody (kind once), with its offset."}
    )
    local_date = ma.fields.Date(
        metadata={"description": "The (first) date, at each recipient's local time."}
    )
    local_time = ma.fields.Time(metadata={"description": "HH:MM, each recipient's local time."})
    weekdays = ma.fields.List(
        ma.fields.Integer(strict=True, validate=validate.Range(min=0, max=6)),
        validate=validate.Length(max=7),
        metadata={"description": "Recurring: 0 = Monday … 6 = Sunday."},
    )
    weeks = ma.fields.Integer(
        strict=True, validate=validate.Range(min=1, max=52), metadata={"description": "Recurring."}
    )
    day_offset = ma.fields.Integer(
        strict=True,
        validate=validate.Range(min=0, max=365),
        metadata={"description": "Sequence: days after joining (0 = the day they join)."},
    )

    @ma.validates_schema
    def _one_way_to_say_when(self, data, **_kwargs):
        if data.get("send_now") and any(
            data.get(name) is not None for name in ("fixed_at", "local_date", "local_time")
        ):
            raise ma.ValidationError(_("“Send now” takes no date or time."), field_name="send_now")
        if data.get("send_now") and data.get("kind") != "once":
            raise ma.ValidationError(_("Only a one-time send can go now."), field_name="kind")
        if data.get("fixed_at") is not None:
            if data.get("kind") != "once":
                raise ma.ValidationError(
                    _("A fixed instant is for one-time sends."), field_name="fixed_at"
                )
            if data.get("local_date") is not None or data.get("local_time") is not None:
                raise ma.ValidationError(
                    _("Give either a fixed instant or a local date and time, not both."),
                    field_name="fixed_at",
                )


class SendOut(ma.Schema):
    """A send and its progress. `counts` are its messages by outbox status (every status,
    0 when none), read from the status counters the send page uses."""

    id = ma.fields.Integer(required=True)
    campaign_id = ma.fields.Integer(required=True)
    message_id = ma.fields.Integer(required=True)
    audience_id = ma.fields.Integer(allow_none=True)
    workshop_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "Set for a workshop invitation."}
    )
    kind = ma.fields.String(required=True, validate=validate.OneOf(SEND_KINDS))
    status = ma.fields.String(required=True, validate=validate.OneOf(SEND_STATUSES))
    state = ma.fields.String(
        required=True,
        validate=validate.OneOf(STATES),
        metadata={
            "description": "preparing: a worker is writing its messages; scheduled: none "
            "handed to the provider yet; sending: some handed over, some still to go or "
            "being verified; finished: nothing left to go out (a sequence never finishes: "
            "new audience members still get it); canceled."
        },
    )
    local_date = ma.fields.Date(allow_none=True)
    local_time = ma.fields.Time(allow_none=True)
    fixed_at = ma.fields.AwareDateTime(allow_none=True)
    weekdays = ma.fields.List(ma.fields.Integer(), allow_none=True)
    weeks = ma.fields.Integer(allow_none=True)
    day_offset = ma.fields.Integer(allow_none=True)
    messages = ma.fields.Integer(required=True, metadata={"description": "Sum of `counts`."})
    counts = ma.fields.Dict(
        keys=ma.fields.String(validate=validate.OneOf(OUTBOX_STATUSES)),
        values=ma.fields.Integer(),
        required=True,
    )
    created_at = ma.fields.AwareDateTime(required=True)
    fanned_out_at = ma.fields.AwareDateTime(
        allow_none=True, metadata={"description": "When its messages were written."}
    )
    canceled_at = ma.fields.AwareDateTime(allow_none=True)


class SendProgress(SendOut):
    recipients = ma.fields.Integer(
        allow_none=True,
        metadata={
            "description": "Contacts its audience can message today (the review's figure, "
            "before an experiment's holdout); null once canceled or without an audience."
        },
    )


class CancelOut(SendProgress):
    canceled_messages = ma.fields.Integer(
        required=True,
        metadata={"description": "Messages this request stopped (0 when already canceled)."},
    )
    with_provider = ma.fields.Integer(
        allow_none=True,
        metadata={
            "description": "Messages already with the provider, which no cancel can stop "
            "(null when the send was already canceled)."
        },
    )


class SendPage(ma.Schema):
    data = ma.fields.List(ma.fields.Nested(SendOut), required=True)
    next_cursor = ma.fields.String(
        allow_none=True, metadata={"description": "Pass as `cursor` for the next page."}
    )


class SendListArgs(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    campaign_id = _id("Only this campaign's sends.", strict=False)  # a query string
    cursor = ma.fields.String(validate=validate.Length(max=100))
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
