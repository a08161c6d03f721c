"""Bulk actions on the contact list (issue 14): add/remove a tag, opt out, erase — on the
checked contacts, the page, or every contact matching the search (re-evaluated at action
time, within the organization). Bad input changes nothing and says why."""

from datetime import UTC, datetime, timedelta

import pytest
from flask_babel import force_locale, gettext, ngettext
from markupsafe import escape
from sqlalchemy import select

from app.contacts.models import Contact, ContactTag
from app.extensions import db
from app.messaging.fake import FakeSmsGateway
from app.outbox.dispatch import DispatchSettings
from app.outbox.models import OutboxMessage
from app.outbox.worker import Worker
from tests.factories import make_campaign, make_contact, make_outbox_row
from tests.support import NOW, Clock, csrf_token, csrf_token_from

WHEN = datetime(2026, 1, 5, 17, 0, tzinfo=UTC)


def es(msgid: str, **values) -> str:
    with force_locale("es"):
        return str(escape(gettext(msgid, **values)))


def es_n(singular: str, plural: str, n: int, **values) -> str:
    with force_locale("es"):
        return str(escape(ngettext(singular, plural, n, **values)))


@pytest.fixture
def org(make_org):
    return make_org(slug="ong-a")


@pytest.fixture
def coordinator(make_user, org, login):
    user = make_user(org, role="coordinator")
    login(user)
    return user


def post_bulk(client, follow=True, **data):
    data.setdefault("csrf_token", csrf_token_from(client.get("/contacts/")))
    return client.post("/contacts/bulk", data=data, follow_redirects=follow)


def tags_of(contact_id) -> list[str]:
    return sorted(
        db.session.scalars(select(ContactTag.name).where(ContactTag.contact_id == contact_id))
    )


def fresh(contact_id) -> Contact:
    db.session.expire_all()
    return db.session.get(Contact, contact_id)


def with_tags(contact, *names):
    for name in names:
        contact.tags.append(ContactTag(name=name))
    db.session.commit()
    return contact


# --- the list page -------------------------------------------------------------------------


def test_list_wraps_the_table_in_the_bulk_form_for_coordinators(client, org, coordinator):
    a = make_contact(org, 1)
    html = client.get("/contacts/?language=es").get_data(as_text=True)
    assert 'action="/contacts/bulk"' in html and 'name="csrf_token"' in html
    assert f'name="ids" value="{a.id}"' in html and f'name="page_ids" value="{a.id}"' in html
    assert 'name="f-language" value="es"' in html  # the filter travels with the form
    assert "js/contacts.js" in html
    assert es("Add a tag") in html and es("Erase on request…") in html


# --- tags ----------------------------------------------------------------------------------


def test_add_tag_to_the_checked_contacts(client, org, coordinator):
    a, b, c = make_contact(org, 1), make_contact(org, 2), make_contact(org, 3)
    with_tags(b, "secundaria 5")
    response = post_bulk(
        client, scope="selected", ids=[a.id, b.id], action="add_tag", tag="  Secundaria   5 "
    )
    assert response.status_code == 200
    assert tags_of(a.id) == ["secundaria 5"] and tags_of(b.id) == ["secundaria 5"]
    assert tags_of(c.id) == []
    html = response.get_data(as_text=True)
    assert (
        es_n(
            "Tag “%(tag)s” added to %(num)d contact.",
            "Tag “%(tag)s” added to %(num)d contacts.",
            1,
            tag="secundaria 5",
        )
        in html
    )
    assert es_n("%(num)d contact already had it.", "%(num)d contacts already had it.", 1) in html


def test_add_tag_to_every_contact_matching_the_search(client, org, coordinator, make_org):
    players = [with_tags(make_contact(org, n), "futbol") for n in (1, 2, 3)]
    other = make_contact(org, 4)
    foreign = with_tags(make_contact(make_org(), 5), "futbol")
    erased = with_tags(make_contact(org, 6, erased_at=WHEN, phone=None), "futbol")
    response = post_bulk(client, scope="all", **{"f-tag": "futbol"}, action="add_tag", tag="liga")
    for p in players:
        assert tags_of(p.id) == ["futbol", "liga"]
    assert tags_of(other.id) == [] and tags_of(foreign.id) == ["futbol"]
    assert tags_of(erased.id) == ["futbol"]
    assert es_n(
        "Tag “%(tag)s” added to %(num)d contact.",
        "Tag “%(tag)s” added to %(num)d contacts.",
        3,
        tag="liga",
    ) in response.get_data(as_text=True)


def test_the_search_is_evaluated_again_when_the_action_runs(client, org, coordinator):
    page = client.get("/contacts/?tag=futbol")
    token = csrf_token_from(page)
    late = with_tags(make_contact(org, 1), "futbol")  # joins after the page was shown
    post_bulk(
        client, csrf_token=token, scope="all", **{"f-tag": "futbol"}, action="add_tag", tag="x"
    )
    assert tags_of(late.id) == ["futbol", "x"]


def test_add_tag_leaves_contacts_with_twenty_tags_as_they_were(client, org, coordinator):
    full = with_tags(make_contact(org, 1), *(f"t{n}" for n in range(20)))
    ok = make_contact(org, 2)
    html = post_bulk(
        client, scope="selected", ids=[full.id, ok.id], action="add_tag", tag="nueva"
    ).get_data(as_text=True)
    assert "nueva" not in tags_of(full.id) and tags_of(ok.id) == ["nueva"]
    assert (
        es_n(
            "%(num)d contact already has %(max)d tags and was left as it was.",
            "%(num)d contacts already have %(max)d tags and were left as they were.",
            1,
            max=20,
        )
        in html
    )


def test_remove_tag_from_every_contact_on_the_page(client, org, coordinator):
    a = with_tags(make_contact(org, 1), "futbol", "liga")
    b = with_tags(make_contact(org, 2), "liga")
    c = make_contact(org, 3)
    html = post_bulk(
        client, scope="page", page_ids=[a.id, b.id, c.id], ids=[], action="remove_tag", tag="LIGA"
    ).get_data(as_text=True)
    assert tags_of(a.id) == ["futbol"] and tags_of(b.id) == [] and tags_of(c.id) == []
    assert (
        es_n(
            "Tag “%(tag)s” removed from %(num)d contact.",
            "Tag “%(tag)s” removed from %(num)d contacts.",
            2,
            tag="liga",
        )
        in html
    )


# --- bad input: a clear message, nothing changes ------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "msgid"),
    [
        ("   ", "Type the tag to add or remove."),
        ("uno, dos", "A tag has up to 40 letters, digits, spaces or hyphens (one tag at a time)."),
        ("x" * 41, "A tag has up to 40 letters, digits, spaces or hyphens (one tag at a time)."),
    ],
)
def test_a_bad_tag_changes_nothing(client, org, coordinator, tag, msgid):
    a = make_contact(org, 1)
    response = post_bulk(client, scope="selected", ids=[a.id], action="add_tag", tag=tag)
    assert es(msgid) in response.get_data(as_text=True)
    assert tags_of(a.id) == []


ME = "me"  # replaced by the id of the test's own contact


@pytest.mark.parametrize(
    ("data", "msgid"),
    [
        (dict(scope="selected", action="add_tag", tag="x"), "Select at least one contact."),
        (dict(scope="page", ids=[ME], action="add_tag", tag="x"), "Select at least one contact."),
        (dict(scope="selected", ids=[ME], action="launch", tag="x"), "Choose an action."),
        (dict(scope="selected", ids=[ME], action="", tag="x"), "Choose an action."),
        (
            dict(scope="selected", ids=[ME, "²"], action="add_tag", tag="x"),
            "Some of the selected contacts are no longer in your list. Reload the page and "
            "select them again.",
        ),
        *(
            (
                dict(scope="selected", ids=[ME, bad], action="add_tag", tag="x"),
                "Some of the selected contacts are no longer in your list. Reload the page and "
                "select them again.",
            )
            # Leading zeros hiding a huge number, past Python's int() digit limit, zero.
            for bad in ("00000000001" + "0" * 30, "9" * 5000, "0")
        ),
        (
            dict(scope="all", action="add_tag", tag="x", **{"f-state": "ZZ"}),
            "The search filters are not valid. Search again, then choose the contacts.",
        ),
        (
            dict(scope="everything", ids=[ME], action="add_tag", tag="x"),
            "Choose which contacts the action applies to.",
        ),
    ],
)
def test_bad_selection_or_action_changes_nothing(client, org, coordinator, data, msgid):
    a = make_contact(org, 1)
    data = dict(data, ids=[str(a.id) if i == ME else i for i in data.get("ids", [])])
    response = post_bulk(client, **data)
    assert response.status_code == 200  # back on the list
    assert es(msgid) in response.get_data(as_text=True)
    assert tags_of(a.id) == []


def test_nothing_matching_the_search_is_an_error(client, org, coordinator):
    make_contact(org, 1, language="es")
    html = post_bulk(
        client, scope="all", action="add_tag", tag="x", **{"f-language": "en"}
    ).get_data(as_text=True)
    assert es("No contact matches this search: nothing was changed.") in html
    assert db.session.scalar(select(ContactTag.id)) is None


def test_another_organizations_contact_refuses_the_whole_action(client, org, coordinator, make_org):
    mine = make_contact(org, 1)
    theirs = make_contact(make_org(), 2)
    for action in ("add_tag", "export"):
        response = post_bulk(
            client, scope="selected", ids=[mine.id, theirs.id], action=action, tag="x"
        )
        assert response.mimetype == "text/html"
        html = response.get_data(as_text=True)
        assert (
            es(
                "Some of the selected contacts are no longer in your list. Reload the page and "
                "select them again."
            )
            in html
        )
    response = post_bulk(
        client, scope="selected", ids=[mine.id, theirs.id], action="opt_out", follow=False
    )
    assert response.status_code == 302  # no confirmation page for a foreign id
    assert tags_of(mine.id) == [] and tags_of(theirs.id) == []
    assert fresh(theirs.id).opted_out_at is None


def test_erased_contacts_cannot_be_selected_by_id(client, org, coordinator):
    gone = make_contact(org, 1, erased_at=WHEN, phone=None)
    html = post_bulk(client, scope="selected", ids=[gone.id], action="add_tag", tag="x").get_data(
        as_text=True
    )
    assert (
        es(
            "Some of the selected contacts are no longer in your list. Reload the page and "
            "select them again."
        )
        in html
    )
    assert tags_of(gone.id) == []


def test_too_many_checked_ids_are_refused(client, org, coordinator):
    a = make_contact(org, 1)
    ids = [str(a.id), *(str(n) for n in range(10_000, 10_500))]
    html = post_bulk(client, scope="selected", ids=ids, action="add_tag", tag="x").get_data(
        as_text=True
    )
    assert (
        es(
            "Too many contacts checked (%(max)d at most): choose every contact matching the search "
            "instead.",
            max=500,
        )
        in html
    )
    assert tags_of(a.id) == []


def test_without_csrf_token_nothing_happens(client, org, coordinator):
    a = make_contact(org, 1)
    response = client.post(
        "/contacts/bulk", data=dict(scope="selected", ids=[a.id], action="add_tag", tag="x")
    )
    assert response.status_code == 400
    assert tags_of(a.id) == []


@pytest.mark.parametrize("action", ["add_tag", "opt_out", "erase", "export"])
def test_evaluators_cannot_act_or_export(client, org, make_user, login, action):
    a = make_contact(org, 1)
    login(make_user(org, role="evaluator"))
    token = csrf_token(client)
    response = client.post(
        "/contacts/bulk",
        data=dict(
            csrf_token=token,
            scope="selected",
            ids=[a.id],
            action=action,
            tag="x",
            step="confirm",
            reason="asked",
            confirm="y",
            confirm_count="1",
        ),
    )
    assert response.status_code == 403
    contact = fresh(a.id)
    assert contact.opted_out_at is None and contact.erased_at is None and tags_of(a.id) == []


# --- opt-out -------------------------------------------------------------------------------


def test_opt_out_asks_for_confirmation_then_stops_the_messages(app, client, org, coordinator):
    a, b = make_contact(org, 1), make_contact(org, 2)
    earlier = make_contact(org, 3, opted_out_at=WHEN, opt_out_channel="sms")
    bystander = make_contact(org, 4)
    campaign = make_campaign(org)
    pending = make_outbox_row(a, due_at=NOW, campaign_id=campaign.id)
    control = make_outbox_row(bystander, due_at=NOW, campaign_id=campaign.id)
    first = post_bulk(
        client, follow=False, scope="selected", ids=[a.id, b.id, earlier.id], action="opt_out"
    )
    assert first.status_code == 200
    html = first.get_data(as_text=True)
    assert es_n("Opt out %(num)s contact", "Opt out %(num)s contacts", 3) in html
    assert 'name="step" value="confirm"' in html and es("Choose a reason") in html
    assert fresh(a.id).opted_out_at is None  # nothing yet

    confirm = dict(
        csrf_token=csrf_token_from(first),
        step="confirm",
        action="opt_out",
        scope="selected",
        ids=[a.id, b.id, earlier.id],
    )
    missing_reason = client.post("/contacts/bulk", data=dict(confirm, confirm="y"))
    assert missing_reason.status_code == 400
    assert es("Choose the reason for the opt-out.") in missing_reason.get_data(as_text=True)
    unconfirmed = client.post("/contacts/bulk", data=dict(confirm, reason="guardian"))
    assert unconfirmed.status_code == 400
    assert es("Confirm the opt-out to continue.") in unconfirmed.get_data(as_text=True)
    assert fresh(a.id).opted_out_at is None

    done = client.post(
        "/contacts/bulk", data=dict(confirm, reason="guardian", confirm="y"), follow_redirects=True
    )
    html = done.get_data(as_text=True)
    assert (
        es_n(
            "%(num)d contact was opted out: no more messages will be sent to them.",
            "%(num)d contacts were opted out: no more messages will be sent to them.",
            2,
        )
        in html
    )
    for contact in (fresh(a.id), fresh(b.id)):
        assert contact.opted_out_at is not None and contact.opt_out_channel == "coordinator"
        assert contact.opt_out_reason == "guardian"
    kept = fresh(earlier.id)
    assert kept.opted_out_at == WHEN and kept.opt_out_channel == "sms"
    assert kept.opt_out_reason is None  # its own opt-out, untouched
    detail = client.get(f"/contacts/{a.id}").get_data(as_text=True)
    assert es("Reason: %(reason)s", reason=es("A parent or guardian asked")) in detail

    # The message that was pending never goes out.
    clock = Clock(NOW + timedelta(minutes=1))
    gateway = FakeSmsGateway(clock=clock)
    worker = Worker(
        app,
        gateway=gateway,
        clock=clock,
        settings=DispatchSettings(concurrency=1, batch_size=10),
        budget=_NoBudget(),
        worker_id="w-bulk",
    )
    worker.run(once=True)
    worker.close()
    assert [m.to for m in gateway.sent] == [bystander.phone]  # only the one not opted out
    db.session.expire_all()
    row = db.session.get(OutboxMessage, pending.id)
    assert row.status in ("skipped", "canceled") and row.skip_reason == "opted_out"
    assert db.session.get(OutboxMessage, control.id).status == "sent"


class _NoBudget:
    def acquire(self):
        pass


def test_opt_out_of_every_contact_matching_the_search(client, org, coordinator, make_org):
    english = [make_contact(org, n, language="en") for n in (1, 2)]
    spanish = make_contact(org, 3, language="es")
    foreign = make_contact(make_org(), 4, language="en")
    data = dict(scope="all", action="opt_out", **{"f-language": "en"})
    first = post_bulk(client, follow=False, **data)
    assert es_n("Opt out %(num)s contact", "Opt out %(num)s contacts", 2) in (
        first.get_data(as_text=True)
    )
    assert 'name="f-language" value="en"' in first.get_data(as_text=True)
    client.post(
        "/contacts/bulk",
        data=dict(
            data,
            csrf_token=csrf_token_from(first),
            step="confirm",
            reason="program_left",
            confirm="y",
        ),
    )
    assert all(fresh(c.id).opted_out_at is not None for c in english)
    assert fresh(spanish.id).opted_out_at is None and fresh(foreign.id).opted_out_at is None


def test_opt_out_logs_a_security_event_without_personal_data(client, org, coordinator, caplog):
    a = make_contact(org, 1, first_name="Valeria")
    first = post_bulk(client, follow=False, scope="selected", ids=[a.id], action="opt_out")
    caplog.clear()
    client.post(
        "/contacts/bulk",
        data=dict(
            csrf_token=csrf_token_from(first),
            step="confirm",
            action="opt_out",
            scope="selected",
            ids=[a.id],
            reason="asked",
            confirm="y",
        ),
    )
    logged = " ".join(r.getMessage() for r in caplog.records if r.name == "alcance.security")
    assert "security_event=contacts_opted_out" in logged
    assert "count=1" in logged and "reason=asked" in logged
    assert "Valeria" not in logged and a.phone not in logged


# --- erasure -------------------------------------------------------------------------------


def erase_confirmation(client, **data):
    return post_bulk(client, follow=False, action="erase", **data)


def test_erase_needs_the_typed_count_then_erases(client, org, coordinator, make_org):
    a = with_tags(make_contact(org, 1, first_name="Ana", last_name="López"), "futbol")
    b = make_contact(org, 2, birth_year=2010)
    keep = make_contact(org, 3)
    foreign = make_contact(make_org(), 4)
    sent = make_outbox_row(a, status="delivered", body="Hola Ana", due_at=NOW - timedelta(days=1))
    pending = make_outbox_row(b, body="Hola", due_at=NOW + timedelta(hours=2))

    first = erase_confirmation(client, scope="selected", ids=[a.id, b.id])
    assert first.status_code == 200
    html = first.get_data(as_text=True)
    assert (
        es_n(
            "Erase the personal data of %(num)s contact",
            "Erase the personal data of %(num)s contacts",
            2,
        )
        in html
    )
    assert es("Type %(num)d to confirm.", num=2) in html
    confirm = dict(
        csrf_token=csrf_token_from(first),
        step="confirm",
        action="erase",
        scope="selected",
        ids=[a.id, b.id],
    )
    for typed in ("", "3", "1"):
        wrong = client.post("/contacts/bulk", data=dict(confirm, confirm_count=typed))
        assert wrong.status_code == 400
        assert es(
            "To confirm, type the number of contacts to erase: %(num)d.", num=2
        ) in wrong.get_data(as_text=True)
        assert fresh(a.id).erased_at is None

    done = client.post(
        "/contacts/bulk", data=dict(confirm, confirm_count=" 2 "), follow_redirects=True
    )
    assert es_n(
        "The personal data of %(num)d contact was erased. A de-identified record remains "
        "for statistics.",
        "The personal data of %(num)d contacts was erased. De-identified records remain "
        "for statistics.",
        2,
    ) in done.get_data(as_text=True)
    erased_a, erased_b = fresh(a.id), fresh(b.id)
    for c in (erased_a, erased_b):
        assert c.erased_at is not None and c.phone is None and c.first_name is None
        assert c.last_name is None and c.birth_year is None and c.tag_names == []
    assert erased_b.age_band == "15-17"  # the birth year is kept as its band
    assert db.session.get(OutboxMessage, sent.id).body == ""
    assert db.session.get(OutboxMessage, pending.id).status == "canceled"
    assert fresh(keep.id).erased_at is None and fresh(foreign.id).erased_at is None


def test_erase_all_matching_refuses_when_the_selection_grew(client, org, coordinator):
    make_contact(org, 1, language="en")
    first = erase_confirmation(client, scope="all", **{"f-language": "en"})
    assert es("Type %(num)d to confirm.", num=1) in first.get_data(as_text=True)
    make_contact(org, 2, language="en")  # added after the confirmation page was shown
    response = client.post(
        "/contacts/bulk",
        data={
            "csrf_token": csrf_token_from(first),
            "step": "confirm",
            "action": "erase",
            "scope": "all",
            "f-language": "en",
            "confirm_count": "1",
        },
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert es("To confirm, type the number of contacts to erase: %(num)d.", num=2) in html
    assert es("Type %(num)d to confirm.", num=2) in html
    assert db.session.scalar(select(Contact.id).where(Contact.erased_at.is_not(None))) is None


def test_erase_of_another_organizations_contact_is_refused(client, org, coordinator, make_org):
    theirs = make_contact(make_org(), 1)
    mine = make_contact(org, 2)
    response = client.post(
        "/contacts/bulk",
        data=dict(
            csrf_token=csrf_token_from(client.get("/contacts/")),
            step="confirm",
            action="erase",
            scope="selected",
            ids=[mine.id, theirs.id],
            confirm_count="2",
        ),
        follow_redirects=True,
    )
    assert es(
        "Some of the selected contacts are no longer in your list. Reload the page and "
        "select them again."
    ) in response.get_data(as_text=True)
    assert fresh(theirs.id).erased_at is None and fresh(mine.id).erased_at is None


def test_the_confirmation_page_carries_the_search_escaped(client, org, coordinator):
    hostile = '"><img src=x onerror=alert(1)>'
    make_contact(org, 1, first_name=hostile)
    response = post_bulk(client, follow=False, scope="all", action="opt_out", **{"f-q": hostile})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert hostile not in html
    assert 'name="f-q" value="&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"' in html
