"""/api/v1/workshops: upcoming workshops with seats; registrations through the workshops
feature (capacity, waitlist, consent and guardian consent as at the door), cancel as a NO
by SMS, idempotency, tenancy, scope and bad input (nothing changes)."""

from datetime import timedelta

from sqlalchemy import func, select

from app.contacts.models import Contact
from app.extensions import db
from app.workshops.models import WorkshopRegistration
from tests.factories import make_contact, make_registration, make_workshop
from tests.support import NOW


def _registrations(workshop) -> dict:
    db.session.expire_all()
    rows = db.session.execute(
        select(WorkshopRegistration.contact_id, WorkshopRegistration.status).where(
            WorkshopRegistration.workshop_id == workshop.id
        )
    ).all()
    return dict(rows)


def _contacts(org) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Contact).where(Contact.organization_id == org.id)
    )


def test_upcoming_with_seats(app, api, make_org, make_key):
    org = make_org()
    soon = make_workshop(org, capacity=2)
    make_registration(soon, make_contact(org))
    make_registration(soon, make_contact(org), "waitlisted")
    make_workshop(org, status="canceled")
    make_workshop(org, starts_at=NOW - timedelta(days=1))
    later = make_workshop(org, starts_at=NOW + timedelta(days=120))
    reader = api(make_key(org, ["campaigns:read"]))
    response = reader.get("/api/v1/workshops")
    data = response.get_json()["data"]
    assert [w["id"] for w in data] == [soon.id]
    assert (data[0]["capacity"], data[0]["confirmed"], data[0]["waitlisted"]) == (2, 1, 1)
    assert data[0]["title"] == {"es": "Decide tú", "en": "Your call"}
    assert "facilitator" not in data[0]
    wider = reader.get("/api/v1/workshops?days=366").get_json()["data"]
    assert [w["id"] for w in wider] == [soon.id, later.id]
    assert reader.get("/api/v1/workshops?days=0").status_code == 422
    etag = response.headers["ETag"]
    assert reader.get("/api/v1/workshops", headers={"If-None-Match": etag}).status_code == 304
    make_registration(soon, make_contact(org))
    assert reader.get("/api/v1/workshops", headers={"If-None-Match": etag}).status_code == 200


def test_register_by_contact_id_fills_seats_then_the_waitlist(app, api, make_org, make_key):
    org = make_org()
    workshop = make_workshop(org, capacity=1)
    one, two = make_contact(org), make_contact(org)
    writer = api(make_key(org, ["workshops:write"]))
    url = f"/api/v1/workshops/{workshop.id}/registrations"
    first = writer.post(url, json={"contact_id": one.id})
    assert first.status_code == 201
    body = first.get_json()
    assert (body["status"], body["outcome"], body["contact_created"]) == (
        "confirmed",
        "confirmed",
        False,
    )
    second = writer.post(url, json={"contact_id": two.id}).get_json()
    assert (second["outcome"], second["waitlist_position"]) == ("waitlisted", 1)
    again = writer.post(url, json={"contact_id": one.id})
    assert again.status_code == 200 and again.get_json()["outcome"] == "already_confirmed"
    assert _registrations(workshop) == {one.id: "confirmed", two.id: "waitlisted"}
    text = first.get_data(as_text=True) + again.get_data(as_text=True)
    assert one.phone[3:] not in text and one.first_name not in text


def test_a_contact_who_cannot_be_messaged_is_refused(app, api, make_org, make_key):
    org = make_org()
    workshop = make_workshop(org)
    writer = api(make_key(org, ["workshops:write"]))
    url = f"/api/v1/workshops/{workshop.id}/registrations"
    for contact in (
        make_contact(org, opted_out_at=NOW),
        make_contact(org, birth_year=2012),  # a minor without guardian consent
        make_contact(org, consent_source=None),
    ):
        response = writer.post(url, json={"contact_id": contact.id})
        assert response.status_code == 422, contact
        assert response.get_json()["code"] == "validation_failed"
        assert "contact_id" in response.get_json()["errors"]["json"]
    assert _registrations(workshop) == {}


def test_register_by_phone_follows_the_door_rules(app, api, make_org, make_key):
    org = make_org()
    workshop = make_workshop(org)
    writer = api(make_key(org, ["workshops:write"]))
    url = f"/api/v1/workshops/{workshop.id}/registrations"
    person = {"phone": "664 555 0901", "first_name": "Nueva", "birth_year": 2000}
    no_consent = writer.post(url, json=person)
    assert no_consent.status_code == 422 and "consent" in no_consent.get_json()["errors"]["json"]
    minor = {**person, "birth_year": 2012, "consent": True}
    refused = writer.post(url, json=minor)
    assert refused.status_code == 422
    assert "guardian_consent" in refused.get_json()["errors"]["json"]
    assert _contacts(org) == 0 and _registrations(workshop) == {}
    ok = writer.post(url, json={**minor, "guardian_consent": True})
    assert ok.status_code == 201
    body = ok.get_json()
    assert body["contact_created"] is True and body["outcome"] == "confirmed"
    assert "Nueva" not in ok.get_data(as_text=True) and "5550901" not in ok.get_data(as_text=True)
    contact = db.session.get(Contact, body["contact_id"])
    assert contact.phone == "+526645550901" and contact.consent_source == "workshop"
    assert contact.guardian_consent


def test_register_by_phone_uses_the_known_contact(app, api, make_org, make_key):
    org = make_org()
    workshop = make_workshop(org)
    known = make_contact(org, first_name="Conocida")
    writer = api(make_key(org, ["workshops:write"]))
    response = writer.post(
        f"/api/v1/workshops/{workshop.id}/registrations",
        json={"phone": known.phone, "first_name": "Otra", "consent": True},
    )
    assert response.status_code == 201 and response.get_json()["contact_id"] == known.id
    db.session.expire_all()
    assert db.session.get(Contact, known.id).first_name == "Conocida"  # never overwritten
    opted = make_contact(org, opted_out_at=NOW)
    refused = writer.post(
        f"/api/v1/workshops/{workshop.id}/registrations",
        json={"phone": opted.phone, "consent": True},
    )
    assert refused.status_code == 422 and opted.id not in _registrations(workshop)


def test_bad_bodies_and_closed_workshops(app, api, make_org, make_key):
    org = make_org()
    workshop = make_workshop(org)
    contact = make_contact(org)
    writer = api(make_key(org, ["workshops:write"]))
    url = f"/api/v1/workshops/{workshop.id}/registrations"
    for body in ({}, {"contact_id": contact.id, "phone": contact.phone}, {"contact_id": "x"}):
        response = writer.post(url, json=body)
        assert response.status_code == 422 and response.get_json()["code"] == "validation_failed"
    both = writer.post(url, json={}, headers={"Accept-Language": "es"}).get_json()
    assert "contact_id" in both["errors"]["json"]
    for closed in (
        make_workshop(org, status="canceled"),
        make_workshop(org, starts_at=NOW - timedelta(hours=1)),
    ):
        response = writer.post(
            f"/api/v1/workshops/{closed.id}/registrations", json={"contact_id": contact.id}
        )
        assert response.status_code == 409 and response.get_json()["code"] == "conflict"
        assert _registrations(closed) == {}
    assert _registrations(workshop) == {}


def test_cancel_gives_the_seat_to_the_waitlist(app, api, make_org, make_key):
    org = make_org()
    workshop = make_workshop(org, capacity=1)
    seated, waiting = make_contact(org), make_contact(org)
    registration = make_registration(workshop, seated)
    make_registration(workshop, waiting, "waitlisted")
    writer = api(make_key(org, ["workshops:write"]))
    url = f"/api/v1/workshops/{workshop.id}/registrations/{registration.id}/cancel"
    response = writer.post(url)
    assert response.status_code == 200
    assert (response.get_json()["outcome"], response.get_json()["status"]) == (
        "canceled",
        "canceled",
    )
    assert _registrations(workshop) == {seated.id: "canceled", waiting.id: "confirmed"}
    again = writer.post(url).get_json()
    assert again["outcome"] == "already_declined"
    other = make_workshop(org)
    wrong = writer.post(f"/api/v1/workshops/{other.id}/registrations/{registration.id}/cancel")
    assert wrong.status_code == 404


def test_idempotency_key_replays_a_registration(app, api, make_org, make_key):
    org = make_org()
    workshop = make_workshop(org, capacity=1)
    writer = api(make_key(org, ["workshops:write"]))
    url = f"/api/v1/workshops/{workshop.id}/registrations"
    headers = {"Idempotency-Key": "signup-7"}
    payload = {"phone": "6645550911", "first_name": "Una", "birth_year": 2001, "consent": True}
    first = writer.post(url, json=payload, headers=headers)
    replay = writer.post(url, json=payload, headers=headers)
    assert first.status_code == replay.status_code == 201
    assert replay.get_json() == first.get_json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert _contacts(org) == 1 and len(_registrations(workshop)) == 1
    other = writer.post(url, json={**payload, "first_name": "Otra"}, headers=headers)
    assert other.status_code == 422 and other.get_json()["code"] == "idempotency_key_reused"
    registration_id = first.get_json()["id"]
    cancel = f"/api/v1/workshops/{workshop.id}/registrations/{registration_id}/cancel"
    one = writer.post(cancel, headers={"Idempotency-Key": "c1"})
    two = writer.post(cancel, headers={"Idempotency-Key": "c1"})
    assert one.get_json() == two.get_json() and one.get_json()["outcome"] == "canceled"


def test_tenancy_and_scope(app, api, make_org, make_key):
    org, other = make_org(), make_org()
    theirs = make_workshop(other, venue_name="Sede ajena")
    their_contact = make_contact(other)
    their_registration = make_registration(theirs, their_contact)
    mine = make_workshop(org)
    client = api(make_key(org))
    assert client.get("/api/v1/workshops").get_json()["data"][0]["id"] == mine.id
    assert len(client.get("/api/v1/workshops").get_json()["data"]) == 1
    for url, body in (
        (f"/api/v1/workshops/{theirs.id}/registrations", {"contact_id": their_contact.id}),
        (f"/api/v1/workshops/{mine.id}/registrations", {"contact_id": their_contact.id}),
        (f"/api/v1/workshops/{theirs.id}/registrations/{their_registration.id}/cancel", None),
        (f"/api/v1/workshops/{mine.id}/registrations/{their_registration.id}/cancel", None),
    ):
        response = client.post(url, json=body)
        assert response.status_code == 404 and response.get_json()["code"] == "not_found", url
        assert "Sede ajena" not in response.get_data(as_text=True)
    assert _registrations(theirs) == {their_contact.id: "confirmed"}
    assert _registrations(mine) == {}
    reader = api(make_key(org, ["campaigns:read", "contacts:write"]))
    denied = reader.post(f"/api/v1/workshops/{mine.id}/registrations", json={"contact_id": 1})
    assert denied.status_code == 403 and denied.get_json()["scope"] == "workshops:write"
    writer = api(make_key(org, ["workshops:write"]))
    assert writer.get("/api/v1/workshops").status_code == 403
