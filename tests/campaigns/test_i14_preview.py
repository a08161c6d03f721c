"""Issue 14: the message editor's phone preview shows exactly what a recipient gets: the
text with the workshop's real values and RSVP line when the message invites to one, and the
opt-out line (taken from app.outbox.text, never hard-coded) when it is added. The page
carries that data for sms_counter.js, which composes and counts the same text."""

import json
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import pytest

from app.campaigns import previews
from app.campaigns.services import summarize_body
from app.extensions import db
from app.outbox.placeholders import fallback_values, render
from app.outbox.text import opt_out_notice
from app.outreach.models import OutreachSend
from app.workshops.previews import workshop_events
from app.workshops.texts import rsvp_line, workshop_values
from tests.factories import make_campaign, make_message, make_workshop
from tests.support import NOW

JS_FILE = Path(__file__).resolve().parents[2] / "app" / "static" / "js" / "sms_counter.js"
INVITATION_ES = "Hola {first_name}, te esperamos el {workshop_date} en {workshop_venue}."
INVITATION_EN = "Hi {first_name}, join us on {workshop_date} at {workshop_venue}."


def text(response) -> str:
    body = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return " ".join(unescape(body).split())


def preview_data(response) -> dict:
    html = response.get_data(as_text=True)
    match = re.search(r"<div id=\"sms-preview-data\" hidden data-preview='([^']*)'>", html)
    assert match, "no preview data in the page"
    return json.loads(unescape(match.group(1)))


@pytest.fixture
def with_workshops(monkeypatch):
    # The provider app/workshops registers when the app is built.
    monkeypatch.setattr(previews, "_PROVIDERS", [workshop_events])


@pytest.fixture
def without_workshops(monkeypatch):
    monkeypatch.setattr(previews, "_PROVIDERS", [])


@pytest.fixture
def signed_in(client, login, coordinator):
    login(coordinator)
    return coordinator


@pytest.fixture
def campaign(org):
    return make_campaign(org, name="Sin Fentanilo")


@pytest.fixture
def workshop(org, campaign):
    return make_workshop(org, campaign=campaign, code="4821", venue_name="Casa de la Cultura")


@pytest.fixture
def invitation(campaign, workshop):
    """A message already scheduled as the workshop's invitation."""
    message = make_message(
        campaign, label="Invitación", body_es=INVITATION_ES, body_en=INVITATION_EN
    )
    db.session.add(
        OutreachSend(
            organization_id=campaign.organization_id,
            campaign_id=campaign.id,
            message_id=message.id,
            kind="once",
            fixed_at=NOW,
            workshop_id=workshop.id,
        )
    )
    db.session.commit()
    return message


def test_page_carries_the_opt_out_line_of_each_language(
    client, signed_in, campaign, without_workshops
):
    response = client.get(f"/campaigns/{campaign.id}/messages/new")
    assert response.status_code == 200
    data = preview_data(response)
    notices = {lang: opt_out_notice(lang) for lang in ("es", "en")}
    assert notices["es"] != notices["en"]
    for lang in ("es", "en"):
        assert data["languages"][lang]["notice"] == notices[lang]
        assert data["languages"][lang]["fallbacks"] == fallback_values(lang)
        assert data["languages"][lang]["values"]["org"] == "Jóvenes Libres A.C."
    assert data["first"] is True and data["noticeAlways"] is False
    assert data["events"] == [] and data["selected"] == ""
    html = response.get_data(as_text=True)
    for lang in ("es", "en"):
        assert f'data-sms-phone="{lang}" data-sms-source="body_{lang}"' in html
    assert 'name="preview_first"' in html and "data-sms-event" not in html


def test_spanish_editor_shows_the_spanish_line_too(client, login, make_user, org, campaign):
    login(make_user(org, role="coordinator", language="es"))
    response = client.get(f"/campaigns/{campaign.id}/messages/new?lang=es")
    assert preview_data(response)["languages"]["es"]["notice"] == opt_out_notice("es")
    assert "En el teléfono de quien lo recibe" in text(response)


def test_organization_that_always_adds_the_line(client, signed_in, org, campaign):
    org.opt_out_notice = "always"
    db.session.commit()
    response = client.get(f"/campaigns/{campaign.id}/messages/new")
    data = preview_data(response)
    assert data["noticeAlways"] is True and data["first"] is True
    assert 'name="preview_first"' not in response.get_data(as_text=True)


def test_invitation_previews_the_real_workshop(
    client, signed_in, campaign, workshop, invitation, with_workshops
):
    response = client.get(f"/campaigns/{campaign.id}/messages/{invitation.id}/edit")
    data = preview_data(response)
    assert data["selected"] == f"workshop-{workshop.id}"
    (event,) = data["events"]
    for lang in ("es", "en"):
        assert event["values"][lang] == workshop_values(workshop, lang)
        assert event["footers"][lang] == rsvp_line(workshop, lang)
    assert event["values"]["es"]["workshop_code"] == "4821"
    assert event["values"]["es"]["workshop_venue"] == "Casa de la Cultura"
    html = response.get_data(as_text=True)
    assert f'<option value="workshop-{workshop.id}" selected>' in html
    # The no-JS preview (the summary beside each text) uses the same values.
    page = text(response)
    date_es = workshop_values(workshop, "es")["workshop_date"]
    assert f"te esperamos el {date_es} en Casa de la Cultura." in page
    assert rsvp_line(workshop, "es") in page and opt_out_notice("es") in page


def post_preview(client, url, **changes):
    page = client.get(url)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True))
    data = {
        "csrf_token": token.group(1),
        "label": "",
        "body_es": INVITATION_ES,
        "body_en": INVITATION_EN,
        "preview": "Preview",
        **changes,
    }
    return client.post(url, data={k: v for k, v in data.items() if v is not None})


def test_preview_with_a_chosen_workshop_and_first_message(
    client, signed_in, campaign, workshop, with_workshops
):
    url = f"/campaigns/{campaign.id}/messages/new"
    response = post_preview(client, url, preview_event=f"workshop-{workshop.id}", preview_first="1")
    assert response.status_code == 200
    html = unescape(response.get_data(as_text=True))
    values = workshop_values(workshop, "en")
    expected = (
        render(
            INVITATION_EN + "\n" + rsvp_line(workshop, "en"),
            {"first_name": "Alex", **values},
            language="en",
        )
        + "\n"
        + opt_out_notice("en")
    )
    assert f'<p class="cmp-sms-bubble" lang="en">{expected}</p>' in html
    assert preview_data(response)["first"] is True


def test_preview_without_workshop_or_first_message(
    client, signed_in, campaign, workshop, with_workshops
):
    url = f"/campaigns/{campaign.id}/messages/new"
    response = post_preview(client, url, preview_event="", preview_first=None)
    html = unescape(response.get_data(as_text=True))
    expected = "Hola Alex, te esperamos el (por confirmar) en (por confirmar)."
    assert f'<p class="cmp-sms-bubble" lang="es">{expected}</p>' in html
    assert rsvp_line(workshop, "es") not in html.split('id="sms-preview-data"')[0]
    data = preview_data(response)
    assert data["selected"] == "" and data["first"] is False


def test_unknown_workshop_choice_previews_none(
    client, signed_in, campaign, workshop, with_workshops
):
    response = post_preview(client, f"/campaigns/{campaign.id}/messages/new", preview_event="x9")
    assert response.status_code == 200 and preview_data(response)["selected"] == ""


def test_new_message_using_workshop_fields_previews_the_next_workshop(
    client, signed_in, campaign, workshop, with_workshops
):
    response = post_preview(client, f"/campaigns/{campaign.id}/messages/new", preview="Preview")
    # No choice in the request (the first preview of a text using workshop fields).
    assert preview_data(response)["selected"] == f"workshop-{workshop.id}"
    assert "Preview with the workshop's values" in text(response)
    plain = client.get(f"/campaigns/{campaign.id}/messages/new")
    assert preview_data(plain)["selected"] == ""  # empty text: no workshop fields used
    assert preview_data(plain)["events"][0]["key"] == f"workshop-{workshop.id}"


def test_without_workshops_the_preview_uses_sample_values(
    client, signed_in, campaign, without_workshops
):
    response = post_preview(client, f"/campaigns/{campaign.id}/messages/new")
    html = unescape(response.get_data(as_text=True))
    bubble = re.search(r'<p class="cmp-sms-bubble" lang="en">([^<]*)</p>', html).group(1)
    assert bubble.startswith("Hi Alex, join us on") and "(to be confirmed)" not in bubble
    assert "Preview with sample values" in text(response)
    assert preview_data(response)["languages"]["en"]["values"]["workshop_code"]


def test_other_campaigns_workshops_are_not_offered(
    client, signed_in, org, campaign, workshop, with_workshops
):
    other = make_campaign(org, name="Otra")
    make_workshop(org, campaign=other, code="9999")
    data = preview_data(client.get(f"/campaigns/{campaign.id}/messages/new"))
    assert [e["key"] for e in data["events"]] == [f"workshop-{workshop.id}"]


# --- The browser side composes the same text ------------------------------------------------

NODE_HARNESS = r"""
const fs = require("fs"), vm = require("vm");
const input = JSON.parse(fs.readFileSync(0, "utf8"));
const document = { readyState: "complete", getElementById: () => null,
  querySelectorAll: () => [], querySelector: () => null };
const window = {};
vm.runInNewContext(fs.readFileSync(process.argv[1], "utf8"), { document, window, Object });
const out = input.cases.map((c) => {
  const event = (input.data.events || []).find((e) => e.key === c.event) || null;
  const text = window.AlcanceSms.compose(c.body, c.lang, input.data, event, c.first);
  const info = window.AlcanceSms.analyze(text);
  return { text, segments: info.segments, encoding: info.encoding };
});
process.stdout.write(JSON.stringify(out));
"""

BODIES = [
    INVITATION_ES,
    "{first_name}, te invitamos a {workshop_title}. Código {workshop_code}.",
    "¡Hola, {first_name}! Más en {org} · {campaign}\r\nSaludos {nombre}",
    "Hola {first_name},\n{first_name}, ¿vienes?",
    "a" * 150,
]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_js_composes_what_the_server_renders(client, signed_in, campaign, workshop, with_workshops):
    data = preview_data(client.get(f"/campaigns/{campaign.id}/messages/new"))
    key = f"workshop-{workshop.id}"
    cases = [
        {"body": body, "lang": lang, "event": event, "first": first}
        for body in BODIES
        for lang in ("es", "en")
        for event in ("", key)
        for first in (True, False)
    ]
    run = subprocess.run(
        ["node", "-e", NODE_HARNESS, str(JS_FILE)],
        input=json.dumps({"data": data, "cases": cases}),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    results = json.loads(run.stdout)
    for case, js in zip(cases, results, strict=True):
        lang = case["lang"]
        values = dict(data["languages"][lang]["values"])
        footer = ""
        if case["event"]:
            values.update(workshop_values(workshop, lang))
            footer = rsvp_line(workshop, lang)
        summary = summarize_body(case["body"], language=lang, values=values, footer=footer)
        expected = summary.first_text if case["first"] else summary.rendered
        info = summary.first_info if case["first"] else summary.info
        assert js["text"] == expected, case
        assert (js["segments"], js["encoding"]) == (info.segments, info.encoding), case
    # The line a first message gets is counted: 150 characters alone, 2 SMS with it.
    long_first = next(
        js
        for case, js in zip(cases, results, strict=True)
        if case["body"] == "a" * 150 and case["first"] and not case["event"]
    )
    assert long_first["segments"] == 2
