"""Journey 2, a workshop: create it (capacity 2) → invite an audience → the worker sends →
three contacts reply "SI <code>" in the phone simulator (the third lands on the waitlist) →
one replies "NO <code>" (the waitlisted one is promoted and told) → check-in and undo on the
door roster at a phone-sized viewport (390×844), one tap each.

The contacts are loaded with the importer's CLI (the import pages are journey 1's); they
live where it is daytime now (helpers.daytime_place), so invitations and the promotion
notice go out at once. SMS texts are checked against the compiled catalog, so they are
found in whichever language the catalog really renders.
"""

import re
from datetime import timedelta

import pytest

from tests.e2e.helpers import COORDINATOR, LANGS, contacts_csv, local_now, sms_fragments

NAMES = {"es": ["Ameyalli", "Tonatiuh", "Quetzalli"], "en": ["Skyler", "Paisley", "Maverick"]}
BLOCK = {"es": 3, "en": 4}
DEMO_CAMPAIGN = "Una sola dosis: fentanilo"
TITLES = {"es": "Decide tú: taller e2e", "en": "Your choice: e2e workshop"}
CONFIRMED = (
    "Your spot is saved: %(title)s, %(date)s at %(time)s, %(venue)s. Reply NO "
    "%(code)s if you cannot come."
)
WAITLISTED = (
    "%(title)s is full. You are number %(position)d on the waitlist and we will text "
    "you if a spot opens. Reply NO %(code)s to leave the list."
)
CANCELED = (
    "Your spot at %(title)s is canceled. Thanks for letting us know. Reply YES "
    "%(code)s if you change your mind."
)
PROMOTED = (
    "Good news: a spot opened up and it is yours. %(title)s, %(date)s at %(time)s, "
    "%(venue)s. Reply NO %(code)s if you cannot come."
)


@pytest.mark.parametrize("lang", LANGS)
def test_workshop_journey(make_ui, live_server, place, compiled_translations, tmp_path, lang):
    from playwright.sync_api import expect

    db = live_server.db
    tag = f"e2e-taller-{lang}"
    people = _load_contacts(live_server, tmp_path, lang, place, tag)
    ids = [db.contact_id(p.phone) for p in people]

    def says(msgid):
        return sms_fragments(compiled_translations, lang, msgid)

    ui = make_ui(lang)
    page = ui.new_page()
    ui.login(page, COORDINATOR)

    # --- An audience and an invitation message ------------------------------------------------
    page.click('.mainnav a[href="/audiences/"]')
    ui.check(page, "audiences")
    page.click('a[href="/audiences/new"]')
    ui.check(page, "audience-new")
    audience_name = f"E2E {lang} · {tag}"
    page.fill("#name", audience_name)
    page.fill("#tags", tag)
    expect(page.locator("#audience-preview .stat")).to_have_text(str(len(people)))
    page.click("#submit")
    page.wait_for_url(re.compile(r"/audiences/\d+$"))
    ui.check(page, "audience-detail")

    campaign_id = db.value("SELECT id FROM campaigns WHERE name = ?", DEMO_CAMPAIGN)
    page.click('.mainnav a[href="/campaigns/"]')
    ui.check(page, "campaigns")
    page.click(f'main a[href="/campaigns/{campaign_id}"]')
    ui.check(page, "campaign")
    page.click(f'a[href="/campaigns/{campaign_id}/messages/new"]')
    ui.check(page, "message-new")
    label = f"E2E {lang}: invitación al taller"
    page.fill("#label", label)
    page.fill(
        "#body_es",
        "Hola {first_name}: {workshop_title}, {workshop_date} a las "
        "{workshop_time} en {workshop_venue}.",
    )
    page.fill(
        "#body_en",
        "Hi {first_name}: {workshop_title}, {workshop_date} at {workshop_time}, {workshop_venue}.",
    )
    page.click("#submit")
    page.wait_for_url(re.compile(rf"/campaigns/{campaign_id}$"))
    ui.check(page, "campaign-with-invitation")

    # --- The workshop: capacity 2 -----------------------------------------------------------
    page.click('.mainnav a[href="/workshops/"]')
    ui.check(page, "workshops")
    page.click('a[href="/workshops/new"]')
    ui.check(page, "workshop-new")
    page.select_option("#campaign_id", label=DEMO_CAMPAIGN)
    page.fill("#title_es", TITLES["es"])
    page.fill("#title_en", TITLES["en"])
    page.select_option("#kind", "community_workshop")
    page.select_option("#language", lang)
    page.fill("#venue_name", "Casa de la Cultura")
    page.select_option("#state", "MX:02")
    page.fill("#municipality", "Tijuana")
    day = local_now("America/Tijuana").date() + timedelta(days=7)
    page.fill("#local_date", day.isoformat())
    page.fill("#start_time", "17:00")
    page.fill("#end_time", "19:00")
    page.fill("#capacity", "2")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/workshops/\d+$"))
    ui.check(page, "workshop-created")
    workshop_id = int(page.url.rsplit("/", 1)[1])
    code = page.locator(".ws-code").inner_text().strip()
    assert re.fullmatch(r"\w{3,8}", code), code
    expect(page.locator(".flash--success")).to_contain_text(code)

    # --- Invite the audience now (each recipient's local time) --------------------------------
    page.click(f'a[href="/workshops/{workshop_id}/invite"]')
    ui.check(page, "invite")
    page.select_option("#message", label=label)
    page.select_option("#audience", label=audience_name)
    moment = local_now(place.zone)
    page.fill("#local_date", moment.date().isoformat())
    page.fill("#local_time", moment.strftime("%H:%M"))
    page.click("#submit")
    page.wait_for_url(re.compile(rf"/workshops/{workshop_id}$"))
    ui.check(page, "invited")
    expect(page.locator(".flash--success")).to_contain_text(str(len(people)))
    live_server.run_worker()
    invitations = dict(
        db.rows(
            "SELECT status, COUNT(*) FROM outbox_messages WHERE workshop_id = ? AND purpose = "
            "'invitation' GROUP BY status",
            workshop_id,
        )
    )
    assert sum(invitations.get(s, 0) for s in ("sent", "delivered")) == len(people), invitations

    # --- Three RSVPs: two seats, then the waitlist -------------------------------------------
    page.click('.mainnav a[href="/simulator"]')
    ui.check(page, "simulator")
    for n, contact_id in enumerate(ids, 1):
        if n == 1:
            page.click(f'main a[href="/simulator/{contact_id}"]')
        else:
            page.goto(live_server.url(f"/simulator/{contact_id}"))
        ui.check(page, f"phone-{n}")
        expect(page.locator("#conversation")).to_contain_text(TITLES[lang])
        expect(page.locator("#conversation")).to_contain_text(code)
        page.fill("#body", f"SI {code}")
        page.click("#submit")
        expect(page.locator(".flash--info")).to_be_visible()
        ui.check(page, f"phone-{n}-rsvp")
    statuses = dict(
        db.rows(
            "SELECT contact_id, status FROM workshop_registrations WHERE workshop_id = ?",
            workshop_id,
        )
    )
    assert [statuses[i] for i in ids] == ["confirmed", "confirmed", "waitlisted"], statuses
    live_server.run_worker()  # the three replies

    page.reload()  # the third contact's phone
    conversation = page.locator("#conversation")
    for fragment in says(WAITLISTED):
        expect(conversation).to_contain_text(fragment)
    expect(conversation.locator(".bubble--out").last).to_contain_text(code)
    ui.check(page, "phone-3-waitlisted")
    page.goto(live_server.url(f"/simulator/{ids[0]}"))
    for fragment in says(CONFIRMED):
        expect(page.locator("#conversation")).to_contain_text(fragment)
    ui.check(page, "phone-1-confirmed")

    # --- One cancels: the first on the waitlist gets the seat and is told ---------------------
    page.fill("#body", f"NO {code}")
    page.click("#submit")
    expect(page.locator(".flash--info")).to_be_visible()
    ui.check(page, "phone-1-cancels")
    statuses = dict(
        db.rows(
            "SELECT contact_id, status FROM workshop_registrations WHERE workshop_id = ?",
            workshop_id,
        )
    )
    assert [statuses[i] for i in ids] == ["canceled", "confirmed", "confirmed"], statuses
    live_server.run_worker()
    for fragment in says(CANCELED):
        expect(page.locator("#conversation")).to_contain_text(fragment, timeout=20_000)
    ui.check(page, "phone-1-canceled")
    page.goto(live_server.url(f"/simulator/{ids[2]}"))
    for fragment in says(PROMOTED):
        expect(page.locator("#conversation")).to_contain_text(fragment)
    ui.check(page, "phone-3-promoted")

    page.goto(live_server.url(f"/workshops/{workshop_id}"))
    ui.check(page, "workshop-after-rsvps")
    funnel = page.locator(".ws-funnel .stat").all_inner_texts()
    assert funnel[:2] == [str(len(people)), "2"], funnel  # invited, confirmed

    # --- The door roster on a phone: check in with one tap, and undo ------------------------------
    phone = ui.new_page(storage_state=page.context.storage_state(), mobile=True)
    phone.goto(live_server.url(f"/workshops/{workshop_id}"))
    ui.check(phone, "mobile-workshop")
    phone.locator(f'a[href="/workshops/{workshop_id}/attendance"]').tap()
    phone.wait_for_url(re.compile(r"/attendance$"))
    ui.check(phone, "mobile-roster")
    loads = []
    phone.on("load", lambda p: loads.append(p.url))
    row = phone.locator(f'li.roster-row:has(.roster-row__name:text-is("{people[1].first_name}"))')
    button = row.locator("button.roster-checkin")
    box = button.bounding_box()
    assert box and box["height"] >= 44 and box["width"] >= 44, f"small touch target: {box}"
    button.tap()
    row = phone.locator(f'li.roster-row:has(.roster-row__name:text-is("{people[1].first_name}"))')
    expect(row).to_have_class(re.compile(r"roster-row--in"))
    expect(phone.locator('[data-count="attended"]')).to_have_text("1")
    expect(phone.locator("[data-roster-status]")).to_contain_text(people[1].first_name)
    assert (
        db.value(
            "SELECT attended_at IS NOT NULL FROM workshop_registrations WHERE "
            "workshop_id = ? AND contact_id = ?",
            workshop_id,
            ids[1],
        )
        == 1
    )
    ui.check(phone, "mobile-checked-in")
    phone.wait_for_timeout(2100)  # a tap within 2 s of the check-in is ignored (issue 14)
    row.locator("button.roster-undo").tap()
    expect(row.locator("button.roster-checkin")).to_be_visible()
    expect(phone.locator('[data-count="attended"]')).to_have_text("0")
    assert (
        db.value(
            "SELECT attended_at IS NULL FROM workshop_registrations WHERE "
            "workshop_id = ? AND contact_id = ?",
            workshop_id,
            ids[1],
        )
        == 1
    )
    ui.check(phone, "mobile-undone")
    assert loads == [], f"check-in reloaded the page: {loads}"


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
