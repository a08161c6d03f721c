"""A small participation dataset built by hand; the tests state the expected figures.

Organization A (America/Mexico_City: UTC-6 all year) runs campaign C1 ("Sin Fentanilo",
information dissemination, universal; target population 100) and C2 (education,
selective). Organization B has its own campaign and contacts and must never show up.

Contacts of A (age = 2026 - birth year):
    c1  2010 (16, 15-17)  02 Baja California / Tijuana   female     es
    c2  2012 (14, 12-14)  02 / "tijuana" (lower case)     male       es
    c3  2005 (21, 18-24)  02 / Mexicali                  female     en
    c4  2000 (26, 25-29)  09 Ciudad de México / Coyoacán nonbinary  es
    c5  band 18-24        09 / Coyoacán                  female     es
    c6  band 15-17        09 / Coyoacán                  male       es   ERASED
    c7  1990 (36, other)  14 Jalisco / Guadalajara       male       en
    c8  no age            14 / Guadalajara               (none)     es
    c9  2011 (15, 15-17)  02 / Tijuana                   female     es   (only a failure)
    c10 2009 (17, 15-17)  02 / Tijuana                   female     es

Events (UTC; local time is 6 hours earlier):
    2026-03-02 18:00  C1/M1 delivered to c1 c2 c3 c4 c5 c6 c10; failed for c9 (30003)
    2026-03-03 18:00  reply c1; replies c3 (twice)
    2026-03-05 16:00  invited to W1: c1 c2 c3
    2026-03-05 18:00  opt-out c4         (last delivery before it: C1/M1)
    2026-03-06 16:00  RSVP yes to W1: c1 c2
    2026-03-06 18:00  opt-out c8         (no delivery before it: not attributed)
    2026-03-09 18:00  C1/M2 delivered to c1 c3 c10; undelivered c2 (30005); failed c4 (no code)
    2026-03-09 20:00  opt-out c10        (last delivery before it: C1/M2)
    2026-03-11 03:00  W1 (starts 2026-03-11 02:00 UTC = 10 March, 20:00 local):
                      attended c1 c5; walk-in c8 (walk_in + attended); no-show c2
    2026-03-12 16:00  invited to W2: c1 c4; 2026-03-13 RSVP yes c1 c4
    2026-03-15 18:00  C2/M3 delivered to c1 c2
    2026-03-16 18:00  opt-out c1         (last delivery before it: C2/M3)
    2026-03-20 18:00  W2: attended c1 c4; walk-in c7 (walk_in + attended)
    2026-04-15 18:00  C1/M1 delivered to c7 (outside March)

Targeted audience of C1: a send to the audience "state 02" (live contacts c1 c2 c3 c9
c10), the enrolment of c6 (erased since) and the workshop registrations (c1 c2 c3 c4).
"""

from dataclasses import dataclass, field

import pytest

from app.campaigns.models import CampaignPlace
from app.extensions import db
from app.outreach.models import CampaignEnrollment, OutreachSend
from app.participation.services import record_event
from tests.factories import (
    make_audience,
    make_campaign,
    make_contact,
    make_message,
    make_registration,
    make_workshop,
)
from tests.reports.helpers import NAMES
from tests.support import utc


@dataclass
class Dataset:
    org: object
    other_org: object
    c1: object  # campaign C1
    c2: object  # campaign C2
    other_campaign: object
    m1: object
    m2: object
    m3: object
    w1: object
    w2: object
    contacts: dict = field(default_factory=dict)  # "c1".."c10"
    phones: list = field(default_factory=list)


@pytest.fixture
def dataset(app, make_org) -> Dataset:
    org = make_org(slug="frontera", timezone="America/Mexico_City")
    org.evaluator_person_files = True  # shares per-person files (see test_person_files.py)
    other = make_org(slug="otra", timezone="America/Mexico_City")
    c1 = make_campaign(
        org,
        name="Sin Fentanilo",
        target_population=100,
        strategy="information_dissemination",
        level="universal",
    )
    c2 = make_campaign(org, name="Escuela sin Vapeo", strategy="education", level="selective")
    db.session.add_all(
        [
            CampaignPlace(campaign_id=c1.id, country="MX", state_code="02", target_population=40),
            CampaignPlace(
                campaign_id=c1.id,
                country="MX",
                state_code="02",
                municipality="Tijuana",
                target_population=20,
            ),
            CampaignPlace(campaign_id=c1.id, country="MX", state_code="09", target_population=50),
            CampaignPlace(campaign_id=c1.id, country="MX", state_code="14"),  # no target: skipped
        ]
    )
    db.session.commit()
    m1, m2 = make_message(c1, label="Aviso 1"), make_message(c1, label="Aviso 2")
    m3 = make_message(c2, label="Vapeo 1")
    contacts, phones = _contacts(org)
    w1 = _workshop(c1, "1111", utc(2026, 3, 11, 2))
    w2 = _workshop(c1, "2222", utc(2026, 3, 20, 17))
    _targeted_audience(c1, m1, contacts, {w1: ("c1", "c2", "c3"), w2: ("c1", "c4")})
    d = Dataset(
        org=org,
        other_org=other,
        c1=c1,
        c2=c2,
        other_campaign=None,
        m1=m1,
        m2=m2,
        m3=m3,
        w1=w1,
        w2=w2,
        contacts=contacts,
        phones=phones,
    )
    _events(d)
    d.other_campaign = _other_organization(other)
    return d


def _contacts(org) -> tuple[dict, list]:
    specs = {  # name: (birth_year, age_band, state, municipality, gender, language)
        "c1": (2010, None, "02", "Tijuana", "female", "es"),
        "c2": (2012, None, "02", "tijuana", "male", "es"),
        "c3": (2005, None, "02", "Mexicali", "female", "en"),
        "c4": (2000, None, "09", "Coyoacán", "nonbinary", "es"),
        "c5": (None, "18-24", "09", "Coyoacán", "female", "es"),
        "c6": (None, "15-17", "09", "Coyoacán", "male", "es"),
        "c7": (1990, None, "14", "Guadalajara", "male", "en"),
        "c8": (None, None, "14", "Guadalajara", None, "es"),
        "c9": (2011, None, "02", "Tijuana", "female", "es"),
        "c10": (2009, None, "02", "Tijuana", "female", "es"),
    }
    contacts, phones = {}, []
    for index, (name, (year, band, state, town, gender, language)) in enumerate(specs.items()):
        phone = f"+526641239{index:03d}"
        contacts[name] = make_contact(
            org,
            first_name=NAMES[index],
            phone=phone,
            birth_year=year,
            age_band=band,
            state_code=state,
            municipality=town,
            gender=gender,
            language=language,
        )
        phones.append(phone)
    # c6 was erased on request: identifying fields gone, coarse attributes kept.
    erased = contacts["c6"]
    erased.phone = erased.first_name = None
    erased.erased_at = utc(2026, 4, 1, 18)
    db.session.commit()
    return contacts, phones


def _workshop(campaign, code, starts_at):
    return make_workshop(
        campaign.organization,
        campaign=campaign,
        code=code,
        starts_at=starts_at,
        title_es=f"Taller {code}",
        title_en=f"Workshop {code}",
        timezone="America/Mexico_City",
    )


def _targeted_audience(c1, m1, contacts, registered) -> None:
    """A send to the audience "state 02", the enrolment of c6, workshop registrations."""
    audience = make_audience(c1.organization, {"state_codes": ["02"]}, name="Baja California")
    db.session.add(
        OutreachSend(
            organization_id=c1.organization_id,
            campaign_id=c1.id,
            message_id=m1.id,
            audience_id=audience.id,
            kind="once",
        )
    )
    db.session.add(
        CampaignEnrollment(
            organization_id=c1.organization_id,
            campaign_id=c1.id,
            contact_id=contacts["c6"].id,
            enrolled_at=utc(2026, 3, 1, 18),
        )
    )
    db.session.commit()
    for workshop, names in registered.items():
        for name in names:
            make_registration(workshop, contacts[name])


def _events(d: Dataset) -> None:
    """The participation events of the table in this module's docstring."""
    c1, c2, m1, m2, m3, w1, w2 = d.c1, d.c2, d.m1, d.m2, d.m3, d.w1, d.w2

    def ev(name, kind, when, campaign=c1, **extra):
        channel = "workshop" if kind in ("attended", "walk_in", "no_show") else "sms"
        record_event(
            organization_id=d.org.id,
            contact_id=d.contacts[name].id,
            kind=kind,
            channel=channel,
            occurred_at=when,
            campaign_id=campaign.id if campaign else None,
            **extra,
        )

    for name in ("c1", "c2", "c3", "c4", "c5", "c6", "c10"):
        ev(name, "sms_delivered", utc(2026, 3, 2, 18), message_id=m1.id)
    ev("c9", "sms_failed", utc(2026, 3, 2, 18), message_id=m1.id, detail="30003")
    ev("c1", "reply", utc(2026, 3, 3, 18))
    ev("c3", "reply", utc(2026, 3, 3, 18))
    ev("c3", "reply", utc(2026, 3, 3, 19))
    for name in ("c1", "c2", "c3"):
        ev(name, "invited", utc(2026, 3, 5, 16), workshop_id=w1.id)
    ev("c4", "opt_out", utc(2026, 3, 5, 18), campaign=None)
    for name in ("c1", "c2"):
        ev(name, "rsvp_yes", utc(2026, 3, 6, 16), workshop_id=w1.id)
    ev("c8", "opt_out", utc(2026, 3, 6, 18), campaign=None)
    for name in ("c1", "c3", "c10"):
        ev(name, "sms_delivered", utc(2026, 3, 9, 18), message_id=m2.id)
    ev("c2", "sms_undelivered", utc(2026, 3, 9, 18), message_id=m2.id, detail="30005")
    ev("c4", "sms_failed", utc(2026, 3, 9, 18), message_id=m2.id)
    ev("c10", "opt_out", utc(2026, 3, 9, 20), campaign=c1)
    for name in ("c1", "c5", "c8"):
        ev(name, "attended", utc(2026, 3, 11, 3), workshop_id=w1.id)
    ev("c8", "walk_in", utc(2026, 3, 11, 3), workshop_id=w1.id)
    ev("c2", "no_show", utc(2026, 3, 11, 5), workshop_id=w1.id)
    for name in ("c1", "c4"):
        ev(name, "invited", utc(2026, 3, 12, 16), workshop_id=w2.id)
        ev(name, "rsvp_yes", utc(2026, 3, 13, 16), workshop_id=w2.id)
    for name in ("c1", "c2"):
        ev(name, "sms_delivered", utc(2026, 3, 15, 18), campaign=c2, message_id=m3.id)
    ev("c1", "opt_out", utc(2026, 3, 16, 18), campaign=None)
    for name in ("c1", "c4", "c7"):
        ev(name, "attended", utc(2026, 3, 20, 18), workshop_id=w2.id)
    ev("c7", "walk_in", utc(2026, 3, 20, 18), workshop_id=w2.id)
    ev("c7", "sms_delivered", utc(2026, 4, 15, 18), message_id=m1.id)


def _other_organization(other):
    """Organization B: a look-alike campaign whose events must never be counted for A."""
    other_campaign = make_campaign(other, name="Sin Fentanilo B", target_population=10)
    other_message = make_message(other_campaign, label="Aviso B")
    for i in range(6):
        contact = make_contact(other, first_name=f"Otro{i}", phone=f"+526649870{i:03d}")
        record_event(
            organization_id=other.id,
            contact_id=contact.id,
            kind="sms_delivered",
            channel="sms",
            occurred_at=utc(2026, 3, 2, 18),
            campaign_id=other_campaign.id,
            message_id=other_message.id,
        )
        record_event(
            organization_id=other.id,
            contact_id=contact.id,
            kind="opt_out",
            channel="sms",
            occurred_at=utc(2026, 3, 3, 18),
        )
    db.session.commit()
    return other_campaign
