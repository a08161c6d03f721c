"""Journey 1, the coordinator: import contacts (with bad rows) → audience → campaign with a
bilingual message → schedule → the worker sends → phone simulator: BAJA and AYUDA replies.

Scheduling: the send is "once, at one fixed moment" = now (to the minute, in the
organization's zone), so it is due at once. Quiet hours are the recipient's local time: the
admin widened the window to 06:00-22:00 (conftest.window_widened) and the imported contacts
live where it is daytime now (helpers.daytime_place), so the worker really sends and the
test can assert "sent" whatever the hour on this machine.
"""

import csv
import io
import re

import pytest

from tests.e2e.helpers import COORDINATOR, LANGS, ORG_TIMEZONE, contacts_csv, local_now

NAMES = {
    "es": ["Citlali", "Yaretzi", "Itzayana", "Xóchitl"],
    "en": ["Brianna", "Jaxon", "Kaylee", "Nevaeh"],
}
BLOCK = {"es": 1, "en": 2}  # phone-number block of each language's contacts
TEXT = {
    "es": {
        "body": "Hola {first_name}, conoce los riesgos del fentanilo.",
        "accented": " Más información en la escuela.",
        "opt_out": "ya no te enviaremos mensajes",
        "help": "Pueden aplicar cargos",
    },
    "en": {
        "body": "Hi {first_name}, learn the risks of fentanyl.",
        "accented": " Más información: ask at school.",
        "opt_out": "you will not receive more messages",
        "help": "Msg & data rates may apply",
    },
}
OTHER_BODY = {
    "es": "Hi {first_name}, learn the risks of fentanyl.",
    "en": "Hola {first_name}, conoce los riesgos del fentanilo.",
}


@pytest.mark.parametrize("lang", LANGS)
def test_coordinator_journey(make_ui, live_server, place, compiled_translations, lang):
    from babel.support import Translations
    from playwright.sync_api import expect

    t = TEXT[lang]
    db = live_server.db
    ui = make_ui(lang)
    page = ui.new_page()
    ui.login(page, COORDINATOR)

    # --- Import a CSV with bad rows ------------------------------------------------------
    tag = f"e2e-coord-{lang}"
    upload = contacts_csv(lang, place, block=BLOCK[lang], names=NAMES[lang], tag=tag)
    page.click('.mainnav a[href="/contacts/"]')
    ui.check(page, "contacts")
    page.click('a[href="/contacts/imports/new"]')
    ui.check(page, "import-upload")
    page.set_input_files(
        "#file", files=[{"name": upload.name, "mimeType": "text/csv", "buffer": upload.data}]
    )
    page.select_option("#consent_source", "school")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/contacts/imports/\d+/preview$"))
    ui.check(page, "import-preview")
    expect(page.locator("table.import-preview tbody tr.import-row--rejected")).to_have_count(3)
    expect(page.locator("table.import-preview tbody tr")).to_have_count(len(upload.good) + 3)
    page.click('form[action$="/confirm"] button[type="submit"]')
    page.wait_for_url(re.compile(r"/contacts/imports/\d+$"))
    ui.check(page, "import-queued")
    live_server.run_worker()  # runs the import job
    # The progress box polls the job and reloads the page when it is done.
    expect(page.locator("main .badge--ok")).to_be_visible(timeout=30_000)  # "completed"
    # The reasons are written by the worker, in the coordinator's language (the page
    # language check fails on English reasons on a Spanish page).
    ui.check(page, "import-result")
    stats = page.locator(".import-summary strong").all_inner_texts()
    assert stats == [str(len(upload.good)), "0", "0", "3", "0"], stats  # …, rejected, warned
    lines = page.locator("main table tbody tr td.num").all_inner_texts()
    assert [int(x) for x in lines] == upload.bad_lines
    with page.expect_download() as download_info:
        page.click('a[href$="/rejected.csv"]')
    report = download_info.value.path().read_text(encoding="utf-8-sig")
    rejected = list(csv.reader(io.StringIO(report)))
    assert len(rejected) == 1 + 3, report  # a header and the three bad rows, with reasons
    assert all(row[-1].strip() for row in rejected[1:]), report
    catalog = Translations.load(compiled_translations, [lang])
    assert rejected[0][0] == catalog.gettext("Line"), rejected[0]  # in the coordinator's language
    assert [int(row[0]) for row in rejected[1:]] == upload.bad_lines
    people = upload.good
    for person in people:
        assert db.value("SELECT language FROM contacts WHERE phone = ?", person.phone) == lang

    # --- An audience matching the imported contacts --------------------------------------
    page.click('.mainnav a[href="/audiences/"]')
    ui.check(page, "audiences")
    page.click('a[href="/audiences/new"]')
    ui.check(page, "audience-new")
    audience_name = f"E2E {lang} · {tag}"
    page.fill("#name", audience_name)
    page.check(f'input[name="languages"][value="{lang}"]')
    page.fill("#tags", tag)
    # The live count (audiences.js) reacts without pressing "Preview count".
    expect(page.locator("#audience-preview .stat")).to_have_text(str(len(people)))
    ui.check(page, "audience-new-counted")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/audiences/\d+$"))
    ui.check(page, "audience-detail")
    expect(page.locator(".stat").first).to_have_text(str(len(people)))

    # --- A campaign with a bilingual message -------------------------------------------------
    page.click('.mainnav a[href="/campaigns/"]')
    ui.check(page, "campaigns")
    page.click('a[href="/campaigns/new"]')
    ui.check(page, "campaign-new")
    campaign_name = f"E2E {lang}: riesgos del fentanilo"
    page.fill("#name", campaign_name)
    page.select_option("#topic", index=1)
    page.select_option("#strategy", index=1)
    page.select_option("#level", index=1)
    page.fill("#target_age_min", "15")
    page.fill("#target_age_max", "29")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/campaigns/\d+$"))
    ui.check(page, "campaign-draft")
    page.click('form:has(input[name="to"][value="active"]) button')
    expect(page.locator(".flash--success")).to_be_visible()
    ui.check(page, "campaign-active")
    page.click('a[href$="/messages/new"]')
    ui.check(page, "message-new")
    page.fill("#label", f"E2E {lang} mensaje 1")
    counter = page.locator(f"#body_{lang}-count")
    page.locator(f"#body_{lang}").press_sequentially(t["body"])
    expect(counter).to_have_attribute("data-sms-encoding", "gsm7")
    expect(counter).to_contain_text("GSM-7")
    ui.check(page, "message-gsm7")
    page.locator(f"#body_{lang}").press_sequentially(t["accented"])  # "á", "ó": not in GSM-7
    expect(counter).to_have_attribute("data-sms-encoding", "ucs2")
    expect(counter).to_contain_text("UCS-2")
    expect(counter.locator(".sms-counter-warning")).to_contain_text("á")
    ui.check(page, "message-ucs2")
    other = "en" if lang == "es" else "es"
    page.fill(f"#body_{other}", OTHER_BODY[lang])
    page.click("#submit")
    page.wait_for_url(re.compile(r"/campaigns/\d+$"))
    ui.check(page, "campaign-with-message")
    campaign_id = int(page.url.rsplit("/", 1)[1])

    # --- Schedule it for now (a fixed moment, organization time) -------------------------------
    page.click(f'a[href="/campaigns/{campaign_id}/sends/new"]')
    ui.check(page, "schedule")
    page.select_option("#audience", label=audience_name)
    page.check('input[name="kind"][value="once"]')
    page.check('input[name="timing"][value="fixed"]')
    moment = local_now(ORG_TIMEZONE)
    page.fill("#local_date", moment.date().isoformat())
    page.fill("#local_time", moment.strftime("%H:%M"))
    page.click("#submit")
    expect(page.locator("#confirm")).to_be_visible()
    ui.check(page, "schedule-review")  # recipients, segments and cost before confirming
    page.click("#confirm")
    page.wait_for_url(re.compile(r"/sends/\d+$"))
    ui.check(page, "send-scheduled")
    expect(page.locator(".flash--success")).to_contain_text(str(len(people)))
    send_id = int(page.url.rsplit("/", 1)[1])
    assert db.rows(
        "SELECT status, COUNT(*) FROM outbox_messages WHERE send_id = ? GROUP BY status", send_id
    ) == [("scheduled", len(people))]

    live_server.run_worker()
    page.reload()
    ui.check(page, "send-sent")
    statuses = dict(
        db.rows(
            "SELECT status, COUNT(*) FROM outbox_messages WHERE send_id = ? GROUP BY status",
            send_id,
        )
    )
    assert sum(statuses.get(s, 0) for s in ("sent", "delivered")) == len(people), statuses
    expect(page.locator("main table tbody tr")).to_have_count(len(people))

    # --- The phone simulator: BAJA from one contact, AYUDA from another ------------------------
    stop_person, help_person = people[0], people[1]
    stop_id, help_id = db.contact_id(stop_person.phone), db.contact_id(help_person.phone)
    page.click('.mainnav a[href="/simulator"]')
    ui.check(page, "simulator")
    page.click(f'a[href="/simulator/{stop_id}"]')
    ui.check(page, "phone-stop")
    first_words = t["body"].split("{first_name}")[1].strip(", ").split(".")[0]
    expect(page.locator("#conversation")).to_contain_text(first_words)
    expect(page.locator("#conversation")).to_contain_text(stop_person.first_name)
    page.fill("#body", "BAJA")
    page.click("#submit")
    expect(page.locator(".flash--info")).to_be_visible()
    ui.check(page, "phone-stop-replied")
    assert db.value("SELECT opted_out_at IS NOT NULL FROM contacts WHERE id = ?", stop_id) == 1

    page.click('main a[href="/simulator"]')
    ui.check(page, "simulator-again")
    page.click(f'a[href="/simulator/{help_id}"]')
    ui.check(page, "phone-help")
    page.fill("#body", "AYUDA")
    page.click("#submit")
    expect(page.locator(".flash--info")).to_be_visible()
    ui.check(page, "phone-help-replied")

    live_server.run_worker()  # sends the confirmation and the help reply
    # The conversation refreshes itself every few seconds (simulator.js).
    expect(page.locator("#conversation")).to_contain_text(t["help"], timeout=20_000)
    ui.check(page, "phone-help-answered")
    page.goto(live_server.url(f"/simulator/{stop_id}"))
    expect(page.locator("#conversation")).to_contain_text(t["opt_out"])
    ui.check(page, "phone-stop-confirmed")
    expect(page.locator("#conversation .bubble--in")).to_contain_text("BAJA")
