"""Journey 4, finding one's way (issue 14): the dashboard per role, the navigation's current
section, sign-out in the header, the phone header folded behind a menu button, the phone
simulator's search, and a form that keeps what was typed across a language switch.

A demo contact who reads the journey's language asks to stop getting texts in the phone
simulator ("Ya no me manden mensajes", a stop request: flagged for review, not an opt-out;
the phone page shows the contact's SMS, so its language must be the page's), so the
coordinator's dashboard has a reply to review;
the demo's upcoming workshops give it workshops with their seats. The check-in roster of
the first upcoming workshop with registrations is opened at 390×844: its first row must be
on screen without scrolling.
"""

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.helpers import ADMIN, COORDINATOR, EVALUATOR, LANGS, ORG_TIMEZONE

PHONE_HEIGHT = 844
STOP_REQUEST = {"es": "Ya no me manden mensajes porfa", "en": "Please stop texting me"}


def _current_section(page) -> list[str]:
    return page.locator(".mainnav a[aria-current]").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )


def _phone_in(db, lang: str) -> int:
    """A demo contact reading `lang` who has received messages (the simulator shows it)."""
    return db.value(
        "SELECT c.id FROM contacts c WHERE c.language = ? AND c.erased_at IS NULL AND "
        "c.opted_out_at IS NULL AND EXISTS (SELECT 1 FROM outbox_messages o WHERE "
        "o.contact_id = c.id AND o.campaign_id IS NOT NULL AND o.sent_at IS NOT NULL) "
        "ORDER BY c.id LIMIT 1",
        lang,
    )


def _upcoming_workshop(db) -> tuple[int, str]:
    """The first upcoming scheduled workshop with registrations: (id, its ISO week)."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    rows = db.rows(
        "SELECT w.id, w.starts_at FROM workshops w WHERE w.status = 'scheduled' "
        "AND w.starts_at > ? AND EXISTS (SELECT 1 FROM workshop_registrations r "
        "WHERE r.workshop_id = w.id) ORDER BY w.starts_at LIMIT 1",
        now,
    )
    assert rows, "the demo has no upcoming workshop with registrations"
    workshop_id, starts_at = rows[0]
    start = datetime.fromisoformat(str(starts_at)[:19]).replace(tzinfo=UTC)
    year, week, _day = start.astimezone(ZoneInfo(ORG_TIMEZONE)).isocalendar()
    return workshop_id, f"{year}-W{week:02d}"


@pytest.mark.parametrize("lang", LANGS)
def test_navigation_journey(make_ui, live_server, lang):
    from playwright.sync_api import expect

    db = live_server.db
    ui = make_ui(lang)
    other = "en" if lang == "es" else "es"
    page = ui.new_page()
    ui.login(page, COORDINATOR)

    # --- The phone simulator: search the list, then a reply that needs review ---------------
    page.click('.mainnav a[href="/simulator"]')
    ui.check(page, "simulator")
    assert _current_section(page) == ["/simulator"]
    search = page.locator("#sim-filter")
    expect(search).to_be_visible()
    items = page.locator("[data-sim-item]")
    total = items.count()
    assert total > 1
    name = items.first.locator("a").inner_text().split("·")[0].strip()
    search.click()
    page.keyboard.type(name)
    expect(page.locator("[data-sim-item]:visible").first).to_contain_text(name)
    assert page.locator("[data-sim-item]:visible").count() < total or total == 1
    page.keyboard.press("Escape")
    expect(page.locator("[data-sim-item]:visible")).to_have_count(total)
    page.keyboard.type("zzqxw")
    expect(page.locator("[data-sim-item]:visible")).to_have_count(0)
    expect(page.locator("[data-sim-status]")).to_contain_text("zzqxw")
    ui.check(page, "simulator-no-match")
    page.keyboard.press("Escape")
    expect(page.locator("[data-sim-item]:visible")).to_have_count(total)
    contact_id = _phone_in(db, lang)
    ui.goto(page, f"/simulator/{contact_id}", "phone")
    assert _current_section(page) == ["/simulator"]
    page.fill("#body", STOP_REQUEST[lang])
    page.click("#submit")
    expect(page.locator(".flash--info")).to_be_visible()
    ui.check(page, "phone-replied")

    # --- The dashboard: the reply to review, the upcoming workshops ---------------------------
    page.click('.mainnav a[href="/dashboard"]')
    ui.check(page, "dashboard-attention")
    assert _current_section(page) == ["/dashboard"]
    attention = page.locator(".dash-attention")
    # The demo has two campaigns: the link to the inbox of the one the reply was filed under.
    campaign_id = db.value(
        "SELECT campaign_id FROM inbound_messages WHERE contact_id = ? ORDER BY id DESC LIMIT 1",
        contact_id,
    )
    review = attention.locator(f'a[href$="/campaigns/{campaign_id}/inbox?flagged=1"]').first
    expect(review).to_be_visible()
    expect(attention.locator('a[href$="/attendance"]').first).to_be_visible()
    assert page.locator(".card--link").count() == 0

    # --- The inbox and the sends belong to Campaigns -------------------------------------------
    review.click()
    page.wait_for_url(re.compile(r"/campaigns/\d+/inbox\?flagged=1$"))
    ui.check(page, "inbox")
    expect(page.locator("main")).to_contain_text(STOP_REQUEST[lang])
    assert _current_section(page) == ["/campaigns/"]
    campaign_id = int(re.search(r"/campaigns/(\d+)/", page.url).group(1))
    ui.goto(page, f"/campaigns/{campaign_id}/sends", "sends")
    assert _current_section(page) == ["/campaigns/"]

    # --- Week view dates are written as the locale writes them (not Title Cased) --------------
    workshop_id, week = _upcoming_workshop(db)
    ui.goto(page, f"/workshops/?week={week}", "workshops-week")
    assert _current_section(page) == ["/workshops/"]
    title = page.locator(".ws-day__title").first
    expect(title).to_be_visible()
    assert title.evaluate("el => getComputedStyle(el).textTransform") == "none"

    # --- A form keeps what was typed when the language is switched -----------------------------
    ui.goto(page, "/campaigns/new", "campaign-new")
    page.fill("#name", "Campaña a medio escribir")
    page.click(f'.langswitch a[hreflang="{other}"]')
    expect(page.locator("html")).to_have_attribute("lang", re.compile(rf"^{other}\b"))
    expect(page.locator("#name")).to_have_value("Campaña a medio escribir")
    ui.check(page, "campaign-new-switched", lang=other)
    page.click(f'.langswitch a[hreflang="{lang}"]')
    expect(page.locator("html")).to_have_attribute("lang", re.compile(rf"^{lang}\b"))
    expect(page.locator("#name")).to_have_value("Campaña a medio escribir")
    ui.check(page, "campaign-new-back")
    ui.goto(page, "/campaigns/new", "campaign-new-again")
    expect(page.locator("#name")).to_have_value("")  # kept once, then forgotten

    # --- A phone: the header folds into a menu button; the roster's first row shows -----------
    phone = ui.new_page(storage_state=page.context.storage_state(), mobile=True)
    phone.goto(live_server.url("/dashboard"))
    ui.check(phone, "mobile-dashboard")
    toggle = phone.locator(".topbar__toggle")
    expect(toggle).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(phone.locator(".mainnav")).to_be_hidden()
    toggle.tap()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(phone.locator('.mainnav a[href="/workshops/"]')).to_be_visible()
    expect(phone.locator("header button.signout")).to_be_visible()
    ui.check(phone, "mobile-menu-open")
    phone.keyboard.press("Escape")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    phone.goto(live_server.url(f"/workshops/{workshop_id}/attendance"))
    ui.check(phone, "mobile-roster")
    row = phone.locator("li.roster-row").first
    expect(row).to_be_visible()
    box = row.bounding_box()
    assert phone.evaluate("window.scrollY") == 0
    assert box and box["y"] + box["height"] <= PHONE_HEIGHT, (
        f"first roster row below the fold: {box}"
    )

    # --- Sign out: a visible button in the header ----------------------------------------------
    signout = page.locator("header button.signout")
    expect(signout).to_be_visible()
    signout.click()
    page.wait_for_url(re.compile(r"/login"))
    # Signing out ends the session but keeps the language chosen in it.
    signed_out_lang = page.evaluate("document.documentElement.lang").split("-")[0]
    assert signed_out_lang == lang
    ui.check(page, "signed-out", lang=signed_out_lang)
    page.goto(live_server.url("/dashboard"))
    page.wait_for_url(re.compile(r"/login"))
    ui.check(page, "signed-out-dashboard", lang=signed_out_lang)

    # --- The evaluator: the organization's reach, links to each campaign's report ------------
    evaluator = ui.new_page()
    ui.login(evaluator, EVALUATOR, slug="evaluator-sign-in")
    stats = evaluator.locator("main .stat").all_inner_texts()
    assert len(stats) == 3, stats
    expect(evaluator.locator('main a[href^="/reports/campaigns/"]').first).to_be_visible()
    assert evaluator.locator(".dash-attention").count() == 0
    evaluator.click('.mainnav a[href="/reports/"]')
    ui.check(evaluator, "evaluator-reports")
    assert evaluator.locator("main .stat").all_inner_texts()[:3] == stats

    # --- The administrator: users and settings at a glance ------------------------------------
    admin = ui.new_page()
    ui.login(admin, ADMIN, slug="admin-sign-in")
    expect(admin.locator("#admin-heading")).to_be_visible()
    expect(admin.locator('main a[href="/organization/settings"]')).to_be_visible()
    expect(admin.locator('main a[href="/users"]')).to_be_visible()
