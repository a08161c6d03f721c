"""Fixtures of the WhatsApp template tests: the app's fake template gateway."""

import pytest

from app.messaging.fake_templates import FakeTemplateGateway


@pytest.fixture
def templates_gateway(app) -> FakeTemplateGateway:
    """The installed FakeTemplateGateway (TestingConfig: SMS_BACKEND=fake)."""
    gateway = app.extensions["template_gateway"]
    assert isinstance(gateway, FakeTemplateGateway) and not gateway.auto_approve
    return gateway
