"""Sign and post webhooks exactly as Twilio does (shared by the webhook test modules)."""

from twilio.request_validator import RequestValidator

TOKEN = "test-auth-token-0123456789abcdef"
PUBLIC = "https://alcance.example.org"
STATUS_URL = PUBLIC + "/webhooks/twilio/status"
INBOUND_URL = PUBLIC + "/webhooks/twilio/inbound"
SHARED_SENDER = "+15005550006"


def post(client, url, params, *, token=TOKEN):
    signature = RequestValidator(token).compute_signature(url, params)
    return client.post(
        url.replace(PUBLIC, ""),
        data=params,
        base_url="http://internal:8000",
        headers={"X-Twilio-Signature": signature},
    )


def inbound_params(from_, body, sid, *, to=SHARED_SENDER, service=None):
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
