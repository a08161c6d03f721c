"""Journey 7, the safety net (issue 16): a young person writes a crisis message in the phone
simulator → the worker sends the automatic reply at once and it shows on the phone → the
urgent case leads the coordinator's dashboard → the coordinator opens the thread,
acknowledges, replies and refers the young person to Línea de la Vida with the details by
SMS → the reply and the details reach the phone, and the case says who did what.

The contact is a demo contact reading the journey's language, with messages already received
(the simulator shows it) and no case yet (the demo seeds a few conversations).
"""

import re

import pytest

from tests.e2e.helpers import COORDINATOR, LANGS, sms_fragments

CRISIS = {
    "es": "mi amigo se tomo una pastilla y no respira",
    "en": "my friend took a pill and he is not breathing",
}
REPLY = {
    "es": "Aqui estamos contigo. Llama al 911 ahora si no respira.",
    "en": "We are here with you. Call 911 now if he is not breathing.",
}


def _young_person(db, lang: str) -> int:
    return db.value(
        "SELECT c.id FROM contacts c WHERE c.language = ? AND c.erased_at IS NULL AND "
        "c.opted_out_at IS NULL AND EXISTS (SELECT 1 FROM outbox_messages o WHERE "
        "o.contact_id = c.id AND o.campaign_id IS NOT NULL AND o.sent_at IS NOT NULL) "
        "AND NOT EXISTS (SELECT 1 FROM cases k WHERE k.contact_id = c.id) "
        "AND NOT EXISTS (SELECT 1 FROM inbound_messages i WHERE i.contact_id = c.id) "
        "ORDER BY c.id DESC LIMIT 1",
        lang,
    )


@pytest.mark.parametrize("lang", LANGS)
def test_crisis_journey(make_ui, live_server, compiled_translations, lang):
    from playwright.sync_api import expect

    db = live_server.db
    ui = make_ui(lang)
    page = ui.new_page()
    ui.login(page, COORDINATOR)
    contact_id = _young_person(db, lang)
    assert contact_id, "the demo has no contact for this journey"

    # --- The young person writes; the automatic reply reaches the phone at once ---------------
    ui.goto(page, f"/simulator/{contact_id}", "phone")
    page.fill("#body", CRISIS[lang])
    page.click("#submit")
    expect(page.locator(".flash--info")).to_be_visible()
    ui.check(page, "phone-crisis-sent")
    live_server.run_worker()
    page.reload()
    conversation = page.locator("#conversation")
    for fragment in sms_fragments(
        compiled_translations, lang, "If you or someone else is in danger, call 911 now."
    ):
        expect(conversation).to_contain_text(fragment)
    expect(conversation).to_contain_text("800 911 2000")
    ui.check(page, "phone-crisis-reply")
    assert (
        db.value(
            "SELECT count(*) FROM cases WHERE contact_id = ? AND priority = 'urgent'", contact_id
        )
        == 1
    )

    # --- The dashboard: the urgent case first, with its age --------------------------------------
    page.click('.mainnav a[href="/dashboard"]')
    ui.check(page, "dashboard-urgent")
    urgent = page.locator(f'.dash-urgent a[href="/conversations/{contact_id}"]')
    expect(urgent).to_be_visible()
    first_section = page.locator("main section").first
    expect(first_section).to_have_class(re.compile(r"\bdash-cases\b"))

    # --- The thread: acknowledge, reply, refer ---------------------------------------------------
    urgent.click()
    page.wait_for_url(re.compile(rf"/conversations/{contact_id}$"))
    ui.check(page, "thread-urgent")
    expect(page.locator("main")).to_contain_text(CRISIS[lang])
    expect(page.locator("[data-matched]").first).to_be_visible()
    expect(page.locator("[data-state]")).to_have_attribute("data-state", "open")
    page.locator('form[action$="/acknowledge"] button').click()
    expect(page.locator("[data-state]")).to_have_attribute("data-state", "acknowledged")
    ui.check(page, "thread-acknowledged")

    # Within the hour of the young person's message: the reply goes at once.
    expect(page.locator("#reply-due")).to_have_attribute("data-due", "now")
    page.fill('form[action$="/reply"] textarea', REPLY[lang])
    expect(page.locator('form[action$="/reply"] output')).not_to_be_empty()
    page.locator('form[action$="/reply"] [type=submit][name=send]').click()
    expect(page.locator(".flash--info, .flash--success").first).to_be_visible()
    ui.check(page, "thread-replied")

    refer = page.locator('form[action$="/refer"]')
    refer.locator("select").select_option("linea_vida")
    refer.locator('input[type="checkbox"]').check()
    refer.locator("button[type=submit]").click()
    expect(page.locator("[data-state]")).to_have_attribute("data-state", "referred")
    ui.check(page, "thread-referred")
    actions = page.locator("[data-action]")
    expect(actions).to_have_count(
        db.value(
            "SELECT count(*) FROM case_events e JOIN cases k ON k.id = e.case_id "
            "WHERE k.contact_id = ?",
            contact_id,
        )
    )
    assert (
        db.value(
            "SELECT count(*) FROM participation_events WHERE contact_id = ? AND kind = 'referred' "
            "AND detail = 'linea_vida'",
            contact_id,
        )
        == 1
    )

    # --- The phone gets the coordinator's reply and the helpline's details ----------------------
    live_server.run_worker()
    ui.goto(page, f"/simulator/{contact_id}", "phone-after")
    conversation = page.locator("#conversation")
    expect(conversation).to_contain_text(REPLY[lang])
    expect(conversation).to_contain_text("Línea de la Vida: 800 911 2000")
