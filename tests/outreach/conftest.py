"""Outreach fixtures shared by the page tests (test_routes, test_fanout_jobs)."""

import pytest

from tests.factories import make_audience, make_campaign, make_contact, make_message


@pytest.fixture
def world(make_org, make_user):
    org = make_org()
    coordinator = make_user(org, role="coordinator")
    campaign = make_campaign(org)
    message = make_message(campaign)
    audience = make_audience(org, {})
    contacts = [make_contact(org) for _ in range(3)]
    return dict(
        org=org,
        user=coordinator,
        campaign=campaign,
        message=message,
        audience=audience,
        contacts=contacts,
    )
