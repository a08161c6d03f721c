"""The gateway protocol, result types and error taxonomy."""

import pickle
from datetime import UTC, datetime

import pytest

from app.messaging import (
    OutcomeUnknownSmsError,
    PermanentSmsError,
    RetryableSmsError,
    SendResult,
    SentMessage,
    SmsError,
    SmsGateway,
)
from app.messaging.fake import FakeSmsGateway
from app.messaging.simulator import SimulatorGateway
from app.messaging.twilio_gateway import TwilioGateway
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, MESSAGING_SERVICE_SID


def test_error_flags():
    assert RetryableSmsError("x").retryable and not RetryableSmsError("x").outcome_unknown
    assert OutcomeUnknownSmsError("x").outcome_unknown and not OutcomeUnknownSmsError("x").retryable
    permanent = PermanentSmsError("x", code=21211, status=400)
    assert not permanent.retryable and not permanent.outcome_unknown
    for cls in (RetryableSmsError, OutcomeUnknownSmsError, PermanentSmsError):
        assert issubclass(cls, SmsError)
        err = cls("boom", code=20429, status=429)
        assert (err.code, err.status, str(err)) == (20429, 429, "boom")
    plain = SmsError("x")
    assert (plain.code, plain.status) == (None, None)
    assert not plain.retryable and not plain.outcome_unknown


@pytest.mark.parametrize(
    "code, opted_out, undeliverable",
    [
        (21610, True, False),
        (21211, False, True),
        (21614, False, True),
        (21408, False, False),
        (21611, False, False),
        (None, False, False),
    ],
)
def test_permanent_error_helpers(code, opted_out, undeliverable):
    err = PermanentSmsError("refused", code=code, status=400)
    assert err.marks_opted_out is opted_out
    assert err.marks_undeliverable is undeliverable


def test_errors_survive_pickling():
    err = pickle.loads(pickle.dumps(PermanentSmsError("refused", code=21610, status=400)))
    assert type(err) is PermanentSmsError and err.code == 21610 and err.status == 400
    assert err.marks_opted_out


def test_result_types_are_frozen_and_keep_numbers_out_of_repr():
    result = SendResult("SM" + "0" * 32, "queued", 2)
    with pytest.raises(AttributeError):
        result.status = "sent"
    found = SentMessage(
        "SM" + "1" * 32, "+5216641234567", "delivered", datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert found.error_code is None
    assert "+5216641234567" not in repr(found)


def test_every_implementation_satisfies_the_protocol():
    twilio = TwilioGateway(ACCOUNT_SID, AUTH_TOKEN, messaging_service_sid=MESSAGING_SERVICE_SID)
    try:
        for gateway in (FakeSmsGateway(), SimulatorGateway(), twilio):
            assert isinstance(gateway, SmsGateway)
            assert gateway.name in ("fake", "simulator", "twilio")
    finally:
        twilio.close()
