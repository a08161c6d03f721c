"""Journey 9, an experiment (issue 18): the admin allows a link host → a campaign with a
message carrying a tracked link and a workshop invitation → an experiment (arms A and B,
a holdout, ratios 1/1/2, balanced within state and age band), arm B's own text, the click
within 7 days pre-registered (the RSVP within 14 as a secondary outcome) → started → the
message scheduled for now, the worker sends → each arm's text on its phone, nothing on the
holdout's → one recipient opens their short link in a phone's browser (a click), another's
is fetched by a messaging app's preview (not a click) → the workshop invitation, the worker
→ arm A and B reply YES/SI → the experiment report's participant flow, and the campaign
report's click-through.

Four contacts in one stratum (same state, ages 21-24: one age band) and ratios 1/1/2 fill
one block of the blocked allocation exactly: one contact in A, one in B, two in the
holdout, whoever they are (the keyed hash decides; the journey reads who from the
database). The outcomes' windows (at least a day) have not ended during the journey, so
the report counts every contact as not yet measurable and no outcome event yet: that is
its design (intention to treat over fixed windows), and the journey asserts it.

The short link is opened by a browser context of its own (no cookies, a phone's user
agent; Playwright's headless user agent is on the bot list). It follows the redirect to
the destination, on a host that never resolves (.invalid: Playwright cannot intercept a
redirect's target), and shows no page of the app, so it is not watched by the page
checker. It opens the link more than PREVIEW_SECONDS after the message's delivery: an
earlier fetch counts as a preview (app/links/clicks.py).
"""

import re
import time
from contextlib import suppress
from datetime import UTC, datetime, timedelta

import pytest

from app.links.clicks import PREVIEW_SECONDS
from tests.e2e.helpers import (
    ADMIN,
    COORDINATOR,
    LANGS,
    ORG_TIMEZONE,
    TIMEOUT_MS,
    contacts_csv,
    local_now,
)

# Phone blocks 7 and 8 from row 5 (journey 8 uses row 0 of blocks 7-0).
BLOCK = {"es": 7, "en": 8}
FIRST_ROW = 5
NAMES = {
    "es": ["Itzayana", "Xiadani", "Yolotzin", "Tenoch"],
    "en": ["Kinsley", "Bentley", "Oaklynn", "Ryker"],
}
LABELS = {"es": ("Directo", "Amigos"), "en": ("Direct", "Friends")}
TITLES = {"es": "Pastillas falsas: taller e2e", "en": "Fake pills: e2e workshop"}
RSVP = {"es": "SI", "en": "YES"}
PHONE_BROWSER = (
    "Mozilla/5.0 (Linux; Android 14; moto g54) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36"
)
MESSAGING_APP_PREVIEW = "WhatsApp/2.24.6.77 A"


def _texts(link: str) -> dict:
    """Bodies of the campaign's message (arm A sends it) and of arm B's variant."""
    return {
        "message": {
            "es": f"Una pastilla que no es de farmacia puede tener fentanilo. Infórmate: {link}",
            "en": f"A pill that is not from a pharmacy can contain fentanyl. Learn more: {link}",
        },
        "variant": {
            "es": f"Tus amigos también quieren saber de las pastillas falsas. Compárteles: {link}",
            "en": f"Your friends want to know about fake pills too. Share this with them: {link}",
        },
    }


def _marker(text: str) -> str:
    """The first words of a body, as found in the phone's conversation."""
    return text.split(":")[0]


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


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _table_rows(table) -> dict[str, list[str]]:
    """{row heading: [cell texts]} of a report table's body."""
    found = {}
    for row in table.locator("tbody tr").all():
        heading, *cells = (" ".join(t.split()) for t in row.locator("th, td").all_inner_texts())
        found[heading] = cells
    return found


@pytest.mark.parametrize("lang", LANGS)
def test_experiment_journey(make_ui, live_server, place, tmp_path, lang):
    from playwright.sync_api import expect

    db = live_server.db
    tag = f"e2e-experimento-{lang}"
    contact_ids = _load_contacts(live_server, tmp_path, lang, place, tag)
    host = f"e2e-{lang}.alcance.invalid"  # never resolves (RFC 6761)
    destination = f"https://{host}/pastillas-falsas"
    texts = _texts(f"{{link:{destination}}}")
    ui = make_ui(lang)

    # --- The admin allows the link's host -------------------------------------------------------
    admin = ui.new_page()
    ui.login(admin, ADMIN, slug="admin-sign-in")
    admin.click('.mainnav a[href="/organization/settings"]')
    ui.check(admin, "settings")
    hosts = admin.locator("#link_hosts")
    hosts.fill("\n".join([*hosts.input_value().split(), host]))
    admin.click("#submit")
    expect(admin.locator(".flash--success")).to_be_visible()
    ui.check(admin, "settings-saved")
    allowed = db.value("SELECT link_hosts FROM organizations WHERE slug = 'demo'")
    assert host in allowed.split(), allowed

    # --- The coordinator: an audience and a campaign with a link and an invitation --------------
    page = ui.new_page()
    ui.login(page, COORDINATOR)
    page.click('.mainnav a[href="/audiences/"]')
    ui.check(page, "audiences")
    page.click('a[href="/audiences/new"]')
    ui.check(page, "audience-new")
    audience_name = f"E2E {lang} · {tag}"
    page.fill("#name", audience_name)
    page.fill("#tags", tag)
    expect(page.locator("#audience-preview .stat")).to_have_text(str(len(contact_ids)))
    page.click("#submit")
    page.wait_for_url(re.compile(r"/audiences/\d+$"))
    ui.check(page, "audience-detail")

    page.click('.mainnav a[href="/campaigns/"]')
    ui.check(page, "campaigns")
    page.click('a[href="/campaigns/new"]')
    ui.check(page, "campaign-new")
    campaign_name = f"E2E {lang}: ¿qué mensaje funciona?"
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

    link_label = f"E2E {lang}: enlace"
    page.click(f'a[href="/campaigns/{campaign_id}/messages/new"]')
    ui.check(page, "message-new")
    page.fill("#label", link_label)
    page.fill("#body_es", texts["message"]["es"])
    page.fill("#body_en", texts["message"]["en"])
    ui.check(page, "message-with-link")
    page.click("#submit")
    page.wait_for_url(re.compile(rf"/campaigns/{campaign_id}$"))
    ui.check(page, "campaign-with-message")
    invitation_label = f"E2E {lang}: invitación"
    page.click(f'a[href="/campaigns/{campaign_id}/messages/new"]')
    ui.check(page, "invitation-new")
    page.fill("#label", invitation_label)
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
    link_message = db.value(
        "SELECT id FROM campaign_messages WHERE campaign_id = ? AND label = ?",
        campaign_id,
        link_label,
    )

    # --- The experiment: design, pre-registration, arm B's text, start --------------------------
    page.click('a[data-link="experiment"]')
    page.wait_for_url(re.compile(rf"/experiments/campaigns/{campaign_id}$"))
    ui.check(page, "experiment-none")
    page.click(f'form[action="/experiments/campaigns/{campaign_id}/new"] button')
    page.wait_for_url(re.compile(r"/experiments/\d+$"))
    expect(page.locator(".flash--success")).to_be_visible()
    ui.check(page, "experiment-draft")
    experiment_id = int(page.url.rsplit("/", 1)[1])

    page.click(f'a[href="/experiments/{experiment_id}/design"]')
    ui.check(page, "design")
    page.fill("#label_a", LABELS[lang][0])
    page.fill("#weight_a", "1")
    page.fill("#label_b", LABELS[lang][1])
    page.fill("#weight_b", "1")
    page.check("#holdout")
    page.fill("#holdout_weight", "2")
    page.check("#stratify")
    page.select_option("#audience", label=audience_name)
    page.click("#submit")
    page.wait_for_url(re.compile(rf"/experiments/{experiment_id}$"))
    expect(page.locator(".flash--success")).to_be_visible()
    ui.check(page, "design-saved")
    # One stratum of four and ratios 1/1/2: one block, filled exactly.
    planned = page.locator('table[data-table="balance"]')
    for key, n in (("A", 1), ("B", 1), ("holdout", 2)):
        expect(planned.locator(f'[data-total="{key}"]')).to_have_text(str(n))

    page.click(f'a[href="/experiments/{experiment_id}/outcomes"]')
    ui.check(page, "outcomes")
    page.select_option("#kind_0", "clicked")
    page.fill("#window_0", "7")
    page.select_option("#kind_1", "rsvp_yes")
    page.fill("#window_1", "14")
    page.click("#submit")
    page.wait_for_url(re.compile(rf"/experiments/{experiment_id}$"))
    expect(page.locator(".flash--success")).to_be_visible()
    ui.check(page, "outcomes-saved")
    registered = page.locator('section[aria-labelledby="outcomes-heading"] ul').first
    expect(registered.locator("li")).to_have_count(2)  # the primary and a secondary

    arms = dict(
        db.rows("SELECT key, id FROM experiment_arms WHERE experiment_id = ?", experiment_id)
    )
    page.click(f'a[href="/experiments/{experiment_id}/arms/{arms["B"]}/messages/{link_message}"]')
    ui.check(page, "variant-b")
    page.fill("#body_es", texts["variant"]["es"])
    page.fill("#body_en", texts["variant"]["en"])
    page.click("#submit")
    page.wait_for_url(re.compile(rf"/experiments/{experiment_id}$"))
    expect(page.locator(".flash--success")).to_be_visible()
    ui.check(page, "variant-saved")

    page.once("dialog", lambda dialog: dialog.accept())  # "Start the experiment?"
    page.click(f'form[action="/experiments/{experiment_id}/start"] button')
    expect(page.locator(".flash--success")).to_contain_text(str(len(contact_ids)))
    expect(page.locator("h1 [data-status]")).to_have_attribute("data-status", "running")
    ui.check(page, "experiment-running")
    arm_of = dict(
        db.rows(
            "SELECT a.contact_id, r.key FROM experiment_assignments a JOIN experiment_arms r "
            "ON r.id = a.arm_id WHERE a.experiment_id = ?",
            experiment_id,
        )
    )
    assert sorted(arm_of) == sorted(contact_ids), arm_of
    assert sorted(arm_of.values()) == ["A", "B", "holdout", "holdout"], arm_of
    in_arm = {key: [c for c in contact_ids if arm_of[c] == key] for key in ("A", "B", "holdout")}
    (person_a,), (person_b,), held_out = in_arm["A"], in_arm["B"], in_arm["holdout"]
    stored = page.locator('table[data-table="balance"]')
    for key, n in (("A", 1), ("B", 1), ("holdout", 2)):
        expect(stored.locator(f'[data-total="{key}"]')).to_have_text(str(n))

    # --- The message, scheduled for now: the holdout is left out --------------------------------
    page.click(f'a[href="/campaigns/{campaign_id}"]')
    page.wait_for_url(re.compile(rf"/campaigns/{campaign_id}$"))
    ui.check(page, "campaign-running-experiment")
    page.click(f'a[href="/campaigns/{campaign_id}/sends/new"]')
    ui.check(page, "schedule")
    page.select_option("#message", label=link_label)
    page.select_option("#audience", label=audience_name)
    page.check('input[name="kind"][value="once"]')
    page.check('input[name="timing"][value="fixed"]')
    moment = local_now(ORG_TIMEZONE)
    page.fill("#local_date", moment.date().isoformat())
    page.fill("#local_time", moment.strftime("%H:%M"))
    page.click("#submit")
    expect(page.locator("#confirm")).to_be_visible()
    ui.check(page, "schedule-review")
    page.click("#confirm")
    page.wait_for_url(re.compile(r"/sends/\d+$"))
    ui.check(page, "send-scheduled")
    send_id = int(page.url.rsplit("/", 1)[1])

    live_server.run_worker()  # fan-out (each arm its text, no holdout) and the sending
    sent = dict(
        db.rows("SELECT contact_id, status FROM outbox_messages WHERE send_id = ?", send_id)
    )
    assert sent == {person_a: "delivered", person_b: "delivered"}, sent
    page.reload()
    ui.check(page, "send-sent")

    # --- Each arm's text on its phone; nothing on the holdout's ------------------------------
    prefix = live_server.url("/l/")
    short_link = re.compile(re.escape(prefix) + r"[0-9A-Za-z]{4,16}")
    links = {}
    for person, text, other in (
        (person_a, texts["message"][lang], texts["variant"][lang]),
        (person_b, texts["variant"][lang], texts["message"][lang]),
    ):
        ui.goto(page, f"/simulator/{person}", f"phone-{arm_of[person]}")
        conversation = page.locator("#conversation")
        expect(conversation).to_contain_text(_marker(text))
        expect(conversation).not_to_contain_text(_marker(other))
        expect(conversation).not_to_contain_text("{link:")
        found = short_link.findall(conversation.inner_text())
        assert len(found) == 1, found
        links[person] = found[0]
    assert links[person_a] != links[person_b]
    assert (
        db.value(
            "SELECT COUNT(*) FROM tracked_links WHERE campaign_id = ? AND contact_id IN (?, ?)",
            campaign_id,
            *held_out,
        )
        == 0
    )

    # --- A click (a phone's browser, after the preview seconds) and a messaging app's preview -
    left = db.rows(
        "SELECT MAX(sent_at), MAX(final_at) FROM outbox_messages WHERE send_id = ?", send_id
    )[0]
    last = max(_utc(value) for value in left if value)
    wait = (last + timedelta(seconds=PREVIEW_SECONDS + 1) - datetime.now(UTC)).total_seconds()
    if wait > 0:
        time.sleep(wait)

    def open_link(url: str, user_agent: str) -> None:
        """Open a short link in a fresh browser (no cookies) that says it is `user_agent`;
        it follows the redirect to the destination, which never resolves (.invalid)."""
        from playwright.sync_api import Error as PlaywrightError

        context = ui.browser.new_context(
            user_agent=user_agent,
            locale="es-MX" if lang == "es" else "en-US",
            viewport={"width": 390, "height": 844},
            is_mobile=True,
            has_touch=True,
        )
        ui.contexts.append(context)
        context.set_default_timeout(TIMEOUT_MS)
        tab = context.new_page()
        requested = []
        tab.on("request", lambda request: requested.append(request.url))
        with tab.expect_response(url) as answered, suppress(PlaywrightError):
            tab.goto(url)  # fails at the destination, whose host does not exist
        response = answered.value
        assert response.status == 302, response.status
        assert response.headers["location"] == destination, response.headers
        assert "set-cookie" not in response.headers, response.headers
        assert requested[:2] == [url, destination], requested
        assert context.cookies() == []

    open_link(links[person_a], PHONE_BROWSER)
    open_link(links[person_b], MESSAGING_APP_PREVIEW)
    counted = {
        contact: (clicks, previews, first_click is not None)
        for contact, clicks, previews, first_click in db.rows(
            "SELECT contact_id, clicks, previews, first_click_at FROM tracked_links "
            "WHERE campaign_id = ?",
            campaign_id,
        )
    }
    assert counted == {person_a: (1, 0, True), person_b: (0, 1, False)}, counted
    assert db.rows(
        "SELECT contact_id, message_id FROM participation_events WHERE campaign_id = ? "
        "AND kind = 'clicked'",
        campaign_id,
    ) == [(person_a, link_message)]

    # --- The workshop invitation: arms A and B say yes; the holdout is never invited ----------
    page.click('.mainnav a[href="/workshops/"]')
    ui.check(page, "workshops")
    page.click('a[href="/workshops/new"]')
    ui.check(page, "workshop-new")
    page.select_option("#campaign_id", label=campaign_name)
    page.fill("#title_es", TITLES["es"])
    page.fill("#title_en", TITLES["en"])
    page.select_option("#kind", "community_workshop")
    page.select_option("#language", lang)
    page.fill("#venue_name", "Casa de la Cultura")
    page.select_option("#state", "MX:02")
    page.fill("#municipality", "Tijuana")
    day = local_now(ORG_TIMEZONE).date() + timedelta(days=7)
    page.fill("#local_date", day.isoformat())
    page.fill("#start_time", "17:00")
    page.fill("#end_time", "19:00")
    page.fill("#capacity", "10")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/workshops/\d+$"))
    ui.check(page, "workshop-created")
    workshop_id = int(page.url.rsplit("/", 1)[1])
    code = page.locator(".ws-code").inner_text().strip()

    page.click(f'a[href="/workshops/{workshop_id}/invite"]')
    ui.check(page, "invite")
    page.select_option("#message", label=invitation_label)
    page.select_option("#audience", label=audience_name)
    moment = local_now(place.zone)
    page.fill("#local_date", moment.date().isoformat())
    page.fill("#local_time", moment.strftime("%H:%M"))
    page.click("#submit")
    page.wait_for_url(re.compile(rf"/workshops/{workshop_id}$"))
    ui.check(page, "invited")
    live_server.run_worker()
    invited = dict(
        db.rows(
            "SELECT contact_id, status FROM outbox_messages WHERE workshop_id = ? "
            "AND purpose = 'invitation'",
            workshop_id,
        )
    )
    assert invited == {person_a: "delivered", person_b: "delivered"}, invited

    for person in (person_a, person_b):
        ui.goto(page, f"/simulator/{person}", f"phone-{arm_of[person]}-invited")
        expect(page.locator("#conversation")).to_contain_text(code)
        page.fill("#body", f"{RSVP[lang]} {code}")
        page.click("#submit")
        expect(page.locator(".flash--info")).to_be_visible()
        ui.check(page, f"phone-{arm_of[person]}-rsvp")
    live_server.run_worker()  # the confirmations
    assert sorted(
        db.rows(
            "SELECT contact_id, status FROM workshop_registrations WHERE workshop_id = ? "
            "AND status != 'invited'",
            workshop_id,
        )
    ) == sorted([(person_a, "confirmed"), (person_b, "confirmed")])

    # The holdout's phones never got anything of the campaign (nor anything else).
    for n, person in enumerate(held_out, 1):
        ui.goto(page, f"/simulator/{person}", f"phone-holdout-{n}")
        conversation = page.locator("#conversation")
        expect(conversation.locator(".bubble--out")).to_have_count(0)
        expect(conversation).not_to_contain_text(prefix)
    assert (
        db.value(
            "SELECT COUNT(*) FROM outbox_messages WHERE campaign_id = ? AND contact_id IN (?, ?) "
            "AND status NOT IN ('canceled', 'skipped')",
            campaign_id,
            *held_out,
        )
        == 0
    )

    # --- The experiment report: the participant flow, the outcomes not yet measurable --------
    page.click('.mainnav a[href="/reports/"]')
    ui.check(page, "reports")
    page.click('main a[href="/reports/experiments"]')
    ui.check(page, "experiments")
    page.click(f'main a[href="/reports/experiments/{campaign_id}"]')
    page.wait_for_url(re.compile(rf"/reports/experiments/{campaign_id}$"))
    ui.check(page, "experiment-report")
    flow = _table_rows(page.locator('section[aria-labelledby="flow-heading"] table'))
    assert len(flow) == 3, flow
    by_key = dict(zip(("A", "B", "holdout"), flow.values(), strict=True))
    # Assigned, eligible at send (holdout: eligible today), delivered, measured, pending.
    assert by_key == {
        "A": ["1", "1", "1", "0", "1"],
        "B": ["1", "1", "1", "0", "1"],
        "holdout": ["2", "2", "0", "0", "2"],
    }, flow
    names = list(flow)
    assert LABELS[lang][0] in names[0] and LABELS[lang][1] in names[1], names
    for code_, pending in (("o1", (1, 1, 2)), ("o2", (1, 1, 2))):
        section = page.locator(f'section[aria-labelledby="{code_}-heading"]')
        outcome = _table_rows(section.locator("table").first)
        # n, with the outcome, proportion and its interval (none yet), not yet measurable.
        assert [row[:2] + row[-1:] for row in outcome.values()] == [
            ["0", "0", str(n)] for n in pending
        ], outcome
    expect(page.locator('section[aria-labelledby="o1-heading"] h2')).to_contain_text("7")

    # --- The campaign report: the message's click-through counts the one click ---------------
    page.click(f'main a[href="/reports/campaigns/{campaign_id}"]')
    page.wait_for_url(re.compile(rf"/reports/campaigns/{campaign_id}"))
    ui.check(page, "campaign-report")
    messages = _table_rows(page.locator('section[aria-labelledby="messages-heading"] table'))
    row = messages[link_label]
    # Delivered, contacts delivered, failed, undelivered, delivery rate, opt-outs, opt-out
    # rate, clicked, click-through.
    assert row[0] == "2" and row[1] == "2" and row[7] == "1", row
    assert row[8].startswith("50"), row
