"""Campaign fixtures: an organization, its coordinator, and campaigns and messages created
through app.campaigns.services (the code under test) from the valid input of
tests/factories.py (`campaign_values`, `message_values`)."""

import pytest

from app.campaigns import services
from app.extensions import db
from tests.factories import campaign_values, message_values


@pytest.fixture
def org(make_org):
    return make_org(name="Jóvenes Libres A.C.")


@pytest.fixture
def coordinator(make_user, org):
    # English UI, so assertions read the msgids whatever the Spanish catalogue holds.
    return make_user(org, role="coordinator", language="en")


@pytest.fixture
def create_campaign(org):
    """`services.create_campaign` with `campaign_values(**overrides)`, in `org` unless
    `organization` is given; then moved to `status` (a draft by default)."""

    def create(organization=None, status="draft", **overrides):
        campaign = services.create_campaign(
            (organization or org).id, **campaign_values(**overrides)
        )
        if status != "draft":
            campaign.status = status
            db.session.commit()
        return campaign

    return create


@pytest.fixture
def add_message():
    """`services.add_message` with `message_values(**overrides)`."""

    def add(campaign, **overrides):
        return services.add_message(campaign, **message_values(**overrides))

    return add
