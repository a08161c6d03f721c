"""Signing out keeps the language the person chose (the sign-in page does not switch back
to the browser's language)."""

from tests.support import csrf_token


def lang_of(response) -> str:
    return response.get_data(as_text=True).split('<html lang="', 1)[1].split('"', 1)[0]


def test_sign_out_keeps_the_chosen_language(client, make_user, login):
    user = make_user(language="es")
    login(user)
    client.get("/dashboard?lang=en", headers={"Accept-Language": "es"})
    token = csrf_token(client)
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=True)
    assert lang_of(response) == "en-US"
    assert "You have signed out." in response.get_data(as_text=True)
    page = client.get("/dashboard", headers={"Accept-Language": "es"}, follow_redirects=True)
    assert lang_of(page) == "en-US"  # still signed out, still in English
    assert "/login" in page.request.path


def test_sign_out_without_a_choice_follows_the_browser(client, make_user, login):
    login(make_user(language="en"))
    token = csrf_token(client)
    response = client.post("/logout", data={"csrf_token": token}, headers={"Accept-Language": "es"})
    page = client.get(response.headers["Location"], headers={"Accept-Language": "es"})
    assert lang_of(page) == "es-MX"
