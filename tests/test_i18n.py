"""Locale order: explicit switch → saved preference → Accept-Language → Spanish."""


def lang_of(response) -> str:
    html = response.get_data(as_text=True)
    tag = html.split('<html lang="', 1)[1].split('"', 1)[0]
    assert tag in ("es-MX", "en-US"), tag  # the regional tag: browsers format numbers by it
    return tag.split("-")[0]


def test_default_is_spanish(client):
    assert lang_of(client.get("/login")) == "es"
    assert "Iniciar sesión" in client.get("/login").get_data(as_text=True)


def test_accept_language(client):
    assert lang_of(client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})) == "en"
    assert lang_of(client.get("/login", headers={"Accept-Language": "fr"})) == "es"


def test_explicit_switch_beats_browser_and_persists(client):
    response = client.get("/login?lang=en", headers={"Accept-Language": "es"})
    assert lang_of(response) == "en"
    assert lang_of(client.get("/login", headers={"Accept-Language": "es"})) == "en"


def test_invalid_switch_is_ignored(client):
    assert lang_of(client.get("/login?lang=xx")) == "es"


def test_user_preference_beats_browser(client, make_user, login):
    user = make_user(language="en")
    login(user)
    assert lang_of(client.get("/dashboard", headers={"Accept-Language": "es"})) == "en"


def test_switch_saves_preference_for_signed_in_user(app, client, make_user, login):
    from app.extensions import db

    user = make_user(language="es")
    login(user)
    client.get("/dashboard?lang=en")
    db.session.refresh(user)
    assert user.preferred_language == "en"
    # A new browser (no session) now gets English from the saved preference.
    other = app.test_client()
    login(user, c=other)
    assert lang_of(other.get("/dashboard", headers={"Accept-Language": "es"})) == "en"


def test_dates_formatted_for_locale_and_org_timezone(client, make_user, login):
    user = make_user(language="es")
    login(user)
    html = client.get("/dashboard").get_data(as_text=True)
    assert "Hoy es" in html
    html = client.get("/dashboard?lang=en").get_data(as_text=True)
    assert "Today is" in html
