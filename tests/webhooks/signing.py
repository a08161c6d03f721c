"""Sign and post webhooks exactly as Twilio does (shared by the webhook test modules)."""

from twilio.request_validator import RequestValidator

TOKEN = "test-auth-token-0123456789abcdef"
PUBLIC = "https://alcance.example.org"
STATUS_URL = PUBLIC + "/webhooks/twilio/status"
INBOUND_URL = PUBLIC + "/webhooks/twilio/inbound"
SHARED_SENDER = "+15005550006"


def post(
    client, url, params, *, sign_url=None, token=TOKEN, signature=None, headers=None, base_url=None
):
    """POST `params` to the app's path of the public `url`, signed as Twilio signs (over
    `sign_url`, by default `url`, with `token`) unless a `signature` is given; the request
    reaches the app at an internal address (behind the proxy) unless `base_url` says."""
    if signature is None:
        signature = RequestValidator(token).compute_signature(sign_url or url, params)
    return client.post(
        url.replace(PUBLIC, ""),
        data=params,
        base_url=base_url or "http://internal:8000",
        headers={"X-Twilio-Signature": signature, **(headers or {})},
    )


def inbound_params(from_, body, sid="SM" + "c" * 32, *, to=SHARED_SENDER, service=None):
    params = {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": from_,
        "To": to,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
    }
    if service:
        params["MessagingServiceSid"] = service
    return params


def status_params(sid, status, error=None):
    params = {
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": "AC" + "0" * 32,
        "To": "+526645550001",
        "From": SHARED_SENDER,
        "ApiVersion": "2010-04-01",
    }
    if error:
        params["ErrorCode"] = error
    return params
