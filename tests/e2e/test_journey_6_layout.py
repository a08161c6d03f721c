"""Journey 6, wide tables (issue 14): at 1366×768 (a coordinator's laptop) and at 390×844 (a
phone), the admin's Users table and the report tables (campaigns, CSAP strategy, IOM level,
the workshop funnel) never hide a column. Each table sits in a `.table-scroll` wrapper
(app/static/css/tables.css) that stays inside the page; its last column is visible, or
reachable by scrolling inside that wrapper. At 1366 px the Users, campaigns, strategy and
level tables fit without scrolling. Both languages; every page through helpers.Checker
(axe-core: zero serious or critical violations).
"""

import pytest

from tests.e2e.helpers import ADMIN, LANGS

DEMO_CAMPAIGN = "Una sola dosis: fentanilo"
VIEWPORTS = {"laptop": (1366, 768), "phone": (390, 844)}

# Where each wrapper is, its right edge and the page's width; then, scrolled to its end, the
# last column header's box against the wrapper's box.
MEASURE_JS = """(wrapper) => {
  const page = document.documentElement.clientWidth;
  const box = wrapper.getBoundingClientRect();
  const fits = wrapper.scrollWidth <= wrapper.clientWidth + 1;
  wrapper.scrollLeft = wrapper.scrollWidth;
  const ths = wrapper.querySelectorAll("thead th");
  const last = ths[ths.length - 1].getBoundingClientRect();
  const inner = wrapper.getBoundingClientRect();
  const result = {
    page, left: box.left, right: box.right, fits,
    lastLeft: last.left, lastRight: last.right, innerLeft: inner.left, innerRight: inner.right,
    scrolled: wrapper.scrollLeft, focusable: wrapper.tabIndex === 0,
    role: wrapper.getAttribute("role"), label: wrapper.getAttribute("aria-label") || "",
    table: (wrapper.querySelector("caption") || {}).textContent || "",
  };
  wrapper.scrollLeft = 0;
  return result;
}"""


def _wrappers(page, selector: str):
    found = page.locator(selector)
    assert found.count() >= 1, f"no table matching {selector!r} on {page.url}"
    return [found.nth(i) for i in range(found.count())]


def _check_tables(page, selector: str, *, must_fit: bool, where: str) -> list[dict]:
    """Every table wrapper matching `selector`: inside the page; its last header cell inside
    the wrapper once scrolled to the end; a focusable, named region."""
    measured = []
    page_overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert page_overflow <= 1, f"{where}: the page scrolls sideways by {page_overflow}px"
    for wrapper in _wrappers(page, selector):
        m = wrapper.evaluate(MEASURE_JS)
        name = f"{where} · {m['table'][:40] or m['label']}"
        assert m["left"] >= -1 and m["right"] <= m["page"] + 1, f"{name}: wrapper leaves the page"
        assert m["lastLeft"] >= m["innerLeft"] - 1, f"{name}: last column not reachable {m}"
        assert m["lastRight"] <= m["innerRight"] + 1, f"{name}: last column cut off {m}"
        assert m["focusable"] and m["role"] == "region" and m["label"], f"{name}: {m}"
        if must_fit:
            assert m["fits"], f"{name}: does not fit at this width {m}"
        measured.append(m)
    return measured


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_wide_tables_never_hide_a_column(make_ui, live_server, lang, viewport):
    width, height = VIEWPORTS[viewport]
    laptop = viewport == "laptop"
    ui = make_ui(lang)
    page = ui.new_page(mobile=not laptop)
    if laptop:
        page.set_viewport_size({"width": width, "height": height})
    ui.login(page, ADMIN)

    ui.goto(page, "/users", f"users-{viewport}")
    _check_tables(page, ".table-scroll:has(table.users-table)", must_fit=laptop, where="users")

    ui.goto(page, "/reports/", f"reports-{viewport}")
    for table in ("Campaigns", "CSAP", "IOM") if lang == "en" else ("Campañas", "CSAP", "IOM"):
        selector = f'.table-scroll:has(caption:has-text("{table}"))'
        _check_tables(page, selector, must_fit=laptop, where=f"reports {table}")
    _check_tables(page, ".table-scroll", must_fit=False, where="reports")

    campaign_id = live_server.db.value("SELECT id FROM campaigns WHERE name = ?", DEMO_CAMPAIGN)
    ui.goto(page, f"/reports/campaigns/{campaign_id}", f"campaign-report-{viewport}")
    funnel = "Workshop funnel" if lang == "en" else "Embudo de talleres"
    _check_tables(
        page, f'.table-scroll:has(caption:has-text("{funnel}"))', must_fit=laptop, where="funnel"
    )
    _check_tables(page, ".table-scroll", must_fit=False, where="campaign report")

    # A caption never repeats its card's heading on screen (it stays for screen readers).
    for heading in page.locator("section.card > h2").all():
        text = heading.inner_text().strip()
        card = heading.locator("xpath=..")
        visible = card.locator("caption").evaluate_all(
            """(caps) => caps.map(c => [...c.childNodes]
                 .filter(n => n.nodeType === 3 || !n.classList.contains("visually-hidden"))
                 .filter(n => !(n.classList && n.classList.contains("report-caption-note")))
                 .map(n => n.textContent).join("").trim())"""
        )
        assert text not in visible, f"caption repeats its card's title {text!r}"

    if not laptop:  # on a phone, the keyboard scrolls a wide table too
        wrapper = page.locator(f'.table-scroll:has(caption:has-text("{funnel}"))')
        assert wrapper.evaluate("(w) => w.scrollWidth > w.clientWidth"), "funnel fits a phone?"
        wrapper.focus()
        assert wrapper.evaluate("(w) => document.activeElement === w")
        page.keyboard.press("ArrowRight")
        page.wait_for_function(
            "(sel) => document.querySelector(sel).scrollLeft > 0",
            arg=".table-scroll:focus",
        )
