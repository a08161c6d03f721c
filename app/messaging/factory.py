"""Choose the SMS gateway from the configuration; reach the active one from a request."""

from __future__ import annotations

from collections.abc import Mapping

from flask import current_app

from app.messaging.fake import FakeSmsGateway
from app.messaging.gateway import SmsGateway
from app.messaging.simulator import SimulatorGateway

BACKENDS = ("twilio", "simulator", "fake")


def build_gateway(config: Mapping) -> SmsGateway:
    """Build the gateway named by `SMS_BACKEND` ("twilio", "simulator" or "fake").

    Touches no network. Raises RuntimeError on an unknown backend or missing Twilio settings.
    """
    backend = (config.get("SMS_BACKEND") or "simulator").strip().lower()
    if backend == "twilio":
        missing = [k for k in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN") if not config.get(k)]
        if not (config.get("TWILIO_MESSAGING_SERVICE_SID") or config.get("TWILIO_FROM_NUMBER")):
            missing.append("TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER")
        if missing:
            raise RuntimeError(
                "SMS_BACKEND=twilio needs these settings: "
                + ", ".join(missing)
                + " (or set SMS_BACKEND=simulator to use the in-app phone simulator)."
            )
        from app.messaging.twilio_gateway import TwilioGateway  # imports the SDK only when used

        return TwilioGateway(
            config["TWILIO_ACCOUNT_SID"],
            config["TWILIO_AUTH_TOKEN"],
            messaging_service_sid=config.get("TWILIO_MESSAGING_SERVICE_SID") or None,
            from_number=config.get("TWILIO_FROM_NUMBER") or None,
            api_base_url=config.get("TWILIO_API_BASE_URL") or None,
        )
    if backend == "simulator":
        return SimulatorGateway()
    if backend == "fake":
        return FakeSmsGateway()
    raise RuntimeError(f"Unknown SMS_BACKEND {backend!r}; use one of: {', '.join(BACKENDS)}.")


def get_sms_gateway() -> SmsGateway:
    """The application's gateway (`app.extensions["sms_gateway"]`, set by create_app)."""
    try:
        return current_app.extensions["sms_gateway"]
    except KeyError:
        raise RuntimeError(
            'No SMS gateway: create_app must set app.extensions["sms_gateway"] = '
            "build_gateway(app.config)."
        ) from None
