"""Campaign test helpers shared by the modules of this folder (rows come from
tests/factories.py, clocks from tests/support.py)."""

from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from app.campaigns import services
from app.extensions import db

UCS2_QUESTION = "¿Sabías que el fentanilo es 50 veces más potente que la heroína?"
PO = Path(__file__).resolve().parents[2] / "translations" / "es" / "LC_MESSAGES" / "messages.po"


def outbox_statuses(campaign) -> dict:
    db.session.expire_all()
    return services.outbox_counts(campaign)


def spanish(msgid: str) -> str:
    """The Spanish catalogue's translation, or skip until the catalogue has it."""
    with open(PO, "rb") as f:
        message = read_po(f).get(msgid)
    if message is None or not message.string:
        pytest.skip(f"Spanish catalogue has no translation of {msgid!r} yet")
    return message.string
