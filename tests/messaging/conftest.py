"""Fixtures for gateway tests: the fake Twilio server and a TwilioGateway pointed at it."""

import socket

import pytest

from app.messaging.twilio_gateway import TwilioGateway
from tests.fake_twilio import MESSAGING_SERVICE_SID, FakeTwilioServer
from tests.messaging.helpers import TEST_TIMEOUT


@pytest.fixture
def fake_twilio():
    with FakeTwilioServer(hang_seconds=5) as server:
        yield server


@pytest.fixture
def make_gateway(fake_twilio):
    """Build TwilioGateways against the fake server (closed after the test)."""
    made = []

    def make(**overrides):
        kwargs = dict(
            messaging_service_sid=MESSAGING_SERVICE_SID,
            api_base_url=fake_twilio.base_url,
            timeout=TEST_TIMEOUT,
        )
        kwargs.update(overrides)
        account_sid = kwargs.pop("account_sid", fake_twilio.account_sid)
        auth_token = kwargs.pop("auth_token", fake_twilio.auth_token)
        gateway = TwilioGateway(account_sid, auth_token, **kwargs)
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        gateway.close()


@pytest.fixture
def gateway(make_gateway):
    return make_gateway()


@pytest.fixture
def closed_port():
    """A localhost port with nothing listening (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
