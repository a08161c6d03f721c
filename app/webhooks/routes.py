"""Twilio webhooks. Authenticated by X-Twilio-Signature over PUBLIC_BASE_URL + path + query,
so validation works behind TLS termination and proxies; a bad signature changes nothing."""
from functools import wraps

from flask import Blueprint, Response, abort, current_app, request

from ..extensions import csrf
from ..messaging.twilio_gateway import signature_is_valid
from ..outreach.inbound import receive_sms
from ..outreach.status import apply_status_callback
from ..security_log import security_event
from ..timeutil import utcnow

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks/twilio")
csrf.exempt(bp)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def public_url() -> str:
    """The URL Twilio called, as the public sees it (not as the proxy forwarded it)."""
    query = request.query_string.decode("latin-1")
    return current_app.config["PUBLIC_BASE_URL"] + request.path + (f"?{query}" if query else "")


def twilio_signature_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        token = current_app.config["TWILIO_AUTH_TOKEN"]
        signature = request.headers.get("X-Twilio-Signature", "")
        if not token or not signature_is_valid(token, public_url(), request.form, signature):
            security_event("webhook_signature_rejected", endpoint=request.endpoint)
            abort(403)
        return view(*args, **kwargs)

    return wrapped


@bp.post("/status")
@twilio_signature_required
def status():
    sid = request.form.get("MessageSid", "")[:40]
    state = request.form.get("MessageStatus", "")[:20]
    if not sid or not state:
        abort(400)
    apply_status_callback(sid, state, request.form.get("ErrorCode", "")[:12] or None, now=utcnow())
    return Response("", 204)


@bp.post("/inbound")
@twilio_signature_required
def inbound():
    sid = request.form.get("MessageSid", "")[:40]
    if not sid or "From" not in request.form:
        abort(400)
    gateway = current_app.extensions["sms_gateway"]
    receive_sms(sid=sid, from_number=request.form["From"][:32],
                body=request.form.get("Body", "")[:1600], now=utcnow(),
                provider_answers_keywords=getattr(gateway, "answers_standard_keywords", False))
    return Response(EMPTY_TWIML, 200, mimetype="text/xml")
