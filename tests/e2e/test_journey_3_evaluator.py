"""Journey 3, the evaluator: sign in → reports → the demo campaign's dashboard → change the
date range → download a table's CSV and the de-identified participation export, and find no
phone number or first name of any contact (all of them, read from the database: the demo's
and those the other journeys imported) on any page the evaluator saw or in any file.

Place names are not personal data and may be shown ("San Diego" is a municipality, not
Diego): helpers.PersonalData removes them before looking for first names.
"""

import csv
import io
import re
from datetime import timedelta

import pytest

from tests.e2e.helpers import ADMIN, EVALUATOR, LANGS, ORG_TIMEZONE, PersonalData, local_now

DEMO_CAMPAIGN = "Una sola dosis: fentanilo"


@pytest.mark.parametrize("lang", LANGS)
def test_evaluator_journey(make_ui, live_server, lang):
    from playwright.sync_api import expect

    db = live_server.db
    personal = PersonalData.load(db)
    assert len(personal.phones) > 300 and len(personal.names) > 10  # the demo's, at least
    seen = {}  # where -> text

    def look(page, slug):
        ui.check(page, slug)
        seen[f"page {slug} ({page.url})"] = page.content()

    ui = make_ui(lang)
    page = ui.new_page()
    ui.login(page, EVALUATOR)
    seen["dashboard"] = page.content()
    # The evaluator's menu has no contacts, campaigns, workshops or simulator.
    assert page.locator('.mainnav a[href="/contacts/"]').count() == 0
    assert page.locator('.mainnav a[href="/simulator"]').count() == 0

    page.click('.mainnav a[href="/reports/"]')
    look(page, "reports")
    campaign_id = db.value("SELECT id FROM campaigns WHERE name = ?", DEMO_CAMPAIGN)
    page.click(f'main a[href^="/reports/campaigns/{campaign_id}"]')
    page.wait_for_url(re.compile(rf"/reports/campaigns/{campaign_id}"))
    look(page, "campaign-dashboard")
    reached_all = page.locator(".report-stats .stat").first.inner_text()

    # --- Change the date range: the last 30 days, per day --------------------------------------
    today = local_now(ORG_TIMEZONE).date()
    start = today - timedelta(days=30)
    page.fill("#from", start.isoformat())
    page.fill("#to", today.isoformat())
    page.select_option("#granularity", "day")
    page.click(".report-range button[type=submit]")
    page.wait_for_url(re.compile(r"[?&]from=" + start.isoformat()))
    look(page, "campaign-dashboard-30-days")
    assert f"to={today.isoformat()}" in page.url and "granularity=day" in page.url
    expect(page.locator(".report-range + p")).to_contain_text(str(today.year))
    # Everything (the demo's history, 14 days old, and today's journeys) is in the range.
    assert page.locator(".report-stats .stat").first.inner_text() == reached_all
    # A range before the campaign had sent anything: nothing reached.
    before = today - timedelta(days=400)
    page.fill("#from", (before - timedelta(days=10)).isoformat())
    page.fill("#to", before.isoformat())
    page.select_option("#granularity", "")
    page.click(".report-range button[type=submit]")
    page.wait_for_url(re.compile(r"[?&]to=" + before.isoformat()))
    look(page, "campaign-dashboard-before")
    expect(page.locator(".report-stats .stat").first).to_have_text("0")
    page.fill("#from", start.isoformat())
    page.fill("#to", today.isoformat())
    page.click(".report-range button[type=submit]")
    page.wait_for_url(re.compile(r"[?&]from=" + start.isoformat()))
    look(page, "campaign-dashboard-30-days-again")

    # --- Downloads: a table's CSV and the de-identified export ------------------------------
    files = {}
    with page.expect_download() as info:
        page.click('a[href^="/reports/export/state.csv"]')
    files["state.csv"] = _read(info.value)
    assert "from=" + start.isoformat() in info.value.url
    # Per-person files are not shared with evaluators until an administrator says so
    # (Settings); the page says why instead of offering the file. The first language's run
    # finds them not shared and has the administrator share them.
    events_link = page.locator('a[href^="/reports/export/events.csv"]')
    if events_link.count() == 0:
        expect(page.locator('[data-person-files="off"]')).to_be_visible()
        admin_page = ui.new_page()
        ui.login(admin_page, ADMIN, slug="admin-sign-in")
        admin_page.goto(live_server.url("/organization/settings"))
        ui.check(admin_page, "settings-person-files")
        admin_page.select_option("#evaluator_person_files", "1")
        admin_page.click("form input[type=submit][name=submit]")
        admin_page.wait_for_load_state("load")
        ui.check(admin_page, "settings-person-files-shared")
        shared = "SELECT evaluator_person_files FROM organizations WHERE slug = ?"
        assert db.value(shared, "demo") in (1, True)
        page.reload()
        look(page, "campaign-dashboard-files-shared")
    with page.expect_download() as info:
        page.click('a[href^="/reports/export/events.csv"]')
    files["events.csv"] = _read(info.value)
    assert f"campaign_id={campaign_id}" in info.value.url
    for name, text in files.items():
        rows = list(csv.reader(io.StringIO(text)))
        assert len(rows) >= 2, f"{name} has no data rows:\n{text[:500]}"
        assert len({len(r) for r in rows}) == 1, f"{name}: ragged rows"
        seen[f"file {name}"] = text
    events = list(csv.DictReader(io.StringIO(files["events.csv"])))
    assert len(events) > 10

    # --- Glossary and codebook ----------------------------------------------------------------
    page.click('a[href="/reports/glossary"]')
    look(page, "glossary")
    page.goto(live_server.url("/reports/codebook?export=events"))
    look(page, "codebook-events")

    leaks = {where: found for where, text in seen.items() if (found := personal.leaks(text))}
    assert not leaks, f"personal data shown to the evaluator: {leaks}"


def _read(download) -> str:
    assert download.failure() is None, download.failure()
    return download.path().read_text(encoding="utf-8-sig")
