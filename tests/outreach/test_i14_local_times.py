"""Issue 14: times on the outreach pages say whose time they are."""

from datetime import date, time

import pytest

from app.outreach.services import schedule_send
from tests.factories import make_contact
from tests.support import NOW, utc


def _send(world, **schedule):
    send, _ = schedule_send(
        world["campaign"],
        message=world["message"],
        audience=world["audience"],
        kind="once",
        user_id=None,
        now=NOW,
        **schedule,
    )
    return send


@pytest.mark.parametrize(("lang", "when"), [("en", "2:12\u202fPM HST"), ("es", "2:12 p.m. HST")])
def test_each_row_shows_the_recipients_local_time_and_zone(client, login, world, lang, when):
    make_contact(
        world["org"],
        first_name="Keala",
        country="US",
        state_code="HI",
        timezone="Pacific/Honolulu",
        phone="+18085550101",
    )
    login(world["user"])
    send = _send(world, local_date=date(2026, 12, 1), local_time=time(14, 12))
    page = client.get(f"/sends/{send.id}?lang={lang}").get_data(as_text=True)
    honolulu_row = page[page.index("Keala") :].split("</tr>")[0]
    # 14:12 in Honolulu is 00:12 UTC, 16:12 in Tijuana: the row says 14:12 HST.
    assert when.replace("\u202f", " ") in honolulu_row.replace("\u202f", " ")
    assert "4:12" not in honolulu_row
    tijuana_row = page[page.index(world["contacts"][0].first_name) :].split("</tr>")[0]
    assert "PST" in tijuana_row


@pytest.mark.parametrize(
    ("lang", "text"),
    [("en", "each recipient's local time"), ("es", "hora local de cada destinatario")],
)
def test_a_local_send_says_it_is_each_recipients_time(client, login, world, lang, text):
    login(world["user"])
    send = _send(world, local_date=date(2026, 12, 1), local_time=time(17, 0))
    page = client.get(f"/sends/{send.id}?lang={lang}").get_data(as_text=True)
    assert text in page.replace("&#39;", "'")


def test_a_fixed_send_names_the_organizations_zone(client, login, world):
    login(world["user"])
    send = _send(world, fixed_at=utc(2026, 12, 1, 20, 0))  # 12:00 in Tijuana
    page = client.get(f"/sends/{send.id}?lang=en").get_data(as_text=True)
    assert "12:00" in page.replace("\u202f", " ") and "PM PST" in page.replace("\u202f", " ")
    assert "one moment for everybody" in page
