"""Sending SMS: the gateway protocol and its implementations (see gateway.py)."""

from app.messaging.factory import build_gateway, get_sms_gateway
from app.messaging.gateway import (
    OutcomeUnknownSmsError,
    PermanentSmsError,
    RetryableSmsError,
    SendResult,
    SentMessage,
    SmsError,
    SmsGateway,
)

__all__ = [
    "OutcomeUnknownSmsError",
    "PermanentSmsError",
    "RetryableSmsError",
    "SendResult",
    "SentMessage",
    "SmsError",
    "SmsGateway",
    "build_gateway",
    "get_sms_gateway",
]
