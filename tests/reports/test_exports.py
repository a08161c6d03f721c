"""CSV exports: tables, the streamed participation export, pseudonyms, codebooks."""

import csv
import io

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

from app.extensions import babel, db
from app.reports.exports import pseudonym, pseudonym_key, stream_csv
from tests.reports.helpers import NAMES

MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


@pytest.fixture
def evaluator(dataset, make_user):
    return make_user(dataset.org, role="evaluator", email="eval@example.org", language="en")


@pytest.fixture
def coordinator(dataset, make_user):
    return make_user(dataset.org, role="coordinator", email="coord@example.org", language="en")


def read_csv(response) -> list[list[str]]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_table_export_matches_the_page_and_is_suppressed_for_evaluators(
    client, login, evaluator, coordinator, dataset
):
    url = "/reports/export/language.csv"
    args = {"campaign_id": dataset.c1.id, **MARCH}
    login(coordinator)
    response = client.get(url, query_string=args)
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert read_csv(response) == [
        ["language", "label", "reached", "reached_share", "targeted", "targeted_share"],
        ["es", "Spanish", "7", "0.7778", "6", "0.8571"],
        ["en", "English", "2", "0.2222", "1", "0.1429"],
        ["Total", "", "9", "1.0000", "7", "1.0000"],
    ]
    evaluator_client = client.application.test_client()
    login(evaluator, c=evaluator_client)
    # en = 2 is small; es = 7 would give it away next to the total: both read "*".
    assert read_csv(evaluator_client.get(url, query_string=args))[1:] == [
        ["es", "Spanish", "*", "*", "*", "*"],
        ["en", "English", "*", "*", "*", "*"],
        ["Total", "", "9", "1.0000", "7", "1.0000"],
    ]


def test_every_dashboard_table_exports(client, login, evaluator, dataset):
    login(evaluator)
    from app.reports.specs import CAMPAIGN_TABLES, ORGANIZATION_TABLES

    for table in CAMPAIGN_TABLES + ORGANIZATION_TABLES:
        response = client.get(
            f"/reports/export/{table}.csv", query_string={"campaign_id": dataset.c1.id, **MARCH}
        )
        assert response.status_code == 200, table
        assert len(read_csv(response)) >= 2, table
    assert client.get("/reports/export/nope.csv").status_code == 404
    assert client.get("/reports/export/summary.csv").status_code == 404  # needs a campaign


def test_formula_injection_is_neutralised(client, login, coordinator, dataset):
    dataset.c1.name = '=HYPERLINK("http://evil")'
    dataset.m1.label = "-2+3"
    dataset.contacts["c3"].municipality = "@SUM(A1)"
    db.session.commit()
    login(coordinator)
    campaigns = read_csv(client.get("/reports/export/campaigns.csv", query_string=MARCH))
    assert [r[1] for r in campaigns if "HYPERLINK" in r[1]] == ['\'=HYPERLINK("http://evil")']
    messages = read_csv(
        client.get(
            "/reports/export/messages.csv", query_string={"campaign_id": dataset.c1.id, **MARCH}
        )
    )
    assert messages[1][1] == "'-2+3"
    munis = read_csv(
        client.get(
            "/reports/export/municipality.csv", query_string={"campaign_id": dataset.c1.id, **MARCH}
        )
    )
    assert "'@SUM(A1)" in [r[3] for r in munis]
    events = read_csv(client.get("/reports/export/events.csv", query_string=MARCH))
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in events for cell in row)
    assert "'@SUM(A1)" in [r[6] for r in events]


def test_participation_export_streams_one_row_per_event(client, login, coordinator, dataset):
    login(coordinator)
    response = client.get(
        "/reports/export/events.csv", query_string={"campaign_id": dataset.c1.id, **MARCH}
    )
    assert response.is_streamed
    rows = read_csv(response)
    header, body = rows[0], rows[1:]
    assert header == [
        "contact",
        "age_band",
        "gender",
        "language",
        "country",
        "state_code",
        "municipality",
        "campaign_id",
        "campaign",
        "event",
        "channel",
        "workshop_id",
        "message_id",
        "error_code",
        "occurred_at_utc",
    ]
    kinds = {}
    for row in body:
        kinds[row[9]] = kinds.get(row[9], 0) + 1
    assert kinds == {
        "sms_delivered": 10,
        "sms_failed": 2,
        "sms_undelivered": 1,
        "reply": 3,
        "invited": 5,
        "rsvp_yes": 4,
        "attended": 6,
        "walk_in": 2,
        "no_show": 1,
        "opt_out": 1,
    }  # c10's opt-out carries C1's campaign_id
    first = body[0]
    assert first[1:8] == ["15-17", "female", "es", "MX", "02", "Tijuana", str(dataset.c1.id)]
    assert first[8:] == [
        "Sin Fentanilo",
        "sms_delivered",
        "sms",
        "",
        str(dataset.m1.id),
        "",
        "2026-03-02T18:00:00Z",
    ]
    erased = [r for r in body if r[1] == "15-17" and r[2] == "male"]
    assert erased and erased[0][5:7] == ["09", "Coyoacán"]  # the erased contact still counts


def test_stream_csv_writes_in_chunks():
    chunks = list(stream_csv(iter([["a", "=b"]] * 2500), batch=1000))
    assert chunks[0] == "\ufeff" and len(chunks) == 4
    assert chunks[1].startswith("a,'=b\r\n")


def test_pseudonyms_are_stable_and_unlinkable_across_organizations(
    client, login, coordinator, dataset
):
    login(coordinator)
    first = read_csv(client.get("/reports/export/events.csv", query_string=MARCH))
    second = read_csv(client.get("/reports/export/events.csv", query_string=MARCH))
    assert [r[0] for r in first] == [r[0] for r in second]
    ids = {r[0] for r in first[1:]}
    assert len(ids) == 10  # c1..c10 all have March events
    assert all(len(i) == 20 and int(i, 16) >= 0 for i in ids)
    key = pseudonym_key(client.application.config["SECRET_KEY"])
    c1 = dataset.contacts["c1"]
    assert pseudonym(key, dataset.org.id, c1.id) in ids
    # The same contact number in another organization gets an unrelated pseudonym...
    assert pseudonym(key, dataset.other_org.id, c1.id) != pseudonym(key, dataset.org.id, c1.id)
    # ...and another secret gives other pseudonyms (not derivable without the secret).
    assert pseudonym(pseudonym_key("another-secret"), dataset.org.id, c1.id) not in ids
    assert str(c1.id) not in ids


QUASI_IDENTIFIERS = (
    "age_band",
    "gender",
    "language",
    "country",
    "state_code",
    "municipality",
    "workshop_id",
    "week_utc",
)
DEMOGRAPHICS = QUASI_IDENTIFIERS[:6]


def _dicts(rows):
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


@pytest.mark.parametrize("scope", ["campaign", "all"])
def test_evaluator_event_export_is_k_anonymous(
    client, login, evaluator, coordinator, dataset, scope
):
    args = {**MARCH, **({"campaign_id": dataset.c1.id} if scope == "campaign" else {})}
    login(evaluator)
    rows = read_csv(client.get("/reports/export/events.csv", query_string=args))
    assert rows[0][-1] == "week_utc" and "occurred_at_utc" not in rows[0]
    events = _dicts(rows)
    exact_client = client.application.test_client()
    login(coordinator, c=exact_client)
    exact = _dicts(read_csv(exact_client.get("/reports/export/events.csv", query_string=args)))
    assert len(events) == len(exact)  # generalized, not dropped
    # Every combination of quasi-identifiers is shared by at least 5 contacts.
    contacts = {}
    for event in events:
        contacts.setdefault(tuple(event[c] for c in QUASI_IDENTIFIERS), set()).add(event["contact"])
    assert min(len(found) for found in contacts.values()) >= 5, contacts
    # A contact's demographics read the same on all its rows (the pseudonym links them).
    for contact_id in {e["contact"] for e in events}:
        assert (
            len({tuple(e[c] for c in DEMOGRAPHICS) for e in events if e["contact"] == contact_id})
            == 1
        )
    # Weeks (Mondays), never times of day.
    from datetime import date

    for event in events:
        assert (
            event["week_utc"] == "suppressed"
            or date.fromisoformat(event["week_utc"]).weekday() == 0
        )
    assert not any(s in "".join(",".join(r) for r in rows) for s in NAMES)
    # The codebook of this export says how many rows were generalized, column by column.
    book = read_csv(
        client.get(
            "/reports/codebook",
            query_string={
                "export": "events",
                "format": "csv",
                **args,
                **({} if "campaign_id" in args else {"all": 1}),
            },
        )
    )
    meanings = {row[0]: row[1] for row in book[1:]}
    for column in ("gender", "language", "state_code", "municipality", "workshop_id", "week_utc"):
        n = sum(1 for e in events if e[column] == "suppressed")
        assert (
            f"In this file, rows with this column suppressed: {n} of {len(events)}."
            in meanings[column]
        )


def test_an_export_of_fewer_contacts_than_the_threshold_has_no_rows(
    client, login, evaluator, dataset
):
    login(evaluator)
    # April: only c7 has events of C1.
    args = {"campaign_id": dataset.c1.id, "from": "2026-04-01", "to": "2026-04-30"}
    assert read_csv(client.get("/reports/export/events.csv", query_string=args))[1:] == []
    book = read_csv(
        client.get("/reports/codebook", query_string={"export": "events", "format": "csv", **args})
    )
    assert "In this file, rows left out: 1 of 1." in book[1][1]


def test_error_code_holds_twilio_codes_only(client, login, coordinator, dataset):
    from app.participation.services import record_event
    from tests.support import utc

    record_event(
        organization_id=dataset.org.id,
        contact_id=dataset.contacts["c3"].id,
        kind="rsvp_no",
        channel="sms",
        occurred_at=utc(2026, 3, 6, 17),
        campaign_id=dataset.c1.id,
        workshop_id=dataset.w1.id,
        detail="declined",
    )
    db.session.commit()
    login(coordinator)
    events = _dicts(
        read_csv(
            client.get(
                "/reports/export/events.csv", query_string={"campaign_id": dataset.c1.id, **MARCH}
            )
        )
    )
    codes = {(e["event"], e["error_code"]) for e in events if e["error_code"]}
    assert codes == {("sms_failed", "30003"), ("sms_undelivered", "30005")}
    assert [e["error_code"] for e in events if e["event"] == "rsvp_no"] == [""]


def _add_spanish(app, tmp_path, messages: dict):
    """Overlay a few Spanish translations (the .po catalogue is merged separately)."""
    catalog = Catalog(locale="es")
    for msgid, msgstr in messages.items():
        catalog.add(msgid, msgstr)
    target = tmp_path / "es" / "LC_MESSAGES"
    target.mkdir(parents=True)
    with open(target / "messages.mo", "wb") as f:
        write_mo(f, catalog)
    app.extensions["babel"].translation_directories.append(str(tmp_path))
    babel.domain_instance.cache.clear()


def test_codebook_in_both_languages(app, client, login, evaluator, dataset, tmp_path):
    from app.reports.event_columns import EVALUATOR_EVENT_COLUMNS as EVENT_COLUMNS

    login(evaluator)
    english = read_csv(client.get("/reports/codebook?export=events&format=csv&lang=en"))
    assert english[0] == ["Column", "Meaning", "Type", "Allowed values"]
    assert [r[0] for r in english[1:]] == [c.key for c in EVENT_COLUMNS]
    contact = english[1]
    assert contact[1].startswith("Pseudonymous contact ID")
    _add_spanish(
        app,
        tmp_path,
        {
            "Column": "Columna",
            "Meaning": "Significado",
            "Type": "Tipo",
            "Allowed values": "Valores permitidos",
            (
                "Pseudonymous contact ID: the same contact has the same ID in every export of "
                "the organization; it cannot be traced back without the server's secret."
            ): "ID seudónimo del contacto",
        },
    )
    spanish = read_csv(client.get("/reports/codebook?export=events&format=csv&lang=es"))
    assert spanish[0] == ["Columna", "Significado", "Tipo", "Valores permitidos"]
    assert spanish[1][:2] == ["contact", "ID seudónimo del contacto"]  # names stay codes
    assert [r[0] for r in spanish][1:] == [r[0] for r in english[1:]]
    page = client.get("/reports/codebook?export=age_band&lang=es").get_data(as_text=True)
    assert "Columna" in page and "<code>reached</code>" in page
    # Evaluators are told what the suppression marker means.
    book = read_csv(client.get("/reports/codebook?export=age_band&format=csv&lang=en"))
    assert any('"*"' in r[2] and "1 to 4" in r[2] for r in book)
