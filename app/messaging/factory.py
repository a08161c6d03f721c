"""Choose the SMS and WhatsApp template gateways from the configuration; reach the active
ones from a request."""

from __future__ import annotations

from collections.abc import Mapping

from flask import current_app

from app.messaging.fake import FakeSmsGateway
from app.messaging.fake_templates import FakeTemplateGateway
from app.messaging.gateway import SmsGateway
from app.messaging.simulator import SimulatorGateway
from app.messaging.templates import TemplateGateway

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


def build_template_gateway(config: Mapping) -> TemplateGateway:
    """The WhatsApp template gateway for `SMS_BACKEND`: Twilio's Content API with the same
    account for "twilio", an in-memory fake otherwise (approving at the first status check
    with "simulator", so development works end to end). Touches no network."""
    backend = (config.get("SMS_BACKEND") or "simulator").strip().lower()
    if backend == "twilio":
        if not (config.get("TWILIO_ACCOUNT_SID") and config.get("TWILIO_AUTH_TOKEN")):
            raise RuntimeError("SMS_BACKEND=twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
        from app.messaging.twilio_gateway import TwilioContentGateway

        return TwilioContentGateway(
            config["TWILIO_ACCOUNT_SID"],
            config["TWILIO_AUTH_TOKEN"],
            api_base_url=config.get("TWILIO_API_BASE_URL") or None,
        )
    if backend in BACKENDS:
        return FakeTemplateGateway(auto_approve=backend == "simulator")
    raise RuntimeError(f"Unknown SMS_BACKEND {backend!r}; use one of: {', '.join(BACKENDS)}.")


def get_template_gateway() -> TemplateGateway:
    """The application's template gateway (`app.extensions["template_gateway"]`, set by
    create_app)."""
    try:
        return current_app.extensions["template_gateway"]
    except KeyError:
        raise RuntimeError(
            'No template gateway: create_app must set app.extensions["template_gateway"] = '
            "build_template_gateway(app.config)."
        ) from None
