"""/api/v1/contacts: list, read, upsert one or in bulk, opt out, erase.

Writes go through the contacts package's own services: upserts through the CSV import's
row checks and merge (`contacts.row_upsert`), opt-outs and erasures through
`contacts.services`. Names and phone numbers are answered only to keys with
`contacts:read`; a write-only key gets ids, outcomes and de-identified states.
"""

import gc
from contextlib import contextmanager

from flask import jsonify, url_for
from flask_babel import gettext as _
from flask_smorest import Blueprint
from marshmallow import RAISE
from sqlalchemy import select

from app.api.common import (
    IDEMPOTENCY_PARAM,
    NOT_MODIFIED,
    decode_cursor,
    encode_cursor,
    key_org,
)
from app.api.guard import current_key, guard, scope_required
from app.api.idempotency import idempotent
from app.api.problems import ApiProblem
from app.api.schemas import (
    BulkIn,
    BulkResult,
    ContactIn,
    ContactListArgs,
    ContactOut,
    ContactPage,
    ContactState,
    UpsertResult,
)
from app.contacts.models import Contact
from app.contacts.row_upsert import upsert_rows
from app.contacts.services import contact_filter_query, erase_contact, local_today, mark_opted_out
from app.extensions import db
from app.security_log import security_event
from app.tenancy import MAX_ID
from app.timeutil import utcnow

blp = Blueprint(
    "api_contacts",
    __name__,
    url_prefix="/api/v1/contacts",
    description="Contacts: the young people an organization reaches.",
)
guard(blp)


def _contact(contact_id: int) -> Contact:
    """The key's organization's contact, or 404 (another organization's looks the same)."""
    if not 0 < contact_id <= MAX_ID:
        raise ApiProblem("not_found", _("No contact with this id."))
    contact = db.session.scalar(
        select(Contact).where(
            Contact.organization_id == current_key().organization_id, Contact.id == contact_id
        )
    )
    if contact is None:
        raise ApiProblem("not_found", _("No contact with this id."))
    return contact


@blp.route("", methods=["GET"])
@scope_required(blp, "contacts:read")
@blp.arguments(ContactListArgs, location="query", as_kwargs=True, unknown=RAISE)
@blp.response(200, ContactPage)
@blp.doc(responses=NOT_MODIFIED)
def list_contacts(cursor=None, limit=50, **filters):
    """List contacts, newest first (erased contacts are left out).

    Cursor pagination: pass `next_cursor` back as `cursor`. Responses carry an `ETag`;
    send it as `If-None-Match` to get 304 when nothing changed."""
    org = key_org()
    stmt = contact_filter_query(org.id, filters, today=local_today(org, utcnow()))
    if cursor:
        stmt = stmt.where(Contact.id < decode_cursor("c", cursor))
    rows = db.session.scalars(stmt.order_by(Contact.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {"data": rows, "next_cursor": encode_cursor("c", rows[-1].id) if more else None}


@blp.route("/<int:contact_id>", methods=["GET"])
@scope_required(blp, "contacts:read")
@blp.response(200, ContactOut)
@blp.doc(responses=NOT_MODIFIED)
def get_contact(contact_id):
    """Read one contact (an erased one has no phone or name)."""
    return _contact(contact_id)


def _raw(data: dict) -> dict:
    """A request's contact as the CSV import's raw row (text values)."""
    raw = {}
    for name, value in data.items():
        if value is None:
            continue
        if name == "tags":
            raw[name] = ",".join(value)
        elif name in ("guardian_consent", "whatsapp_opt_in"):
            raw[name] = "yes" if value else "no"
        elif name == "consent_date":
            raw[name] = value.isoformat()
        else:
            raw[name] = str(value)
    return raw


@contextmanager
def long_lived_objects_frozen():
    """Keep the objects alive before a bulk request out of the collector's full passes
    while it runs (the CSV import does the same, see `import_services`): a 1,000-row
    request allocates enough to trigger several, each walking the whole app's heap."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _bulk_row_json(outcome) -> dict:
    """`outcome` as BulkResult's row (RowResult names the id `id`)."""
    row = _row_json(outcome)
    row["id"] = row.pop("contact_id")
    return row


def _row_json(outcome) -> dict:
    return {
        "row": outcome.row,
        "outcome": outcome.outcome,
        "contact_id": outcome.contact_id,
        "errors": outcome.errors,
        "warnings": outcome.warnings,
    }


@blp.route("", methods=["POST"])
@scope_required(blp, "contacts:write")
@idempotent
@blp.arguments(ContactIn)
@blp.response(200, UpsertResult, description="Updated (same phone already known).")
@blp.alt_response(201, schema=UpsertResult, description="Created.")
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def upsert_contact(data):
    """Create a contact, or update the one with the same phone.

    The CSV import's rules: only the phone can reject the contact (422 with `errors`);
    an optional value that is not understood is left unknown and reported in `warnings`.
    Blank values never erase known data; tags are added."""
    (outcome,) = upsert_rows(key_org(), [_raw(data)], now=utcnow())
    if outcome.outcome == "rejected":
        raise ApiProblem(
            "validation_failed", " ".join(outcome.errors), errors={"json": outcome.errors}
        )
    body = _row_json(outcome)
    if current_key().has_scope("contacts:read"):
        body["contact"] = db.session.get(Contact, outcome.contact_id)
    status = 201 if outcome.outcome == "created" else 200
    location = url_for("api_contacts.get_contact", contact_id=outcome.contact_id)
    return body, status, {"Location": location}


@blp.route("/bulk", methods=["POST"])
@scope_required(blp, "contacts:write")
@idempotent
@blp.arguments(BulkIn)
@blp.response(200, BulkResult)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def bulk_upsert(data):
    """Create or update up to 1,000 contacts in one transaction, with a report per row
    (the CSV import's: rejected rows with their errors, imported rows with warnings)."""
    with long_lived_objects_frozen():
        outcomes = upsert_rows(key_org(), [_raw(row) for row in data["contacts"]], now=utcnow())
        counts = {
            k: sum(o.outcome == k for o in outcomes) for k in ("created", "updated", "rejected")
        }
        rows = [_bulk_row_json(o) for o in outcomes]
    # Serialized here, not by BulkResult (which documents it): marshmallow's dump of 1,000
    # rows cost more than their upsert's SQL.
    return jsonify({**counts, "rows": rows})


def _state(contact: Contact) -> dict:
    return {"id": contact.id, "opted_out_at": contact.opted_out_at, "erased_at": contact.erased_at}


@blp.route("/<int:contact_id>/opt-out", methods=["POST"])
@scope_required(blp, "contacts:write")
@idempotent
@blp.response(200, ContactState)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def opt_out(contact_id):
    """Opt a contact out of every message (e.g. a partner received the request). Opting
    out a contact already opted out changes nothing and answers its state."""
    contact = _contact(contact_id)
    if contact.erased_at is not None:
        raise ApiProblem("conflict", _("This contact was erased on request."))
    if contact.opted_out_at is None and mark_opted_out(contact, channel="web", now=utcnow()):
        db.session.commit()
        security_event(
            "contact_opted_out",
            contact_id=contact.id,
            org_id=contact.organization_id,
            channel="web",
            via="api",
            key_id=current_key().id,
        )
    return _state(contact)


@blp.route("/<int:contact_id>/erase", methods=["POST"])
@scope_required(blp, "contacts:write")
@idempotent
@blp.response(200, ContactState)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def erase(contact_id):
    """Erase a contact's personal data on request (ARCO cancellation): phone, names, birth
    year (kept as an age band), tags and message texts. The de-identified row stays, so
    reach figures keep counting. Erasing an erased contact answers its state."""
    contact = _contact(contact_id)
    if contact.erased_at is None:
        org = key_org()
        now = utcnow()
        erase_contact(contact, today=local_today(org, now), now=now)
    return _state(contact)
