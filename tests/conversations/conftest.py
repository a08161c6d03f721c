"""Shared fixtures of the conversation pages' tests: an organization and its signed-in
coordinator (English pages, so assertions read the source strings)."""

import pytest


@pytest.fixture
def org(make_org):
    return make_org()


@pytest.fixture
def coordinator(org, make_user, login):
    user = make_user(org, "coordinator", language="en")
    login(user)
    return user
