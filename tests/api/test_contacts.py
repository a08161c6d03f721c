"""/api/v1/contacts: list (filters, cursor, ETag), read, upsert one and in bulk with the
CSV import's rules, opt-out, erase, idempotency, tenancy and de-identified answers."""

from sqlalchemy import func, select

from app.api.models import SCOPES
from app.api.schemas import BulkResult
from app.contacts.models import Contact
from app.extensions import db
from tests.api.conftest import EVALUATOR_SCOPES
from tests.factories import make_contact


def _count(org) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Contact).where(Contact.organization_id == org.id)
    )


def test_list_pages_by_cursor_newest_first(app, api, make_org, make_key):
    org = make_org()
    ids = [make_contact(org).id for _ in range(5)]
    reader = api(make_key(org, ["contacts:read"]))
    seen, cursor = [], None
    while True:
        url = "/api/v1/contacts?limit=2" + (f"&cursor={cursor}" if cursor else "")
        body = reader.get(url).get_json()
        seen += [c["id"] for c in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)
    bad = reader.get("/api/v1/contacts?cursor=zzz")
    assert bad.status_code == 400 and bad.get_json()["code"] == "invalid_cursor"


def test_list_filters(app, api, make_org, make_key):
    org = make_org()
    make_contact(org, first_name="Ana", language="en")
    make_contact(org, first_name="Beto")
    reader = api(make_key(org, ["contacts:read"]))
    names = [c["first_name"] for c in reader.get("/api/v1/contacts?q=ana").get_json()["data"]]
    assert names == ["Ana"]
    names = [c["first_name"] for c in reader.get("/api/v1/contacts?language=es").get_json()["data"]]
    assert names == ["Beto"]
    bad = reader.get("/api/v1/contacts?language=fr")
    assert bad.status_code == 422 and bad.get_json()["code"] == "validation_failed"


def test_etag_gives_304_until_something_changes(app, api, make_org, make_key):
    org = make_org()
    contact = make_contact(org)
    reader = api(make_key(org, ["contacts:read"]))
    for url in ("/api/v1/contacts", f"/api/v1/contacts/{contact.id}"):
        first = reader.get(url)
        etag = first.headers["ETag"]
        again = reader.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and not again.get_data()
    api(make_key(org, ["contacts:write"])).post(f"/api/v1/contacts/{contact.id}/opt-out")
    changed = reader.get("/api/v1/contacts", headers={"If-None-Match": etag})
    assert changed.status_code == 200


def test_upsert_creates_then_updates_by_phone(app, api, make_org, make_key):
    org = make_org()
    client = api(make_key(org, ["contacts:read", "contacts:write"]))
    created = client.post(
        "/api/v1/contacts",
        json={"phone": "664 555 0101", "first_name": "Ana", "tags": ["escuela"]},
    )
    assert created.status_code == 201
    body = created.get_json()
    assert body["outcome"] == "created" and body["contact"]["phone"] == "+526645550101"
    assert created.headers["Location"] == f"/api/v1/contacts/{body['id']}"
    updated = client.post(
        "/api/v1/contacts", json={"phone": "+52 664 555 0101", "last_name": "López", "tags": ["b"]}
    )
    assert updated.status_code == 200
    contact = updated.get_json()["contact"]
    # the import's merge: blank values keep what is known, tags are added
    assert (contact["first_name"], contact["last_name"]) == ("Ana", "López")
    assert contact["tags"] == ["b", "escuela"] and _count(org) == 1


def test_upsert_rejects_a_bad_phone_and_warns_on_optional_values(app, api, make_org, make_key):
    org = make_org()
    writer = api(make_key(org, ["contacts:write"]))
    rejected = writer.post("/api/v1/contacts", json={"phone": "12345", "first_name": "X"})
    assert rejected.status_code == 422
    assert rejected.get_json()["code"] == "validation_failed" and _count(org) == 0
    warned = writer.post("/api/v1/contacts", json={"phone": "6645550102", "gender": "zzz"})
    assert warned.status_code == 201 and warned.get_json()["warnings"]
    unknown = writer.post("/api/v1/contacts", json={"phone": "6645550103", "shoe_size": 9})
    assert unknown.status_code == 422 and "shoe_size" in str(unknown.get_json()["errors"])


def test_guardian_consent_follows_the_import(app, api, make_org, make_key):
    """A 14-year-old with consent but no guardian consent is stored, not eligible: the
    import's rule; with guardian consent, eligible."""
    org = make_org()
    client = api(make_key(org, ["contacts:read", "contacts:write"]))
    base = {"birth_year": 2012, "consent_source": "school"}
    client.post("/api/v1/contacts", json={"phone": "6645550111", **base})
    client.post("/api/v1/contacts", json={"phone": "6645550112", "guardian_consent": True, **base})
    blocked = client.get("/api/v1/contacts?eligibility=no_guardian_consent").get_json()["data"]
    eligible = client.get("/api/v1/contacts?eligibility=eligible").get_json()["data"]
    assert [c["phone"] for c in blocked] == ["+526645550111"]
    assert [c["phone"] for c in eligible] == ["+526645550112"]


def test_bulk_with_good_and_bad_rows(app, api, make_org, make_key):
    org = make_org()
    known = make_contact(org, first_name="Conocida")
    writer = api(make_key(org, ["contacts:write"]))
    rows = [
        {"phone": "6645550201", "first_name": "Uno"},
        {"phone": "12345", "first_name": "Mal"},
        {"phone": "664 555 0201", "first_name": "Repetido"},
        {"phone": known.phone, "last_name": "Actualizada"},
        {"phone": "6645550202", "language": "klingon"},
    ]
    response = writer.post("/api/v1/contacts/bulk", json={"contacts": rows})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["created"], body["updated"], body["rejected"]) == (2, 1, 2)
    assert BulkResult().dump(BulkResult().load(body)) == body  # the documented shape, exactly
    outcomes = [(r["row"], r["outcome"]) for r in body["rows"]]
    assert outcomes == [
        (1, "created"),
        (2, "rejected"),
        (3, "rejected"),
        (4, "updated"),
        (5, "created"),
    ]
    assert body["rows"][1]["errors"] and body["rows"][2]["errors"]
    assert body["rows"][4]["warnings"] and body["rows"][3]["id"] == known.id
    assert "Mal" not in response.get_data(as_text=True)  # no personal data in the report
    db.session.expire_all()
    assert db.session.get(Contact, known.id).last_name == "Actualizada" and _count(org) == 3


def test_bulk_is_capped_at_1000(app, api, make_org, make_key):
    org = make_org()
    rows = [{"phone": f"66455{n:05d}"} for n in range(1001)]
    response = api(make_key(org, ["contacts:write"])).post(
        "/api/v1/contacts/bulk", json={"contacts": rows}
    )
    assert response.status_code == 422 and _count(org) == 0


def test_opt_out_and_erase(app, api, make_org, make_key):
    org = make_org()
    contact = make_contact(org)
    writer = api(make_key(org, ["contacts:write"]))
    first = writer.post(f"/api/v1/contacts/{contact.id}/opt-out")
    assert first.status_code == 200 and first.get_json()["opted_out_at"]
    again = writer.post(f"/api/v1/contacts/{contact.id}/opt-out")
    assert again.get_json() == first.get_json()
    erased = writer.post(f"/api/v1/contacts/{contact.id}/erase")
    assert erased.status_code == 200 and erased.get_json()["erased_at"]
    db.session.expire_all()
    row = db.session.get(Contact, contact.id)
    assert row.phone is None and row.first_name is None
    conflict = writer.post(f"/api/v1/contacts/{contact.id}/opt-out")
    assert conflict.status_code == 409 or conflict.get_json()["opted_out_at"]


def test_another_organizations_contacts_do_not_exist(app, api, make_org, make_key):
    org, other = make_org(), make_org()
    theirs = make_contact(other, first_name="Ajena")
    client = api(make_key(org))
    assert client.get("/api/v1/contacts").get_json()["data"] == []
    for method, url in (
        ("GET", f"/api/v1/contacts/{theirs.id}"),
        ("POST", f"/api/v1/contacts/{theirs.id}/opt-out"),
        ("POST", f"/api/v1/contacts/{theirs.id}/erase"),
        ("GET", "/api/v1/contacts/99999999999"),
    ):
        response = client.open(url, method=method)
        assert response.status_code == 404 and response.get_json()["code"] == "not_found"
    # an upsert of the same phone creates the organization's own contact
    response = client.post("/api/v1/contacts", json={"phone": theirs.phone})
    assert response.status_code == 201 and response.get_json()["id"] != theirs.id
    db.session.expire_all()
    theirs = db.session.get(Contact, theirs.id)
    assert theirs.opted_out_at is None and theirs.erased_at is None


def test_evaluator_like_and_write_only_keys_never_receive_names_or_phones(
    app, api, make_org, make_key
):
    org = make_org()
    contact = make_contact(org, first_name="Secreta")
    evaluator = api(make_key(org, EVALUATOR_SCOPES))
    writer = api(make_key(org, ["contacts:write"]))
    responses = [
        evaluator.get("/api/v1/contacts"),
        evaluator.get(f"/api/v1/contacts/{contact.id}"),
        evaluator.post("/api/v1/contacts", json={"phone": "6645550301"}),
        writer.get("/api/v1/contacts"),
        writer.post("/api/v1/contacts", json={"phone": contact.phone, "last_name": "Nueva"}),
        writer.post("/api/v1/contacts/bulk", json={"contacts": [{"phone": contact.phone}]}),
        writer.post(f"/api/v1/contacts/{contact.id}/opt-out"),
    ]
    for response in responses:
        text = response.get_data(as_text=True)
        assert "Secreta" not in text and "Nueva" not in text
        assert contact.phone[3:] not in text and "5550301" not in text
    assert [r.status_code for r in responses[:4]] == [403, 403, 403, 403]


def test_idempotency_key_replays_the_first_response(app, api, make_org, make_key):
    org = make_org()
    writer = api(make_key(org, ["contacts:read", "contacts:write"]))
    headers = {"Idempotency-Key": "form-submission-42"}
    payload = {"phone": "6645550401", "first_name": "Una"}
    first = writer.post("/api/v1/contacts", json=payload, headers=headers)
    replay = writer.post("/api/v1/contacts", json=payload, headers=headers)
    assert first.status_code == replay.status_code == 201
    assert replay.get_json() == first.get_json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.headers["Location"] == first.headers["Location"]
    # without the header the same body is an update (200): the replay changed nothing
    assert _count(org) == 1
    other = writer.post("/api/v1/contacts", json={**payload, "first_name": "Otra"}, headers=headers)
    assert other.status_code == 422 and other.get_json()["code"] == "idempotency_key_reused"
    db.session.expire_all()
    assert db.session.scalar(select(Contact.first_name)) == "Una"


def test_idempotency_keys_belong_to_one_api_key_and_failures_free_them(
    app, api, make_org, make_key
):
    org = make_org()
    one, two = api(make_key(org, ["contacts:write"])), api(make_key(org, ["contacts:write"]))
    headers = {"Idempotency-Key": "k1"}
    assert one.post("/api/v1/contacts", json={"phone": "12"}, headers=headers).status_code == 422
    ok = one.post("/api/v1/contacts", json={"phone": "6645550501"}, headers=headers)
    assert ok.status_code == 201  # the failed request did not keep the key
    assert (
        two.post("/api/v1/contacts", json={"phone": "6645550502"}, headers=headers).status_code
        == 201
    )
    bulk = {"contacts": [{"phone": "6645550503"}]}
    first = one.post("/api/v1/contacts/bulk", json=bulk, headers={"Idempotency-Key": "b"})
    again = one.post("/api/v1/contacts/bulk", json=bulk, headers={"Idempotency-Key": "b"})
    assert first.get_json() == again.get_json() and first.get_json()["created"] == 1


def test_full_key_reaches_every_contact_endpoint(app, api, make_org, make_key):
    org = make_org()
    contact = make_contact(org)
    client = api(make_key(org, SCOPES))
    assert client.get(f"/api/v1/contacts/{contact.id}").get_json()["phone"] == contact.phone


def test_unknown_filters_are_refused(app, api, make_org, make_key):
    org = make_org()
    response = api(make_key(org, ["contacts:read"])).get("/api/v1/contacts?langauge=es")
    assert response.status_code == 422 and "langauge" in str(response.get_json()["errors"])


def test_kept_idempotent_responses_are_purged_after_a_day(app, api, make_org, make_key):
    from datetime import timedelta

    from app.api.models import ApiIdempotentRequest
    from tests.support import NOW

    org = make_org()
    writer = api(make_key(org, ["contacts:write"]))
    writer.post("/api/v1/contacts", json={"phone": "6645550601"}, headers={"Idempotency-Key": "x"})
    (task,) = [
        t for t in app.extensions["maintenance_tasks"] if t.name == "purge_idempotent_requests"
    ]
    assert task.run(NOW + timedelta(hours=23)) == 0
    assert task.run(NOW + timedelta(hours=25)) == 1
    assert db.session.scalar(select(func.count()).select_from(ApiIdempotentRequest)) == 0


def test_whatsapp_channel_follows_the_import(app, api, make_org, make_key):
    org = make_org()
    client = api(make_key(org, ["contacts:read", "contacts:write"]))
    with_opt_in = client.post(
        "/api/v1/contacts",
        json={"phone": "6645550701", "preferred_channel": "whatsapp", "whatsapp_opt_in": True},
    ).get_json()["contact"]
    assert with_opt_in["preferred_channel"] == "whatsapp" and with_opt_in["whatsapp_opt_in_at"]
    without = client.post(
        "/api/v1/contacts", json={"phone": "6645550702", "preferred_channel": "whatsapp"}
    ).get_json()
    assert without["contact"]["preferred_channel"] == "sms" and without["warnings"]


def test_bulk_in_chunks_answers_every_row_and_its_id(app, api, make_org, make_key, monkeypatch):
    """Rows are checked and written a chunk at a time (on PostgreSQL one chunk's COPY runs
    while the next is checked): a repeat across chunks is still rejected, every created or
    updated row answers its contact's id, and new contacts keep their tags."""
    from app.contacts import row_upsert
    from app.contacts.models import ContactTag

    monkeypatch.setattr(row_upsert, "CHUNK", 2)
    org = make_org()
    known = make_contact(org, first_name="Conocida")
    writer = api(make_key(org, ["contacts:write"]))
    rows = [
        {"phone": "6645550301", "tags": ["uno"]},
        {"phone": "6645550302"},
        {"phone": "664-555-0301", "first_name": "Otra vez"},  # row 1 again, next chunk
        {"phone": known.phone, "tags": ["conocida"]},
        {"phone": "123"},
        {"phone": "6645550303", "tags": ["tres", "otra"]},
        {"phone": "6645550304"},
    ]
    body = writer.post("/api/v1/contacts/bulk", json={"contacts": rows}).get_json()
    outcomes = [r["outcome"] for r in body["rows"]]
    assert outcomes == [
        "created",
        "created",
        "rejected",
        "updated",
        "rejected",
        "created",
        "created",
    ]
    assert "1" in body["rows"][2]["errors"][0]
    db.session.expire_all()
    by_phone = dict(
        db.session.execute(
            select(Contact.phone, Contact.id).where(Contact.organization_id == org.id)
        ).all()
    )
    answered = {r["row"]: r["id"] for r in body["rows"]}
    assert answered[1] == by_phone["+526645550301"] and answered[4] == known.id
    assert answered[6] == by_phone["+526645550303"] and answered[7] == by_phone["+526645550304"]
    assert answered[3] is None and answered[5] is None
    tags = db.session.execute(
        select(ContactTag.contact_id, ContactTag.name).order_by(ContactTag.name)
    ).all()
    assert sorted(tags) == sorted(
        [
            (answered[1], "uno"),
            (known.id, "conocida"),
            (answered[6], "otra"),
            (answered[6], "tres"),
        ]
    )
    assert db.session.get(Contact, answered[1]).first_name is None  # the repeat changed nothing
