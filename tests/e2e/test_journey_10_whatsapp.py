"""Journey 10, WhatsApp as a second channel (issue 19): a bilingual WhatsApp template whose
quick-reply buttons mean "RSVP yes" and "RSVP no" (written, submitted, approved) → a
campaign whose workshop invitation uses it → one young person set to WhatsApp with an
opt-in through the contact form, another left on SMS → the invitation goes to both in one
send → the worker delivers it: the template on WhatsApp (the young person never wrote on
WhatsApp, so the 24-hour window is closed), the text by SMS → the WhatsApp view of the
phone simulator shows the template with its buttons, and tapping "yes" records the RSVP →
the SMS phone got the SMS → the campaign report shows reach by channel.

WhatsApp's review is the one outside step: the simulator's templates gateway keeps its
contents in the memory of the process that submitted them, and gunicorn serves from two
processes, so the journey plays WhatsApp's reviewer itself (`_whatsapp_approves`: the
decision recorded through the template service's status refresh, as the demo seed does).

The contacts are loaded with the importer's CLI and live where it is daytime now
(helpers.daytime_place), so the invitation goes out at once.
"""

import json
import re
import subprocess
import sys
from datetime import timedelta

import pytest

from tests.e2e.helpers import COORDINATOR, LANGS, ROOT, contacts_csv, local_now

# Phone blocks 9 and 0 from row 5 (journey 8 uses row 0 of blocks 7-0, journey 9 blocks 7
# and 8 from row 5). The first person of each pair goes on WhatsApp, the second stays on SMS.
BLOCK = {"es": 9, "en": 0}
FIRST_ROW = 5
NAMES = {"es": ["Xochitl", "Nayeli"], "en": ["Everly", "Colton"]}
TEMPLATE = {"es": "taller_e2e_es", "en": "taller_e2e_en"}  # one pair per journey language
BODIES = {
    "es": "Hola {{1}}, te invitamos a {{2}} el {{3}}. ¿Vienes?",
    "en": "Hi {{1}}, join us at {{2}} on {{3}}. Are you coming?",
}
BUTTONS = {"es": ("Sí, voy", "No puedo"), "en": ("Yes, I'll come", "I can't")}
TITLES = {"es": "Habla claro: taller e2e WhatsApp", "en": "Speak up: e2e WhatsApp workshop"}
CAMPAIGN = {"es": "E2E es: WhatsApp y SMS", "en": "E2E en: WhatsApp and SMS"}
APPROVE = """
import sys
from app.extensions import db
from app.messaging.fake_templates import FakeContent, FakeTemplateGateway
from app.timeutil import utcnow
from app.whatsapp.models import WhatsAppTemplate
from app.whatsapp.services import refresh_status

from wsgi import app
with app.app_context():
    rows = db.session.scalars(
        db.select(WhatsAppTemplate).where(
            WhatsAppTemplate.name == sys.argv[1], WhatsAppTemplate.status == "pending"
        )
    ).all()
    assert len(rows) == 2, [(r.language, r.status) for r in rows]
    reviewer = FakeTemplateGateway()
    for row in rows:
        reviewer.contents[row.content_sid] = FakeContent(row.content_sid, None, status="approved")
        refresh_status(row, now=utcnow(), gateway=reviewer)
    print(sorted((r.language, r.status) for r in rows))
"""


def _whatsapp_approves(live_server, name: str) -> None:
    """WhatsApp approves both languages of template `name` (see the module docstring)."""
    done = subprocess.run(
        [sys.executable, "-c", APPROVE, name],
        cwd=ROOT,
        env=live_server.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "('en', 'approved'), ('es', 'approved')" in done.stdout, done.stdout


def _load_contacts(live_server, tmp_path, lang, place, tag):
    upload = contacts_csv(
        lang,
        place,
        block=BLOCK[lang],
        names=NAMES[lang],
        tag=tag,
        bad_rows=False,
        first_row=FIRST_ROW,
    )
    path = tmp_path / upload.name
    path.write_bytes(upload.data)
    live_server.flask(
        "contacts", "import", "--org", "demo", "--consent-source", "school", str(path)
    )
    return [live_server.db.contact_id(p.phone) for p in upload.good]


def _write_template(page, ui, lang: str, language: str, slug: str) -> int:
    """Fill the template form in `language` (name, category and button meanings already
    there for the second language), save it as a draft and submit it to WhatsApp."""
    from playwright.sync_api import expect

    yes, no = BUTTONS[language]
    if language == "es":
        page.fill("#name", TEMPLATE[lang])
        page.select_option("#language", "es")
        page.check('input[name="category"][value="utility"]')
        page.fill("#body", BODIES[language])  # a variable's select shows once it is written
        page.select_option("#var_1", "first_name")
        page.select_option("#var_2", "workshop_title")
        page.select_option("#var_3", "workshop_date")
        page.fill("#button_1_title", yes)
        page.select_option("#button_1_intent", "rsvp_yes")
        page.fill("#button_2_title", no)
        page.select_option("#button_2_intent", "rsvp_no")
    else:  # the other language of the pair: the same name, variables and meanings
        expect(page.locator("#name")).to_have_value(TEMPLATE[lang])
        expect(page.locator("#language")).to_have_value("en")
        expect(page.locator("#var_2")).to_have_value("workshop_title")
        expect(page.locator("#button_1_intent")).to_have_value("rsvp_yes")
        expect(page.locator("#button_2_intent")).to_have_value("rsvp_no")
        page.fill("#body", BODIES[language])
        page.fill("#button_1_title", yes)
        page.fill("#button_2_title", no)
    expect(page.locator("#wa-preview-buttons")).to_contain_text(yes)
    ui.check(page, f"{slug}-filled")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/whatsapp/templates/\d+$"))
    expect(page.locator(".flash--success")).to_be_visible()
    expect(page.locator("h1 .badge")).to_have_attribute("data-status", "draft")
    ui.check(page, f"{slug}-draft")
    template_id = int(page.url.rsplit("/", 1)[1])
    page.click(f'form[action="/whatsapp/templates/{template_id}/submit"] button')
    page.wait_for_url(re.compile(rf"/whatsapp/templates/{template_id}$"))
    expect(page.locator(".flash--success")).to_be_visible()
    expect(page.locator("h1 .badge")).to_have_attribute("data-status", "pending")
    ui.check(page, f"{slug}-pending")
    return template_id


@pytest.mark.parametrize("lang", LANGS)
def test_whatsapp_journey(make_ui, live_server, place, compiled_translations, tmp_path, lang):
    from babel.support import Translations
    from playwright.sync_api import expect

    db = live_server.db
    tag = f"e2e-whatsapp-{lang}"
    on_whatsapp, on_sms = _load_contacts(live_server, tmp_path, lang, place, tag)
    ui = make_ui(lang)
    page = ui.new_page()
    ui.login(page, COORDINATOR)

    # --- A bilingual template whose buttons are RSVPs, submitted and approved ---------------
    page.click('.mainnav a[href="/whatsapp/templates"]')
    ui.check(page, "templates")
    page.click('main a[href="/whatsapp/templates/new"]')
    ui.check(page, "template-new")
    spanish = _write_template(page, ui, lang, "es", "template-es")
    page.click(f'main a[href="/whatsapp/templates/new?copy={spanish}"]')
    ui.check(page, "template-en-new")
    english = _write_template(page, ui, lang, "en", "template-en")
    _whatsapp_approves(live_server, TEMPLATE[lang])
    for language, template_id in (("es", spanish), ("en", english)):
        ui.goto(page, f"/whatsapp/templates/{template_id}", f"template-{language}-approved")
        expect(page.locator("h1 .badge")).to_have_attribute("data-status", "approved")
        for title in BUTTONS[language]:
            expect(page.locator(".wa-buttons")).to_contain_text(title)
    page.click('.mainnav a[href="/whatsapp/templates"]')
    ui.check(page, "templates-approved")
    expect(page.locator('td[data-status="approved"]')).to_have_count(
        db.value("SELECT COUNT(*) FROM whatsapp_templates WHERE status = 'approved'")
    )

    # --- One young person on WhatsApp (opt-in through the contact form), one on SMS ---------
    ui.goto(page, f"/contacts/{on_whatsapp}", "contact-whatsapp")
    page.click(f'main a[href="/contacts/{on_whatsapp}/edit"]')
    ui.check(page, "contact-edit")
    page.select_option("#preferred_channel", "whatsapp")
    page.check("#whatsapp_opt_in")
    page.click("#submit")
    page.wait_for_url(re.compile(rf"/contacts/{on_whatsapp}$"))
    expect(page.locator(".flash--success")).to_be_visible()
    expect(page.locator("dd[data-channel]")).to_have_attribute("data-channel", "whatsapp")
    ui.check(page, "contact-on-whatsapp")
    assert db.rows(
        "SELECT preferred_channel, whatsapp_opt_in_source, whatsapp_opt_in_at IS NOT NULL "
        "FROM contacts WHERE id IN (?, ?) ORDER BY id = ?",
        on_whatsapp,
        on_sms,
        on_sms,
    ) == [("whatsapp", "form", 1), ("sms", None, 0)]

    # --- An audience of both, a campaign whose invitation names the template ---------------
    page.click('.mainnav a[href="/audiences/"]')
    ui.check(page, "audiences")
    page.click('a[href="/audiences/new"]')
    ui.check(page, "audience-new")
    audience_name = f"E2E {lang} · {tag}"
    page.fill("#name", audience_name)
    page.fill("#tags", tag)
    expect(page.locator("#audience-preview .stat")).to_have_text("2")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/audiences/\d+$"))
    ui.check(page, "audience-detail")

    page.click('.mainnav a[href="/campaigns/"]')
    ui.check(page, "campaigns")
    page.click('a[href="/campaigns/new"]')
    ui.check(page, "campaign-new")
    page.fill("#name", CAMPAIGN[lang])
    page.select_option("#topic", index=1)
    page.select_option("#strategy", index=1)
    page.select_option("#level", index=1)
    page.fill("#target_age_min", "15")
    page.fill("#target_age_max", "29")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/campaigns/\d+$"))
    ui.check(page, "campaign-draft")
    campaign_id = int(page.url.rsplit("/", 1)[1])
    page.click('form:has(input[name="to"][value="active"]) button')
    expect(page.locator(".flash--success")).to_be_visible()
    ui.check(page, "campaign-active")
    page.click(f'a[href="/campaigns/{campaign_id}/messages/new"]')
    ui.check(page, "message-new")
    label = f"E2E {lang}: invitación por WhatsApp"
    page.fill("#label", label)
    page.fill(
        "#body_es",
        "Hola {first_name}: {workshop_title}, {workshop_date} a las {workshop_time} "
        "en {workshop_venue}.",
    )
    page.fill(
        "#body_en",
        "Hi {first_name}: {workshop_title}, {workshop_date} at {workshop_time}, {workshop_venue}.",
    )
    page.select_option("#whatsapp_template", TEMPLATE[lang])
    page.click("#submit")
    page.wait_for_url(re.compile(rf"/campaigns/{campaign_id}$"))
    expect(page.locator(".flash--success")).to_be_visible()
    ui.check(page, "campaign-with-invitation")
    assert (
        db.value(
            "SELECT whatsapp_template_name FROM campaign_messages WHERE campaign_id = ?",
            campaign_id,
        )
        == TEMPLATE[lang]
    )

    # --- The workshop, in a week ---------------------------------------------------------------
    page.click('.mainnav a[href="/workshops/"]')
    ui.check(page, "workshops")
    page.click('a[href="/workshops/new"]')
    ui.check(page, "workshop-new")
    page.select_option("#campaign_id", label=CAMPAIGN[lang])
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
    page.fill("#capacity", "10")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/workshops/\d+$"))
    ui.check(page, "workshop-created")
    workshop_id = int(page.url.rsplit("/", 1)[1])

    # --- Both invited in one send, now (each recipient's local time); the worker sends -------
    page.click(f'a[href="/workshops/{workshop_id}/invite"]')
    ui.check(page, "invite")
    page.select_option("#message", label=label)
    page.select_option("#audience", label=audience_name)
    moment = local_now(place.zone)
    page.fill("#local_date", moment.date().isoformat())
    page.fill("#local_time", moment.strftime("%H:%M"))
    page.click("#submit")
    page.wait_for_url(re.compile(rf"/workshops/{workshop_id}$"))
    expect(page.locator(".flash--success")).to_contain_text("2")
    ui.check(page, "invited")
    live_server.run_worker()
    sent = db.rows(
        "SELECT contact_id, channel, content_sid IS NOT NULL, status FROM outbox_messages "
        "WHERE workshop_id = ? AND purpose = 'invitation' ORDER BY contact_id = ?",
        workshop_id,
        on_sms,
    )
    assert [row[:3] for row in sent] == [(on_whatsapp, "whatsapp", 1), (on_sms, "sms", 0)], sent
    assert all(row[3] in ("sent", "delivered") for row in sent), sent
    # Outside the 24-hour window (the young person never wrote on WhatsApp): the approved
    # template in the contact's language.
    assert db.rows(
        "SELECT o.whatsapp_form, t.name FROM outbox_messages o JOIN whatsapp_templates t "
        "ON t.content_sid = o.content_sid WHERE o.workshop_id = ? AND o.contact_id = ?",
        workshop_id,
        on_whatsapp,
    ) == [("template", TEMPLATE[lang])]
    # Its variables carry the workshop, like the SMS text: the title in the contact's
    # language, the date in their country's format (not "our workshop" / "to be confirmed").
    from app.outbox.text import sms_date

    country = db.value("SELECT country FROM contacts WHERE id = ?", on_whatsapp)
    variables = json.loads(
        db.value(
            "SELECT content_variables FROM outbox_messages WHERE workshop_id = ? "
            "AND contact_id = ?",
            workshop_id,
            on_whatsapp,
        )
    )
    assert variables == {
        "1": NAMES[lang][0],
        "2": TITLES[lang],
        "3": sms_date(day, lang, country),
    }, variables

    # --- The WhatsApp phone: the template with its buttons; "yes" is tapped ----------------
    ui.goto(page, f"/simulator/{on_whatsapp}", "phone-whatsapp")
    expect(page).to_have_url(re.compile(rf"/simulator/{on_whatsapp}/whatsapp$"))
    chat = page.locator("#conversation")
    invitation = chat.locator(".wa-sim__bubble--out").first
    expect(invitation).to_contain_text(NAMES[lang][0])
    # The template's own text with those values, not the SMS text.
    filled = BODIES[lang].replace("{{1}}", variables["1"])
    filled = filled.replace("{{2}}", variables["2"]).replace("{{3}}", variables["3"])
    expect(invitation).to_contain_text(filled)
    yes, no = BUTTONS[lang]  # the contact's language is the journey's
    expect(invitation.locator(".wa-sim__button")).to_have_text([yes, no])
    invitation.locator(".wa-sim__button", has_text=yes).click()
    page.wait_for_url(re.compile(rf"/simulator/{on_whatsapp}/whatsapp$"))
    expect(page.locator(".flash--info")).to_contain_text(yes)
    expect(chat.locator(".wa-sim__bubble--in").last).to_be_visible()
    ui.check(page, "phone-whatsapp-tapped")
    assert db.rows(
        "SELECT contact_id, status FROM workshop_registrations WHERE workshop_id = ? "
        "ORDER BY contact_id = ?",
        workshop_id,
        on_sms,
    ) == [(on_whatsapp, "confirmed"), (on_sms, "invited")]
    assert db.rows(
        "SELECT channel, intent FROM inbound_messages WHERE contact_id = ?", on_whatsapp
    ) == [("whatsapp", "rsvp_yes")]
    live_server.run_worker()  # the confirmation, on WhatsApp (the window is open now)
    page.reload()
    expect(chat.locator(".wa-sim__bubble--out")).to_have_count(2)
    ui.check(page, "phone-whatsapp-confirmed")
    assert db.rows(
        "SELECT purpose, channel, whatsapp_form FROM outbox_messages "
        "WHERE contact_id = ? AND sent_at IS NOT NULL ORDER BY id",
        on_whatsapp,
    ) == [("invitation", "whatsapp", "template"), ("system", "whatsapp", "free_form")]

    ui.goto(page, f"/workshops/{workshop_id}", "workshop-after-rsvp")
    funnel = page.locator(".ws-funnel .stat").all_inner_texts()
    assert funnel[:2] == ["2", "1"], funnel  # invited, confirmed

    # --- The SMS phone got the text by SMS -------------------------------------------------
    ui.goto(page, f"/simulator/{on_sms}", "phone-sms")
    expect(page).to_have_url(re.compile(rf"/simulator/{on_sms}$"))
    expect(page.locator("#conversation")).to_contain_text(TITLES[lang])
    expect(page.locator(".wa-sim__button")).to_have_count(0)

    # --- The campaign report: reach by channel ---------------------------------------------
    page.click('.mainnav a[href="/reports/"]')
    ui.check(page, "reports")
    page.click(f'main a[href^="/reports/campaigns/{campaign_id}"]')
    page.wait_for_url(re.compile(rf"/reports/campaigns/{campaign_id}"))
    ui.check(page, "campaign-report")
    says = Translations.load(compiled_translations, [lang]).gettext
    channels = page.locator("table.report-table", has_text=says("Reach by channel"))
    for key, reached in (
        ("Messages by WhatsApp only", "1"),
        ("Messages by SMS only", "1"),
        ("Messages by SMS and WhatsApp", "0"),
    ):
        row = channels.locator("tbody tr", has=page.locator("th", has_text=says(key)))
        expect(row.locator("td").first).to_have_text(reached)
