"""Organization settings → Webhooks: admins only, their organization only; a bad address
is refused with a translated message and nothing saved; the secret is shown once."""

import re

import pytest
from flask_babel import force_locale, gettext
from markupsafe import escape
from sqlalchemy import func, select

from app.errors import DomainError
from app.extensions import db
from app.integrations.models import WebhookDelivery, WebhookEndpoint
from app.integrations.services import check_url
from tests.support import NOW, csrf_token

URL = "/organization/webhooks"
BAD_URL = "Enter a full https:// address, for example https://example.org/alcance."


def es(msgid: str) -> str:
    """The Spanish catalog's text (the msgid itself until the lead merges es_hooks.po)."""
    with force_locale("es"):
        return escape(gettext(msgid))


def count() -> int:
    return db.session.scalar(select(func.count()).select_from(WebhookEndpoint))


def add(client, **data):
    values = {
        "csrf_token": csrf_token(client),
        "url": "https://crm.example.org/alcance",
        "events": ["contact.opted_out", "case.opened"],
    }
    values.update(data)
    return client.post(URL, data=values)


def test_admin_adds_an_endpoint_and_sees_its_secret_once(app, make_org, make_user, login, client):
    org = make_org()
    login(make_user(org, role="admin", language="en"))
    assert client.get(URL).status_code == 200
    response = add(client, description="Our CRM")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    secret = re.search(r'id="new-webhook-secret">(whsec_[^<]+)<', page).group(1)
    endpoint = db.session.scalar(select(WebhookEndpoint))
    assert endpoint.secret == secret and endpoint.organization_id == org.id
    assert endpoint.event_list == ["contact.opted_out", "case.opened"]
    assert endpoint.enabled and not endpoint.own_system
    assert secret not in client.get(URL).get_data(as_text=True)
    detail = client.get(f"{URL}/{endpoint.id}").get_data(as_text=True)
    assert endpoint.url in detail and secret not in detail


def test_bad_addresses_are_refused_in_spanish_and_nothing_is_saved(
    app, make_org, make_user, login, client
):
    org = make_org()
    login(make_user(org, role="admin", language="es"))
    for url in (
        "http://crm.example.org/hook",  # not https
        "ftp://crm.example.org/hook",
        "https://",
        "https://user:pw@crm.example.org/hook",
        "crm.example.org",
        "https://crm.example.org/a b",
        "https://127.0.0.1/hook",  # this machine, a private network: never
        "https://10.0.0.5/hook",
        "https://169.254.169.254/latest",
        "https://[::1]/hook",
        "https://localhost/hook",
    ):
        response = add(client, url=url)
        assert response.status_code == 400, url
        assert es(BAD_URL) in response.get_data(as_text=True)
    response = add(client, events=[])
    assert response.status_code == 400
    assert count() == 0


def test_local_http_only_in_testing_or_debug(app, make_org, make_user, login, client):
    org = make_org()
    login(make_user(org, role="admin", language="en"))
    assert add(client, url="http://127.0.0.1:8000/hook").status_code == 200
    assert count() == 1
    app.config.update(TESTING=False, DEBUG=False)
    with pytest.raises(DomainError):
        check_url("http://localhost:8000/hook")
    assert check_url(" https://crm.example.org/hook ") == "https://crm.example.org/hook"
    app.config["DEBUG"] = True
    assert check_url("http://localhost:8000/hook") == "http://localhost:8000/hook"
    with pytest.raises(DomainError):
        check_url("http://crm.example.org/hook")


def test_only_admins_and_only_their_organizations_endpoints(
    app, make_org, make_user, login, client, make_endpoint
):
    org, other = make_org(), make_org()
    foreign = make_endpoint(other, "https://other.example.org/hook")
    for role in ("coordinator", "evaluator"):
        c = app.test_client()
        login(make_user(org, role=role, language="en"), c=c)
        assert c.get(URL).status_code == 403
        assert c.get(f"{URL}/{foreign.id}").status_code == 403
        assert add(c).status_code == 403
    admin = app.test_client()
    login(make_user(org, role="admin", language="en"), c=admin)
    assert foreign.url not in admin.get(URL).get_data(as_text=True)
    assert admin.get(f"{URL}/{foreign.id}").status_code == 404
    for action in ("disable", "enable", "rotate", "delete", "dismiss"):
        response = admin.post(
            f"{URL}/{foreign.id}/{action}", data={"csrf_token": csrf_token(admin)}
        )
        assert response.status_code == 404, action
    db.session.expire_all()
    same = db.session.get(WebhookEndpoint, foreign.id)
    assert same is not None and same.enabled and same.secret == foreign.secret


def test_disable_enable_rotate_delete(app, make_org, make_user, login, client, make_endpoint):
    org = make_org()
    endpoint = make_endpoint(org, "https://crm.example.org/hook")
    old = endpoint.secret
    login(make_user(org, role="admin", language="en"))
    token = csrf_token(client)
    assert (
        client.post(f"{URL}/{endpoint.id}/disable", data={"csrf_token": token}).status_code == 302
    )
    db.session.expire_all()
    assert not db.session.get(WebhookEndpoint, endpoint.id).enabled
    client.post(f"{URL}/{endpoint.id}/enable", data={"csrf_token": token})
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, endpoint.id).enabled
    page = client.post(f"{URL}/{endpoint.id}/rotate", data={"csrf_token": token})
    secret = re.search(r'id="new-webhook-secret">(whsec_[^<]+)<', page.get_data(as_text=True))
    db.session.expire_all()
    assert secret.group(1) == db.session.get(WebhookEndpoint, endpoint.id).secret != old
    client.post(f"{URL}/{endpoint.id}/delete", data={"csrf_token": token})
    assert count() == 0
    assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0


def test_delivery_log_and_dismissing_the_disabled_notice(
    app, make_org, make_user, login, client, make_endpoint
):
    from app.organizations.events import emit

    org = make_org()
    endpoint = make_endpoint(org, "https://crm.example.org/hook")
    emit("case.opened", organization_id=org.id, key="1", occurred_at=NOW, data={})
    endpoint.enabled, endpoint.disabled_reason, endpoint.notice_pending = False, "failing", True
    db.session.commit()
    delivery = db.session.scalar(select(WebhookDelivery))
    delivery.attempts, delivery.last_status_code, delivery.last_error = 3, 503, "HTTP 503"
    db.session.commit()
    login(make_user(org, role="admin", language="en"))
    page = client.get(f"{URL}/{endpoint.id}").get_data(as_text=True)
    assert delivery.uid in page and "HTTP 503" in page and "kept failing" in page
    assert "kept failing" in client.get("/organization/settings").get_data(as_text=True)
    client.post(f"{URL}/{endpoint.id}/dismiss", data={"csrf_token": csrf_token(client)})
    assert "kept failing and was" not in client.get("/organization/settings").get_data(as_text=True)
