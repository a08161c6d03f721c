"""Journey 5, at the door (issue 14), on a phone-sized viewport (390×844):

- the walk-in of a young adult who is already a contact: the form asks for their own
  consent (an explicit checkbox; without it the page refuses, in the page's language, and
  nothing is written) and never for a guardian's consent;
- a double tap on "Check in" never undoes it: a second tap on the same spot, and a tap on
  "Undo" within two seconds, change nothing; focus lands on the check-in time.

The contacts are loaded with the importer's CLI (adults, without guardian consent). The
workshop is created through its form (a week ahead: the door works before the start too).
"""

import re
import time
from datetime import timedelta

import pytest

from tests.e2e.helpers import COORDINATOR, LANGS, contacts_csv, local_now

NAMES = {"es": ["Citlali", "Yaretzi"], "en": ["Harper", "Rowan"]}
BLOCK = {"es": 5, "en": 6}
DEMO_CAMPAIGN = "Una sola dosis: fentanilo"
TITLES = {"es": "Taller en la puerta e2e", "en": "At the door e2e"}


@pytest.mark.parametrize("lang", LANGS)
def test_door_journey(make_ui, live_server, place, tmp_path, lang):
    from playwright.sync_api import expect

    db = live_server.db
    tag = f"e2e-puerta-{lang}"
    people = _load_contacts(live_server, tmp_path, lang, place, tag)
    ids = [db.contact_id(p.phone) for p in people]
    assert db.rows("SELECT guardian_consent FROM contacts WHERE id IN (?, ?)", *ids) == [(0,), (0,)]

    ui = make_ui(lang)
    desk = ui.new_page()
    ui.login(desk, COORDINATOR)
    workshop_id = _create_workshop(ui, desk, lang)

    phone = ui.new_page(storage_state=desk.context.storage_state(), mobile=True)
    roster_path = f"/workshops/{workshop_id}/attendance"
    ui.goto(phone, roster_path, "roster-empty")

    def registration(contact_id):
        return db.rows(
            "SELECT walk_in, attended_at IS NOT NULL FROM workshop_registrations "
            "WHERE workshop_id = ? AND contact_id = ?",
            workshop_id,
            contact_id,
        )

    def walk_in(person, slug):
        phone.locator(f'a[href="{roster_path}/walk-in"]').tap()
        phone.wait_for_url(re.compile(r"/walk-in$"))
        ui.check(phone, f"{slug}-form")
        expect(phone.locator("#consent")).not_to_be_checked()
        phone.fill("#phone", person.phone)
        phone.locator(".attendance-submit").tap()  # the consent box left unchecked
        expect(phone.locator("#consent-error")).to_be_visible()
        ui.check(phone, f"{slug}-refused")
        expect(phone.locator("#guardian_consent-error")).to_have_count(0)  # an adult
        assert registration(ids[people.index(person)]) == []  # nothing written
        phone.locator("#consent").check()
        phone.locator(".attendance-submit").tap()
        phone.wait_for_url(re.compile(r"/attendance(\?[^#]*)?(#reg-\d+)?$"))
        ui.check(phone, f"{slug}-done")
        row = phone.locator(f'li.roster-row:has(.roster-row__name:text-is("{person.first_name}"))')
        expect(row).to_have_class(re.compile(r"roster-row--in"))
        return row

    # --- A walk-in who is already a contact (an adult): consent asked, no guardian --------------
    walk_in(people[0], "walk-in-1")
    assert registration(ids[0]) == [(1, 1)]
    assert db.value("SELECT guardian_consent FROM contacts WHERE id = ?", ids[0]) == 0
    assert db.value("SELECT COUNT(*) FROM contacts WHERE phone = ?", people[0].phone) == 1

    # --- A second one, checked in then undone: on the list, not checked in --------------------
    row = walk_in(people[1], "walk-in-2")
    time.sleep(2.2)  # no cooldown left from the page's own actions
    row.locator("button.roster-undo").tap()
    expect(row.locator("button.roster-checkin")).to_be_visible()
    assert registration(ids[1]) == [(1, 0)]
    ui.check(phone, "undone")
    time.sleep(2.2)  # the undo's own cooldown

    # --- A double tap on "Check in": one check-in, no undo ------------------------------------
    loads = []
    phone.on("load", lambda p: loads.append(p.url))
    button = row.locator("button.roster-checkin")
    box = button.bounding_box()
    assert box and box["height"] >= 44 and box["width"] >= 44, f"small touch target: {box}"
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    phone.touchscreen.tap(x, y)
    phone.touchscreen.tap(x, y)  # the second tap of a double tap
    expect(row).to_have_class(re.compile(r"roster-row--in"))
    # focus moved to the check-in time (text), never to the new "Undo" button
    phone.wait_for_function(
        "document.activeElement && document.activeElement.hasAttribute('data-roster-done')"
    )
    phone.touchscreen.tap(x, y)  # a late second tap: the check-in time is there, not "Undo"
    row.locator("button.roster-undo").tap()  # within two seconds: ignored
    phone.wait_for_timeout(700)
    expect(row).to_have_class(re.compile(r"roster-row--in"))
    expect(phone.locator('[data-count="attended"]')).to_have_text("2")
    assert registration(ids[1]) == [(1, 1)]
    ui.check(phone, "double-tap")
    assert loads == [], f"check-in reloaded the page: {loads}"
    events = db.rows(
        "SELECT kind, COUNT(*) FROM participation_events WHERE workshop_id = ? AND "
        "contact_id = ? GROUP BY kind ORDER BY kind",
        workshop_id,
        ids[1],
    )
    assert events == [("attended", 1), ("walk_in", 1)], events

    # --- The registrations list agrees with the check-in list --------------------------------
    ui.goto(desk, f"/workshops/{workshop_id}", "workshop-after-door")
    expect(desk.locator('[data-attendance="attended"]')).to_have_count(2)


def _create_workshop(ui, page, lang) -> int:
    page.click('.mainnav a[href="/workshops/"]')
    ui.check(page, "workshops")
    page.click('a[href="/workshops/new"]')
    ui.check(page, "workshop-new")
    page.select_option("#campaign_id", label=DEMO_CAMPAIGN)
    page.fill("#title_es", TITLES["es"])
    page.fill("#title_en", TITLES["en"])
    page.select_option("#kind", "community_workshop")
    page.select_option("#language", lang)
    page.fill("#venue_name", "Centro Comunitario Otay")
    page.select_option("#state", "MX:02")
    page.fill("#municipality", "Tijuana")
    day = local_now("America/Tijuana").date() + timedelta(days=7)
    page.fill("#local_date", day.isoformat())
    page.fill("#start_time", "17:00")
    page.fill("#end_time", "19:00")
    page.fill("#capacity", "20")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/workshops/\d+$"))
    ui.check(page, "workshop-created")
    return int(page.url.rsplit("/", 1)[1])


def _load_contacts(live_server, tmp_path, lang, place, tag):
    upload = contacts_csv(
        lang, place, block=BLOCK[lang], names=NAMES[lang], tag=tag, bad_rows=False
    )
    path = tmp_path / upload.name
    path.write_bytes(upload.data)
    live_server.flask(
        "contacts", "import", "--org", "demo", "--consent-source", "school", str(path)
    )
    return upload.good
