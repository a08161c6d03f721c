"""Twilio webhooks. Authenticated by X-Twilio-Signature over PUBLIC_BASE_URL + path + query,
so validation works behind TLS termination and proxies; a bad signature changes nothing."""

from flask import Blueprint, Response, abort, request

from app.extensions import csrf
from app.outbox import spool
from app.timeutil import utcnow
from app.webhooks.signature import twilio_signature_required

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks/twilio")
csrf.exempt(bp)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@bp.post("/status")
@twilio_signature_required
def status():
    sid = request.form.get("MessageSid", "")[:40]
    state = request.form.get("MessageStatus", "")[:20]
    if not sid or not state:
        abort(400)
    # Stored, or durably spooled, before the 2xx (spool.py); duplicates are a normal 2xx.
    spool.accept(
        "status",
        {
            "MessageSid": sid,
            "MessageStatus": state,
            "ErrorCode": request.form.get("ErrorCode", "")[:12],
        },
        received_at=utcnow(),
    )
    return Response("", 204)


@bp.post("/inbound")
@twilio_signature_required
def inbound():
    sid = request.form.get("MessageSid", "")[:40]
    if not sid or "From" not in request.form:
        abort(400)
    # `To` (and the Messaging Service) say which organization was written to (inbound.py).
    # Twilio never retries an inbound webhook: 200 only once it is stored or spooled.
    # WhatsApp arrives here too: From/To are "whatsapp:+52…" (the prefix is 9 more
    # characters), and a tapped quick-reply button adds ButtonPayload/ButtonText.
    fields = {
        "MessageSid": sid,
        "From": request.form["From"][:41],
        "To": request.form.get("To", "")[:43],
        "Body": request.form.get("Body", "")[:1600],
        "MessagingServiceSid": request.form.get("MessagingServiceSid", "")[:34],
    }
    for name in ("ButtonPayload", "ButtonText"):
        if request.form.get(name):
            fields[name] = request.form[name][:200]
    spool.accept("inbound", fields, received_at=utcnow())
    return Response(EMPTY_TWIML, 200, mimetype="text/xml")
