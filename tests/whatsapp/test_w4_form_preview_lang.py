"""The template form's preview bubble is marked with the template's language (not the
page's): the English version of a template, written on a Spanish page, previews English
sample values, and screen readers and the browser journeys' language check must know."""

import re

import pytest

from tests.factories import make_org, make_user, make_whatsapp_template

BASE = "/whatsapp/templates"
BUBBLE = re.compile(r'<div class="wa-bubble" id="wa-preview-bubble" lang="(\w+)">')


@pytest.fixture
def org(app):
    return make_org(name="Jóvenes Tijuana")


def _bubble_lang(response) -> str:
    assert response.status_code == 200
    found = BUBBLE.findall(response.get_data(as_text=True))
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("page_lang", ["es", "en"])
def test_the_preview_bubble_has_the_template_language(client, login, org, page_lang):
    login(make_user(org, role="coordinator"))
    spanish = make_whatsapp_template(org)
    assert _bubble_lang(client.get(f"{BASE}/new?lang={page_lang}")) == "es"  # the first choice
    english_version = client.get(f"{BASE}/new?copy={spanish.id}&lang={page_lang}")
    assert _bubble_lang(english_version) == "en"
    assert _bubble_lang(client.get(f"{BASE}/{spanish.id}/edit?lang={page_lang}")) == "es"
