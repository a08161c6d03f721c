"""FakeSmsGateway, SimulatorGateway and the gateway factory."""

import re
import threading
from datetime import datetime, timedelta

import pytest
from flask import Flask

from app.messaging import (
    OutcomeUnknownSmsError,
    PermanentSmsError,
    RetryableSmsError,
    build_gateway,
    get_sms_gateway,
)
from app.messaging.fake import FakeSmsGateway
from app.messaging.simulator import SimulatorGateway
from app.messaging.twilio_gateway import TwilioGateway
from tests.support import NOW, Clock

SID = re.compile(r"^SM[0-9a-f]{32}$")
ANA, BETO = "+5216641234567", "+15105550123"


def test_fake_records_sends_with_unique_sids():
    sms = FakeSmsGateway()
    first = sms.send(ANA, "Hola Ana", status_callback="https://x.example.org/cb")
    second = sms.send(BETO, "Hi Beto")
    assert SID.match(first.sid) and SID.match(second.sid) and first.sid != second.sid
    assert first.status == "queued"
    assert sms.sent == [
        (ANA, "Hola Ana", "https://x.example.org/cb", first.sid, None),
        (BETO, "Hi Beto", None, second.sid, None),
    ]
    assert sms.sent[0].body == "Hola Ana" and sms.last.to == BETO and sms.to(ANA) == sms.sent[:1]
    assert sms.sent[0].sender is None  # the configured default


def test_fake_records_the_organizations_sender():
    sms = FakeSmsGateway()
    sms.send(ANA, "Hola", sender="+526645550100")
    sms.send(BETO, "Hi", sender="MG" + "a" * 32)
    assert [s.sender for s in sms.sent] == ["+526645550100", "MG" + "a" * 32]


def test_fake_fail_next_queues_exceptions_in_order():
    sms = FakeSmsGateway()
    sms.fail_next(
        RetryableSmsError("429", code=20429, status=429),
        PermanentSmsError("stop", code=21610, status=400),
    )
    with pytest.raises(RetryableSmsError):
        sms.send(ANA, "uno")
    with pytest.raises(PermanentSmsError) as info:
        sms.send(ANA, "dos")
    assert info.value.marks_opted_out
    sms.send(ANA, "tres")
    assert [s.body for s in sms.sent] == ["tres"]


def test_fake_outcome_unknown_can_be_recorded_and_reconciled():
    clock = Clock(NOW)
    sms = FakeSmsGateway(clock=clock)
    sms.fail_next(OutcomeUnknownSmsError("read timeout"), sent=True)
    with pytest.raises(OutcomeUnknownSmsError):
        sms.send(ANA, "quizá enviado")
    [found] = sms.find_sent(ANA, since=NOW - timedelta(minutes=1))
    assert found.sid == sms.sent[0].sid and found.date_created == NOW


def test_fake_find_sent_filters_by_recipient_and_time_newest_first():
    clock = Clock(NOW - timedelta(hours=2))
    sms = FakeSmsGateway(clock=clock)
    sms.send(ANA, "viejo")
    clock.now = NOW
    new = sms.send(ANA, "nuevo")
    sms.send(BETO, "otro")
    clock.now = NOW + timedelta(seconds=5)
    newest = sms.send(ANA, "más nuevo")
    found = sms.find_sent(ANA, since=NOW)
    assert [m.sid for m in found] == [newest.sid, new.sid]
    sms.set_status(new.sid, "undelivered", error_code=30003)
    assert sms.find_sent(ANA, since=NOW)[1].error_code == 30003
    with pytest.raises(ValueError):
        sms.find_sent(ANA, since=datetime(2026, 1, 1))


def test_fake_is_thread_safe():
    sms = FakeSmsGateway()
    threads = [
        threading.Thread(target=lambda: [sms.send(ANA, "x") for _ in range(200)]) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(sms.sent) == 800 and len({s.sid for s in sms.sent}) == 800


def test_simulator_returns_sent_and_records_nothing():
    sim = SimulatorGateway()
    one, two = sim.send(ANA, "Hola"), sim.send(ANA, "Hola", sender="+526645550100")
    assert one.status == "sent" and SID.match(one.sid) and one.sid != two.sid
    assert sim.find_sent(ANA, since=NOW) == []
    assert not hasattr(sim, "sent")


TWILIO = dict(
    SMS_BACKEND="twilio",
    TWILIO_ACCOUNT_SID="AC" + "1" * 32,
    TWILIO_AUTH_TOKEN="tok",
    TWILIO_MESSAGING_SERVICE_SID="MG" + "2" * 32,
    TWILIO_FROM_NUMBER="",
)


def test_factory_builds_each_backend():
    assert isinstance(build_gateway({"SMS_BACKEND": "fake"}), FakeSmsGateway)
    assert isinstance(build_gateway({"SMS_BACKEND": "simulator"}), SimulatorGateway)
    assert isinstance(build_gateway({}), SimulatorGateway)
    gateway = build_gateway({**TWILIO, "TWILIO_API_BASE_URL": "http://127.0.0.1:9"})
    try:
        assert isinstance(gateway, TwilioGateway)
        assert gateway.timeout == (5.0, 15.0)
        assert gateway.http_client.rewrite_url("https://api.twilio.com/x") == "http://127.0.0.1:9/x"
    finally:
        gateway.close()
    gateway = build_gateway(
        {**TWILIO, "TWILIO_MESSAGING_SERVICE_SID": "", "TWILIO_FROM_NUMBER": "+15005550006"}
    )
    gateway.close()


@pytest.mark.parametrize("missing", ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "sender"])
def test_factory_refuses_incomplete_twilio_settings(missing):
    config = dict(TWILIO)
    if missing == "sender":
        config["TWILIO_MESSAGING_SERVICE_SID"] = ""
        expected = "TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER"
    else:
        config[missing] = ""
        expected = missing
    with pytest.raises(RuntimeError, match=expected):
        build_gateway(config)


def test_factory_rejects_unknown_backend():
    with pytest.raises(RuntimeError, match="Unknown SMS_BACKEND 'carrier-pigeon'"):
        build_gateway({"SMS_BACKEND": "carrier-pigeon"})


def test_get_sms_gateway_returns_the_installed_one():
    app = Flask(__name__)
    with app.app_context():
        with pytest.raises(RuntimeError, match="sms_gateway"):
            get_sms_gateway()
        app.extensions["sms_gateway"] = gateway = FakeSmsGateway()
        assert get_sms_gateway() is gateway
