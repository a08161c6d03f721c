"""Sending SMS: the gateway protocol and its implementations (see gateway.py)."""

from .factory import build_gateway, get_sms_gateway
from .gateway import (
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
