"""The outbox is the one door for outgoing messages: only app/outbox writes its tables.

(The import contracts between layers are checked by `make lint` with import-linter; this
test covers what imports cannot: who writes the outbox's rows.)
"""

import re
from pathlib import Path

from app.outbox import guards
from app.outreach.invitations import invitation_of

APP = Path(__file__).resolve().parents[1] / "app"
OUTBOX_TABLES = r"(?:OutboxMessage|InboundMessage|EarlyStatusCallback)"
WRITES = [
    rf"\b{OUTBOX_TABLES}\(",  # a new row
    rf"\b(?:update|insert|delete)\({OUTBOX_TABLES}\b",  # a bulk statement
    rf"insert_ignoring_duplicates\({OUTBOX_TABLES}\b",
]


def writes_outside_the_outbox() -> list[str]:
    found = []
    for path in sorted(APP.rglob("*.py")):
        if path.is_relative_to(APP / "outbox"):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if any(re.search(pattern, line) for pattern in WRITES):
                found.append(f"{path.relative_to(APP)}:{number}: {line.strip()}")
    return found


def test_only_the_outbox_writes_its_tables():
    assert writes_outside_the_outbox() == []


def test_the_detector_sees_a_write(tmp_path):
    # The scan is only worth something if it would catch a write.
    line = "    db.session.execute(update(OutboxMessage).values(status='x'))"
    assert any(re.search(pattern, line) for pattern in WRITES)
    assert any(re.search(pattern, "row = OutboxMessage(body='x')") for pattern in WRITES)


def test_features_register_their_outbox_guards_when_the_app_is_built(app):
    names = {guard.name for guard in guards.registered()}
    assert {"send", "campaign"} <= names


def test_a_workshop_send_is_an_invitation_once_the_app_is_built(app):
    class Send:
        workshop_id = 7

    assert invitation_of(Send()) is not None
    Send.workshop_id = None
    assert invitation_of(Send()) is None
