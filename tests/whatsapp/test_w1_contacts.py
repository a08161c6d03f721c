"""A contact's channel (issue 19): preferred channel and WhatsApp opt-in on the contact form,
the walk-in form and the CSV import, with translated errors; the contact page shows the
channel state; the organization's WhatsApp settings."""

from datetime import UTC, datetime, timedelta

import pytest
from flask_babel import force_locale, gettext
from markupsafe import escape
from sqlalchemy import select

from app.contacts import import_services
from app.contacts.models import Contact
from app.contacts.services import ContactInvalid
from app.contacts.validation import clean_contact
from app.extensions import db
from app.organizations.models import Organization
from app.workshops import walk_ins
from tests.factories import make_contact, make_workshop
from tests.support import NOW, TODAY, csrf_token_from

YEAR = TODAY.year
NEEDS_OPT_IN = "WhatsApp can be the preferred channel only with a WhatsApp opt-in."


def es(msgid: str, **values) -> str:
    with force_locale("es"):
        return str(escape(gettext(msgid, **values)))


@pytest.fixture
def org(make_org):
    return make_org(slug="ong-wa")


def contact_form(client, url, **overrides) -> dict:
    data = dict(
        csrf_token=csrf_token_from(client.get(url)),
        phone="664 555 0101",
        first_name="Valeria",
        language="es",
        birth_year=str(YEAR - 19),
        age_band="",
        gender="female",
        country="MX",
        state="02",
        municipality="Tijuana",
        timezone="",
        tags="",
        consent_source="school",
        consent_basis="",
        consent_date="",
        preferred_channel="sms",
    )
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def the_contact(org) -> Contact:
    db.session.expire_all()
    return db.session.scalar(select(Contact).where(Contact.organization_id == org.id))


# --- validation ------------------------------------------------------------------------------


def raw(**overrides) -> dict:
    values = dict(phone="6645550101", consent_source="school", guardian_consent="no")
    values.update(overrides)
    return values


@pytest.mark.parametrize(
    "channel, opt_in, expected",
    [
        ("sms", "no", ("sms", False)),
        ("", "", ("sms", False)),
        ("WhatsApp", "sí", ("whatsapp", True)),
        ("wa", "yes", ("whatsapp", True)),
        ("sms", "x", ("sms", True)),
    ],
)
def test_channel_values(app, org, channel, opt_in, expected):
    values, errors = clean_contact(
        raw(preferred_channel=channel, whatsapp_opt_in=opt_in), org=org, today=TODAY
    )
    assert errors == []
    assert (values["preferred_channel"], values["whatsapp_opt_in"]) == expected


@pytest.mark.parametrize(
    "channel, opt_in, message",
    [
        ("whatsapp", "no", NEEDS_OPT_IN),
        ("telegram", "yes", "Unknown channel (use SMS or WhatsApp)."),
        ("sms", "maybe", "The WhatsApp opt-in must be yes or no."),
    ],
)
def test_channel_errors(app, org, channel, opt_in, message):
    _values, errors = clean_contact(
        raw(preferred_channel=channel, whatsapp_opt_in=opt_in), org=org, today=TODAY
    )
    assert errors == [message]


def test_without_the_channel_fields_nothing_is_said_about_the_channel(app, org):
    values, errors = clean_contact(raw(), org=org, today=TODAY)
    assert errors == [] and "preferred_channel" not in values


# --- the contact form ------------------------------------------------------------------------


@pytest.fixture
def coordinator(make_user, org, login):
    user = make_user(org, role="coordinator", language="en")
    login(user)
    return user


def test_create_a_whatsapp_contact(client, org, coordinator):
    response = client.post(
        "/contacts/new",
        data=contact_form(
            client, "/contacts/new", preferred_channel="whatsapp", whatsapp_opt_in="y"
        ),
    )
    assert response.status_code == 302
    contact = the_contact(org)
    assert contact.preferred_channel == "whatsapp"
    assert contact.whatsapp_opt_in_source == "form" and contact.whatsapp_opt_in_at is not None
    page = client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert 'data-channel="whatsapp"' in page and "Contact form" in page


def test_whatsapp_without_opt_in_is_refused_on_its_field(client, org, coordinator):
    response = client.post(
        "/contacts/new", data=contact_form(client, "/contacts/new", preferred_channel="whatsapp")
    )
    assert response.status_code in (400, 422)
    assert str(escape(NEEDS_OPT_IN)) in response.get_data(as_text=True)
    assert the_contact(org) is None


def test_the_error_is_translated(client, org, make_user, login):
    login(make_user(org, role="coordinator", language="es"))
    response = client.post(
        "/contacts/new", data=contact_form(client, "/contacts/new", preferred_channel="whatsapp")
    )
    assert es(NEEDS_OPT_IN) in response.get_data(as_text=True)


def test_editing_keeps_the_opt_in_date_and_unchecking_withdraws_it(client, org, coordinator):
    when = datetime(2026, 1, 5, 17, tzinfo=UTC)
    contact = make_contact(
        org,
        phone="+526645550101",
        preferred_channel="whatsapp",
        whatsapp_opt_in_at=when,
        whatsapp_opt_in_source="keyword",
    )
    url = f"/contacts/{contact.id}/edit"
    edit = client.get(url).get_data(as_text=True)
    assert 'name="whatsapp_opt_in"' in edit
    data = contact_form(client, url, preferred_channel="whatsapp", whatsapp_opt_in="y")
    assert client.post(url, data=data).status_code == 302
    contact = the_contact(org)
    assert (contact.whatsapp_opt_in_at, contact.whatsapp_opt_in_source) == (when, "keyword")
    data = contact_form(client, url, preferred_channel="sms")
    assert client.post(url, data=data).status_code == 302
    contact = the_contact(org)
    assert contact.whatsapp_opt_in_at is None and contact.preferred_channel == "sms"


def test_the_contact_page_shows_whatsapp_opt_out_and_not_on_whatsapp(client, org, coordinator):
    when = datetime(2026, 1, 5, 17, tzinfo=UTC)
    contact = make_contact(
        org,
        preferred_channel="whatsapp",
        whatsapp_opt_in_at=when,
        whatsapp_opt_in_source="import",
        whatsapp_opted_out_at=when,
        whatsapp_unreachable_at=when,
    )
    page = client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert "data-whatsapp-opted-out" in page and "data-whatsapp-unreachable" in page
    assert "CSV import" in page and "Not on WhatsApp" in page


def test_another_organizations_contact_cannot_be_edited(client, make_org, coordinator):
    other = make_contact(make_org())
    url = f"/contacts/{other.id}/edit"
    assert client.get(url).status_code == 404


# --- walk-ins --------------------------------------------------------------------------------


def walk_in_raw(**overrides) -> dict:
    values = dict(
        phone="664 555 0101",
        first_name="Luz",
        language="es",
        birth_year=str(NOW.year - 22),
        age_band="",
        gender="",
        state="",
        municipality="",
        guardian_consent="no",
        consent="yes",
    )
    values.update(overrides)
    return values


def test_a_walk_in_opts_in_to_whatsapp(app, org, make_user):
    user = make_user(org)
    workshop = make_workshop(org, starts_at=NOW - timedelta(minutes=20))
    result = walk_ins.register_walk_in(
        workshop,
        walk_in_raw(preferred_channel="whatsapp", whatsapp_opt_in="yes"),
        user_id=user.id,
        now=NOW,
    )
    contact = result.contact
    assert contact.preferred_channel == "whatsapp"
    assert (contact.whatsapp_opt_in_at, contact.whatsapp_opt_in_source) == (NOW, "walk_in")


def test_a_walk_in_refuses_whatsapp_without_opt_in(app, org, make_user):
    user = make_user(org)
    workshop = make_workshop(org, starts_at=NOW - timedelta(minutes=20))
    with pytest.raises(ContactInvalid) as raised:
        walk_ins.register_walk_in(
            workshop, walk_in_raw(preferred_channel="whatsapp"), user_id=user.id, now=NOW
        )
    assert raised.value.field_errors["preferred_channel"] == [NEEDS_OPT_IN]


def test_a_known_contact_at_the_door_gets_the_opt_in_and_keeps_one_on_file(app, org, make_user):
    user = make_user(org)
    workshop = make_workshop(org, starts_at=NOW - timedelta(minutes=20))
    known = make_contact(org, phone="+526645550101", birth_year=NOW.year - 22)
    walk_ins.register_walk_in(
        workshop,
        walk_in_raw(preferred_channel="whatsapp", whatsapp_opt_in="yes"),
        user_id=user.id,
        now=NOW,
    )
    db.session.refresh(known)
    assert known.whatsapp_opt_in_source == "walk_in" and known.preferred_channel == "whatsapp"


def test_the_walk_in_page_has_the_channel_fields(client, org, make_user, login):
    login(make_user(org, language="en"))
    workshop = make_workshop(org, starts_at=NOW - timedelta(minutes=20))
    page = client.get(f"/workshops/{workshop.id}/attendance/walk-in").get_data(as_text=True)
    assert 'name="preferred_channel"' in page and 'name="whatsapp_opt_in"' in page


# --- CSV import ------------------------------------------------------------------------------


def run_import(org, text):
    imp = import_services.create_import(
        org, user_id=None, filename="lista.csv", data=text.encode(), consent_source="workshop"
    )
    return imp, import_services.apply_import(imp, now=NOW)


def by_phone(org) -> dict[str, Contact]:
    db.session.expire_all()
    return {
        c.phone: c
        for c in db.session.scalars(select(Contact).where(Contact.organization_id == org.id))
    }


def test_import_columns_good_and_bad_rows(app, org):
    imp, result = run_import(
        org,
        "telefono,canal,acepta_whatsapp\n"
        "6645550101,WhatsApp,sí\n"
        "6645550102,sms,no\n"
        "6645550103,whatsapp,no\n"
        "6645550104,telegram,sí\n"
        "6645550105,,\n",
    )
    assert (result.created, result.rejected, result.warned) == (5, 0, 2)
    found = by_phone(org)
    good = found["+526645550101"]
    assert good.preferred_channel == "whatsapp"
    assert (good.whatsapp_opt_in_at, good.whatsapp_opt_in_source) == (NOW, "import")
    for phone in ("+526645550102", "+526645550103", "+526645550104", "+526645550105"):
        contact = found[phone]
        assert (contact.preferred_channel, contact.whatsapp_opt_in_at) == ("sms", None)
    report = import_services.rejected_report(imp)
    assert f"{NEEDS_OPT_IN} The contact stays on SMS." in report
    assert "Unknown channel (use SMS or WhatsApp). The contact stays on SMS." in report


def test_import_updates_keep_an_opt_in_on_file_and_a_no_withdraws_it(app, org):
    when = datetime(2026, 1, 5, 17, tzinfo=UTC)
    kept = make_contact(
        org,
        phone="+526645550101",
        preferred_channel="whatsapp",
        whatsapp_opt_in_at=when,
        whatsapp_opt_in_source="keyword",
    )
    withdrawn = make_contact(
        org,
        phone="+526645550102",
        preferred_channel="whatsapp",
        whatsapp_opt_in_at=when,
        whatsapp_opt_in_source="form",
    )
    untouched = make_contact(
        org,
        phone="+526645550103",
        preferred_channel="whatsapp",
        whatsapp_opt_in_at=when,
        whatsapp_opt_in_source="form",
    )
    _imp, result = run_import(
        org,
        "telefono,canal_preferido,whatsapp_opt_in\n"
        "6645550101,whatsapp,yes\n"
        "6645550102,,no\n"
        "6645550103,,\n",
    )
    assert result.updated == 3
    found = by_phone(org)
    assert found[kept.phone].whatsapp_opt_in_at == when
    assert found[kept.phone].whatsapp_opt_in_source == "keyword"
    assert found[withdrawn.phone].whatsapp_opt_in_at is None
    assert found[withdrawn.phone].preferred_channel == "sms"
    assert found[untouched.phone].whatsapp_opt_in_at == when


def test_an_import_without_the_columns_leaves_the_channel_alone(app, org):
    when = datetime(2026, 1, 5, 17, tzinfo=UTC)
    contact = make_contact(
        org, phone="+526645550101", preferred_channel="whatsapp", whatsapp_opt_in_at=when
    )
    run_import(org, "telefono,nombre\n6645550101,Ana\n6645550102,Luis\n")
    found = by_phone(org)
    assert found[contact.phone].preferred_channel == "whatsapp"
    assert found["+526645550102"].preferred_channel == "sms"


# --- organization settings -------------------------------------------------------------------


def settings_form(page, **overrides) -> dict:
    data = {
        "csrf_token": csrf_token_from(page),
        "name": "ONG",
        "timezone": "America/Tijuana",
        "default_language": "es",
        "quiet_start": "08:00",
        "quiet_end": "21:00",
        "cap_messages": "3",
        "cap_days": "7",
        "opt_out_notice": "first",
        "contact_line": "",
        "reminder_hours": "24,2",
        "small_cell_threshold": "5",
    }
    data.update(overrides)
    return data


def fresh_org(org_id) -> Organization:
    db.session.expire_all()
    return db.session.get(Organization, org_id)


def test_admin_sets_the_whatsapp_settings(client, org, make_user, login):
    login(make_user(org, role="admin", language="en"))
    page = client.get("/organization/settings")
    html = page.get_data(as_text=True)
    assert 'name="whatsapp_sender"' in html and 'name="opt_out_all_channels"' in html
    response = client.post(
        "/organization/settings",
        data=settings_form(
            page,
            whatsapp_sender="whatsapp:+52 1 664 555 0100",
            whatsapp_fallback_sms="0",
            whatsapp_no_template="hold",
            opt_out_all_channels="0",
        ),
    )
    assert response.status_code == 302
    saved = fresh_org(org.id)
    assert saved.whatsapp_sender == "+526645550100"
    assert not saved.whatsapp_fallback_sms and saved.whatsapp_no_template == "hold"
    assert not saved.opt_out_all_channels


def test_a_settings_post_without_the_whatsapp_fields_keeps_them(client, org, make_user, login):
    login(make_user(org, role="admin", language="en"))
    page = client.get("/organization/settings")
    assert client.post("/organization/settings", data=settings_form(page)).status_code == 302
    saved = fresh_org(org.id)
    assert saved.whatsapp_fallback_sms and saved.opt_out_all_channels
    assert saved.whatsapp_no_template == "sms" and saved.whatsapp_sender is None


@pytest.mark.parametrize("typed", ["6645550100", "hola", "MG" + "0" * 32])
def test_a_malformed_whatsapp_sender_is_refused(client, org, make_user, login, typed):
    login(make_user(org, role="admin", language="en"))
    page = client.get("/organization/settings")
    response = client.post(
        "/organization/settings", data=settings_form(page, whatsapp_sender=typed)
    )
    assert response.status_code in (400, 422)
    assert "Write the WhatsApp number in E.164 form" in response.get_data(as_text=True)


def test_a_whatsapp_sender_belongs_to_one_organization(client, org, make_org, make_user, login):
    other = make_org()
    other.whatsapp_sender = "+526645550100"
    db.session.commit()
    login(make_user(org, role="admin", language="en"))
    page = client.get("/organization/settings")
    response = client.post(
        "/organization/settings", data=settings_form(page, whatsapp_sender="+526645550100")
    )
    assert response.status_code in (400, 422)
    assert fresh_org(org.id).whatsapp_sender is None


def test_coordinators_cannot_change_the_settings(client, org, make_user, login):
    login(make_user(org, role="coordinator", language="en"))
    assert client.get("/organization/settings").status_code == 403
