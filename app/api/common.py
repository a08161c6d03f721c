"""What every /api/v1 module shares: the key's organization, an organization's object by
id (another organization's is a 404, like a missing one), opaque cursors and the
documented extra responses."""

import base64
import binascii

from flask_babel import gettext as _
from sqlalchemy import select

from app.api.guard import current_key
from app.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from app.api.idempotency import MAX_KEY_CHARS
from app.api.problems import ApiProblem
from app.extensions import db
from app.organizations.models import Organization
from app.tenancy import MAX_ID

IDEMPOTENCY_PARAM = {
    "in": "header",
    "name": IDEMPOTENCY_HEADER,
    "required": False,
    "description": "Retrying with the same key and body replays the first response.",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_CHARS},
}
NOT_MODIFIED = {"304": {"description": "Not modified (If-None-Match matched the ETag)."}}


def key_org() -> Organization:
    return db.session.get(Organization, current_key().organization_id)


def owned(model, object_id: int, message):
    """The key's organization's row of `model`, or a 404 problem with `message`."""
    row = None
    if 0 < object_id <= MAX_ID:
        row = db.session.scalar(
            select(model).where(
                model.organization_id == current_key().organization_id, model.id == object_id
            )
        )
    if row is None:
        raise ApiProblem("not_found", message)
    return row


def encode_cursor(kind: str, value: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> int:
    """The id of a `next_cursor` of kind `kind`, or a 400 problem."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        found, _sep, raw = text.partition(":")
        value = int(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        value, found = -1, ""
    if found != kind or not 0 <= value <= MAX_ID + 1:
        raise ApiProblem("invalid_cursor", _("Use the next_cursor of a previous page."))
    return value
