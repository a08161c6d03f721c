"""Journey 8, an SMS survey (issue 17): a campaign with a message scheduled in a few days →
a survey built from the question bank (its SMS previewed) → a baseline scheduled for now
(before the campaign's first message) → the worker asks it → a Spanish-speaking and an
English-speaking young person answer it in the phone simulator, each in their language (one
skips a question with SALTAR), the worker sending each next question between two answers →
the thank-you reaches both phones → the results page shows their answers.

The contacts are loaded with the importer's CLI and live where it is daytime now
(helpers.daytime_place), so the first question (held to quiet hours like a campaign
message) goes out at once.
"""

import json
import re
from datetime import timedelta

import pytest

from tests.e2e.helpers import COORDINATOR, LANGS, ORG_TIMEZONE, contacts_csv, local_now

# Each journey language has a Spanish- and an English-speaking contact (phone blocks 7-0:
# journeys 1, 2 and 5 use 1-6).
PEOPLE = {
    "es": (("es", 7, "Citlali"), ("en", 8, "Jaden")),
    "en": (("es", 9, "Yareli"), ("en", 0, "Brooklyn")),
}
BANK = ("risk_fentanyl_once", "knows_fake_pills_fentanyl", "knows_where_help")
TITLES = {
    "es": ("Encuesta e2e: antes de la campaña", "E2E survey: before the campaign"),
    "en": ("Encuesta e2e (en): línea base", "E2E survey (en): baseline"),
}
# The replies of each contact, by the contact's language: a scale point, yes/no, a skip.
ANSWERS = {"es": ("2)", "Sí", "SALTAR"), "en": ("3", "yes", "no")}
# What they mean for the results page: (question, value) per contact language.
VALUES = {"es": (2, 1, None), "en": (3, 1, 0)}


def _load_contacts(live_server, tmp_path, lang, place, tag) -> list[tuple[str, int]]:
    """(contact language, contact id) of the journey's two young people."""
    found = []
    for language, block, name in PEOPLE[lang]:
        upload = contacts_csv(language, place, block=block, names=[name], tag=tag, bad_rows=False)
        path = tmp_path / f"{language}-{upload.name}"
        path.write_bytes(upload.data)
        live_server.flask(
            "contacts", "import", "--org", "demo", "--consent-source", "school", str(path)
        )
        found.append((language, live_server.db.contact_id(upload.good[0].phone)))
    return found


@pytest.mark.parametrize("lang", LANGS)
def test_survey_journey(make_ui, live_server, place, tmp_path, lang):
    from playwright.sync_api import expect

    db = live_server.db
    tag = f"e2e-encuesta-{lang}"
    people = _load_contacts(live_server, tmp_path, lang, place, tag)
    ui = make_ui(lang)
    page = ui.new_page()
    ui.login(page, COORDINATOR)

    # --- A campaign whose first message goes in three days, to an audience ----------------
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

    page.click('.mainnav a[href="/campaigns/"]')
    ui.check(page, "campaigns")
    page.click('a[href="/campaigns/new"]')
    ui.check(page, "campaign-new")
    campaign_name = f"E2E {lang}: pastillas falsas con encuesta"
    page.fill("#name", campaign_name)
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
    page.click('a[href$="/messages/new"]')
    ui.check(page, "message-new")
    page.fill("#label", f"E2E {lang} pastillas")
    page.fill("#body_es", "Una pastilla falsa puede tener fentanilo. Toma solo las de farmacia.")
    page.fill("#body_en", "A fake pill can contain fentanyl. Only take pills from a pharmacy.")
    page.click("#submit")
    page.wait_for_url(re.compile(rf"/campaigns/{campaign_id}$"))
    ui.check(page, "campaign-with-message")
    page.click(f'a[href="/campaigns/{campaign_id}/sends/new"]')
    ui.check(page, "schedule-send")
    page.select_option("#audience", label=audience_name)
    page.check('input[name="kind"][value="once"]')
    page.check('input[name="timing"][value="fixed"]')
    page.fill("#local_date", (local_now(ORG_TIMEZONE).date() + timedelta(days=3)).isoformat())
    page.fill("#local_time", "12:00")
    page.click("#submit")
    expect(page.locator("#confirm")).to_be_visible()
    ui.check(page, "schedule-send-review")
    page.click("#confirm")
    page.wait_for_url(re.compile(r"/sends/\d+$"))
    ui.check(page, "send-scheduled")

    # --- A survey from the question bank --------------------------------------------------
    page.click('.mainnav a[href="/surveys/"]')
    ui.check(page, "surveys")
    page.click('main a[href="/surveys/new"]')
    ui.check(page, "survey-new")
    title_es, title_en = TITLES[lang]
    page.fill("#title_es", title_es)
    page.fill("#title_en", title_en)
    for code in BANK:
        page.check(f"#bank-{code}")
    ui.check(page, "survey-new-filled")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/surveys/\d+$"))
    expect(page.locator(".flash--success")).to_be_visible()
    ui.check(page, "survey-detail")
    survey_id = int(page.url.rsplit("/", 1)[1])
    assert [
        code
        for (code,) in db.rows(
            "SELECT bank_code FROM survey_questions WHERE survey_id = ? ORDER BY position",
            survey_id,
        )
    ] == list(BANK)
    questions = db.rows(
        "SELECT text_es, text_en FROM survey_questions WHERE survey_id = ? ORDER BY position",
        survey_id,
    )
    page.click(f'a[href="/surveys/{survey_id}/preview"]')
    ui.check(page, "survey-preview")
    expect(page.locator("main")).to_contain_text(questions[0][0 if lang == "es" else 1])
    page.click(f'main a[href="/surveys/{survey_id}"]')
    ui.check(page, "survey-detail-again")

    # --- The baseline, now (each contact's local time) --------------------------------------
    page.click(f'a[href="/surveys/{survey_id}/runs/new"]')
    ui.check(page, "run-new")
    page.check('input[name="kind"][value="baseline"]')
    page.select_option("#campaign", label=campaign_name)
    moment = local_now(place.zone)
    page.fill("#local_date", moment.date().isoformat())
    page.fill("#local_time", moment.strftime("%H:%M"))
    page.click("#submit")
    page.wait_for_url(re.compile(r"/surveys/runs/\d+$"))
    expect(page.locator(".flash--success")).to_be_visible()
    ui.check(page, "run-scheduled")
    run_id = int(page.url.rsplit("/", 1)[1])

    live_server.run_worker()  # fans the run out and sends the first question
    sent = db.rows(
        "SELECT r.contact_id, o.status FROM survey_responses r JOIN outbox_messages o "
        "ON o.id = r.last_outbox_id WHERE r.run_id = ? ORDER BY r.contact_id",
        run_id,
    )
    assert sorted(sent) == sorted((c, "delivered") for _l, c in people), sent

    # --- Both young people answer in the simulator, each in their language ------------------
    for n, question in enumerate(questions):
        for language, contact_id in people:
            ui.goto(page, f"/simulator/{contact_id}", f"phone-{language}-q{n + 1}")
            conversation = page.locator("#conversation")
            expect(conversation).to_contain_text(question[0 if language == "es" else 1])
            page.fill("#body", ANSWERS[language][n])
            page.click("#submit")
            expect(page.locator(".flash--info")).to_be_visible()
            ui.check(page, f"phone-{language}-a{n + 1}")
        live_server.run_worker()  # the next question (or the thank-you) to both phones

    thanks = dict(
        zip(
            ("es", "en"),
            db.rows("SELECT thanks_es, thanks_en FROM surveys WHERE id = ?", survey_id)[0],
            strict=True,
        )
    )
    for language, contact_id in people:
        ui.goto(page, f"/simulator/{contact_id}", f"phone-{language}-thanks")
        expect(page.locator("#conversation")).to_contain_text(thanks[language])
        recorded = db.rows(
            "SELECT a.value_num, a.skipped FROM survey_answers a JOIN survey_questions q "
            "ON q.id = a.question_id WHERE a.contact_id = ? ORDER BY q.position",
            contact_id,
        )
        assert recorded == [
            (None, 1) if value is None else (float(value), 0) for value in VALUES[language]
        ], recorded
    assert db.rows(
        "SELECT status, COUNT(*) FROM survey_responses WHERE run_id = ? GROUP BY status", run_id
    ) == [("completed", 2)]

    # --- The results page shows their answers -----------------------------------------------
    ui.goto(page, f"/surveys/runs/{run_id}", "run-completed")
    expect(page.locator('tr[data-status="completed"] td')).to_have_text("2")
    page.click(f'main a[href="/reports/surveys/{survey_id}"]')
    page.wait_for_url(re.compile(rf"/reports/surveys/{survey_id}$"))
    ui.check(page, "results")
    expect(page.locator("h1")).to_contain_text(title_es if lang == "es" else title_en)
    risk = page.locator('section[aria-labelledby="q1-heading"]')
    expect(risk.locator("h2")).to_contain_text(questions[0][0 if lang == "es" else 1])
    labels = db.rows(
        "SELECT options FROM survey_questions WHERE survey_id = ? AND position = 1", survey_id
    )[0][0]
    options = json.loads(labels)
    table = risk.locator("table").first
    for value in (2, 3):  # one answer each
        row = table.locator("tr", has_text=options[value - 1][lang])
        expect(row).to_contain_text("1")
    funnel = page.locator('section[aria-labelledby="funnel-heading"] table')
    expect(funnel).to_contain_text("2")
