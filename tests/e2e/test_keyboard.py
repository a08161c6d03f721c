"""The coordinator's sign-in and scheduling steps with the keyboard only: Tab to move,
Enter or Space to activate, no clicks. Text is typed into the focused field, and a select
takes the typed start of an option (type-ahead), as a keyboard user does. Every element
reached with Tab must show a visible focus indicator, and the first Tab must land on the
"skip to content" link.

It schedules the demo campaign's first message to the demo "English speakers (US)" audience
20 days ahead (so no other journey's worker sends it) and then cancels that send, leaving the
demo data as it was.
"""

import re
from datetime import timedelta

from tests.e2e.helpers import COORDINATOR, ORG_TIMEZONE, local_now

DEMO_CAMPAIGN = "Una sola dosis: fentanilo"
MAX_TABS = 120

FOCUS_JS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
  const ring = style.boxShadow && style.boxShadow !== "none";
  return {tag: el.tagName.toLowerCase(), id: el.id, href: el.getAttribute("href"),
          text: (el.innerText || el.value || "").trim().slice(0, 40), visible: outline || ring};
}"""


def tab_to(page, selector: str) -> dict:
    """Press Tab until the focused element matches `selector`; its focus must be visible."""
    visited = []
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUS_JS)
        visited.append(focused)
        if focused and page.evaluate("s => document.activeElement.matches(s)", selector):
            assert focused["visible"], f"no visible focus indicator on {focused}"
            return focused
    raise AssertionError(f"Tab never reached {selector}; visited: {visited}")


def test_keyboard_only_sign_in_and_schedule(make_ui, live_server):
    from playwright.sync_api import expect

    db = live_server.db
    ui = make_ui("es")
    page = ui.new_page()  # an English-speaking browser: the language switch comes first
    page.goto(live_server.url("/login"))
    ui.check(page, "sign-in-en", lang="en")
    page.keyboard.press("Tab")
    first = page.evaluate(FOCUS_JS)
    assert first and first["href"] == "#main", f"the first Tab should reach the skip link: {first}"
    tab_to(page, '.langswitch a[hreflang="es"]')
    page.keyboard.press("Enter")
    expect(page.locator("html")).to_have_attribute("lang", re.compile(r"^es\b"))
    ui.check(page, "sign-in")

    tab_to(page, "#email")
    page.keyboard.type(COORDINATOR[0])
    tab_to(page, "#password")
    page.keyboard.type(COORDINATOR[1])
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/dashboard$"))
    ui.check(page, "dashboard")

    campaign_id = db.value("SELECT id FROM campaigns WHERE name = ?", DEMO_CAMPAIGN)
    tab_to(page, '.mainnav a[href="/campaigns/"]')
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/campaigns/$"))
    ui.check(page, "campaigns")
    tab_to(page, f'main a[href="/campaigns/{campaign_id}"]')
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/campaigns/{campaign_id}$"))
    ui.check(page, "campaign")
    tab_to(page, f'a[href="/campaigns/{campaign_id}/sends/new"]')
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/sends/new$"))
    ui.check(page, "schedule")

    # The form: message and audience by type-ahead, "once" at the recipient's local time
    # (the defaults), a date 20 days ahead and 14:30.
    tab_to(page, "#message")
    page.keyboard.type("Dato")
    tab_to(page, "#audience")
    page.keyboard.type("English")
    day = local_now(ORG_TIMEZONE).date() + timedelta(days=20)
    tab_to(page, "#local_date")
    page.keyboard.type(day.strftime("%m%d%Y"))  # Chromium's date field: month, day, year
    tab_to(page, "#local_time")
    page.keyboard.type("1430")
    values = page.evaluate("""() => Object.fromEntries(["message", "audience", "local_date",
        "local_time"].map(id => [id, document.getElementById(id).selectedOptions
        ? document.getElementById(id).selectedOptions[0].text
        : document.getElementById(id).value]))""")
    assert values == {
        "message": "Dato clave",
        "audience": "English speakers (US)",
        "local_date": day.isoformat(),
        "local_time": "14:30",
    }, values
    assert page.locator('input[name="kind"][value="once"]').is_checked()
    assert page.locator('input[name="timing"][value="local"]').is_checked()
    ui.check(page, "schedule-filled")
    tab_to(page, "#submit")
    page.keyboard.press("Space")
    expect(page.locator("#confirm")).to_be_visible()
    ui.check(page, "schedule-review")  # recipients, segments and cost before confirming
    tab_to(page, "#confirm")
    page.keyboard.press("Space")
    page.wait_for_url(re.compile(r"/sends/\d+$"))
    ui.check(page, "send-scheduled")
    send_id = int(page.url.rsplit("/", 1)[1])
    scheduled = db.value(
        "SELECT COUNT(*) FROM outbox_messages WHERE send_id = ? AND status = 'scheduled'", send_id
    )
    assert scheduled and scheduled > 0
    expect(page.locator(".flash--success")).to_contain_text(str(scheduled))

    # Cancel it again: the confirmation dialog is answered like a keyboard user's Enter.
    page.once("dialog", lambda dialog: dialog.accept())
    tab_to(page, 'form[action$="/cancel"] button')
    page.keyboard.press("Enter")
    expect(page.locator(".flash--success")).to_be_visible()
    ui.check(page, "send-canceled")
    assert db.rows("SELECT DISTINCT status FROM outbox_messages WHERE send_id = ?", send_id) == [
        ("canceled",)
    ]
