"""The editor's live preview (sms_counter.js) puts the short link in place of each link, as
the server's summary does, so both count the same characters and segments."""

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from app.campaigns.services import summarize_body
from app.extensions import db
from tests.factories import make_campaign

JS_FILE = Path(__file__).resolve().parents[2] / "app" / "static" / "js" / "sms_counter.js"
HARNESS = r"""
const fs = require("fs"), vm = require("vm");
const input = JSON.parse(fs.readFileSync(0, "utf8"));
const document = { readyState: "complete", getElementById: () => null,
  querySelectorAll: () => [], querySelector: () => null };
const window = {};
vm.runInNewContext(fs.readFileSync(process.argv[1], "utf8"), { document, window, Object });
const out = input.cases.map((c) => {
  const text = window.AlcanceSms.compose(c.body, "es", input.data, null, false, c.track);
  const info = window.AlcanceSms.analyze(text);
  return { text, segments: info.segments };
});
process.stdout.write(JSON.stringify(out));
"""
BODIES = [
    "Lee {link:https://allowed.org/una/guia/larga?con=parametros&y=mas} y cuéntanos.",
    "Dos: {link: https://allowed.org/a } y https://allowed.org/b. ¿Dudas? (https://allowed.org/c)",
    "Sin enlaces, {first_name}.",
    "Ya corto: https://alcance.example.org/l/aB3xK9pQ y https://allowed.org/" + "x" * 150,
]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_js_counts_the_short_link_like_the_server(client, login, make_org, make_user):
    org = make_org()
    login(make_user(org, language="en"))
    campaign = make_campaign(org)
    db.session.commit()
    page = client.get(f"/campaigns/{campaign.id}/messages/new").get_data(as_text=True)
    data = json.loads(html.unescape(re.search(r"data-preview='([^']*)'", page).group(1)))
    cases = [{"body": body, "track": track} for body in BODIES for track in (False, True)]
    run = subprocess.run(
        ["node", "-e", HARNESS, str(JS_FILE)],
        input=json.dumps({"data": data, "cases": cases}),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    values = data["languages"]["es"]["values"]
    for case, js in zip(cases, json.loads(run.stdout), strict=True):
        summary = summarize_body(
            case["body"], language="es", values=values, track_links=case["track"]
        )
        assert js["text"] == summary.rendered, case
        assert js["segments"] == summary.info.segments, case
    first = json.loads(run.stdout)[0]["text"]
    assert first == "Lee https://alcance.example.org/l/aB3xK9pQ y cuéntanos."
