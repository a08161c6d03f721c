"""Attack tests: can an evaluator work out a suppressed figure from what they are shown?

Every evaluator page and CSV file of a campaign is read by the attacker of attacker.py,
which combines the visible figures of that page or file (sums and differences, bounds,
shares). A suppressed count is *recovered* when the attacker pins it to one value and that
value is the true one (read from the coordinator's exact copy of the same page). None may
be, on a hand-built dataset where nearly every cell is small and on a 25-contact campaign
with one workshop (the issue's shape) where small cells sit beside large ones.
"""

from fractions import Fraction

import pytest

from app.campaigns.models import CampaignPlace
from app.extensions import db
from app.outreach.models import OutreachSend
from app.participation.services import record_event
from app.reports.specs import CAMPAIGN_TABLES, ORGANIZATION_TABLES
from tests.factories import (
    make_audience,
    make_campaign,
    make_contact,
    make_message,
    make_workshop,
)
from tests.reports.attacker import (
    HIDDEN,
    csv_figures,
    figures_of_tables,
    number,
    page_figures,
    page_tables,
    recovered,
    tolerance,
)
from tests.reports.helpers import MARCH_ARGS
from tests.support import utc

# --- datasets ----------------------------------------------------------------------------


@pytest.fixture
def scenario(app, make_org):
    """A 25-contact campaign with one workshop (the issue's shape): big cells beside
    small ones, so that complementary suppression has something to do."""
    org = make_org(slug="sur", timezone="America/Mexico_City")
    campaign = make_campaign(org, name="Prevención", target_population=200)
    db.session.add_all(
        [
            CampaignPlace(
                campaign_id=campaign.id, country="MX", state_code="02", target_population=150
            ),
            CampaignPlace(
                campaign_id=campaign.id,
                country="MX",
                state_code="02",
                municipality="Tijuana",
                target_population=100,
            ),
        ]
    )
    db.session.commit()
    m1, m2 = make_message(campaign, label="Uno"), make_message(campaign, label="Dos")
    workshop = make_workshop(
        org,
        campaign=campaign,
        code="3333",
        title_es="Taller",
        title_en="Workshop",
        venue_name="Casa",
        timezone="America/Mexico_City",
        starts_at=utc(2026, 3, 20, 17),
        capacity=40,
    )
    audience = make_audience(org, {"state_codes": ["02"]})
    db.session.add(
        OutreachSend(
            organization_id=org.id,
            campaign_id=campaign.id,
            message_id=m1.id,
            audience_id=audience.id,
            kind="once",
        )
    )
    db.session.commit()
    contacts = {n: make_contact(org, **_person(n)) for n in range(1, 26)}

    def ev(n, kind, when, **extra):
        channel = "workshop" if kind in ("attended", "walk_in", "no_show") else "sms"
        record_event(
            organization_id=org.id,
            contact_id=contacts[n].id,
            kind=kind,
            channel=channel,
            occurred_at=when,
            campaign_id=campaign.id,
            **extra,
        )

    for n in range(1, 21):
        ev(n, "sms_delivered", utc(2026, 3, 2), message_id=m1.id)
    for n, code in ((21, "30003"), (22, "30003")):
        ev(n, "sms_failed", utc(2026, 3, 2), message_id=m1.id, detail=code)
    ev(23, "sms_undelivered", utc(2026, 3, 2), message_id=m1.id, detail="30005")
    for n in range(1, 19):
        ev(n, "sms_delivered", utc(2026, 3, 9), message_id=m2.id)
    ev(19, "sms_failed", utc(2026, 3, 9), message_id=m2.id, detail="30007")
    for n in (1, 2, 3, 4):
        ev(n, "reply", utc(2026, 3, 10))
    for n, when in ((19, utc(2026, 3, 4)), (20, utc(2026, 3, 5)), (11, utc(2026, 3, 12))):
        ev(n, "opt_out", when)
    for n in range(1, 17):
        ev(n, "invited", utc(2026, 3, 11), workshop_id=workshop.id)
    for n in range(1, 11):
        ev(n, "rsvp_yes", utc(2026, 3, 13), workshop_id=workshop.id)
    for n in (1, 2, 3, 4, 5, 6, 7, 8, 21, 22, 24, 25):
        ev(n, "attended", utc(2026, 3, 20, 18), workshop_id=workshop.id)
    for n in (21, 22, 24, 25):
        ev(n, "walk_in", utc(2026, 3, 20, 18), workshop_id=workshop.id)
    for n in (9, 10):
        ev(n, "no_show", utc(2026, 3, 20, 20), workshop_id=workshop.id)
    db.session.commit()
    return org, campaign


def _person(n: int) -> dict:
    """Contact n of the scenario: where they live, their age, gender and language."""
    place = (
        ("02", "Tijuana")
        if n <= 14
        else ("02", "Mexicali")
        if n <= 20
        else ("09", "Coyoacán")
        if n <= 23
        else ("14", "Guadalajara")
    )
    year = 2000 if n == 7 else 2013 if n in (3, 12, 16) else 2006 if n % 2 else 2010
    gender = "nonbinary" if n in (5, 18) else "female" if n % 3 else "male"
    return dict(
        first_name=f"Persona{n}",
        phone=f"+52664700{n:04d}",
        birth_year=year,
        state_code=place[0],
        municipality=place[1],
        gender=gender,
        language="en" if n in (4, 9, 21) else "es",
    )


@pytest.fixture(params=["hand", "scenario"])
def campaign_under_attack(request, make_user):
    if request.param == "hand":
        dataset = request.getfixturevalue("dataset")
        org, campaign = dataset.org, dataset.c1
    else:
        org, campaign = request.getfixturevalue("scenario")
    evaluator = make_user(
        org, role="evaluator", email=f"eval-{org.slug}@example.org", language="en"
    )
    coordinator = make_user(
        org, role="coordinator", email=f"coord-{org.slug}@example.org", language="en"
    )
    return org, campaign, evaluator, coordinator


def _client(app, login, user):
    client = app.test_client()
    login(user, c=client)
    return client


def _views(app, login, campaign, user):
    """The campaign page and every campaign CSV, as `user` gets them."""
    client = _client(app, login, user)
    url = f"/reports/campaigns/{campaign.id}"
    html = client.get(url, query_string=MARCH_ARGS).get_data(as_text=True)
    files = {
        key: client.get(
            f"/reports/export/{key}.csv", query_string={"campaign_id": campaign.id, **MARCH_ARGS}
        ).get_data(as_text=True)
        for key in CAMPAIGN_TABLES
    }
    return html, files


def _same(in_file, on_page) -> bool:
    """The same figure, the file having more decimals than the page."""
    if isinstance(in_file, tuple) or isinstance(on_page, tuple):
        return isinstance(in_file, tuple) and isinstance(on_page, tuple)
    if isinstance(in_file, Fraction) and isinstance(on_page, Fraction):
        return abs(in_file - on_page) <= tolerance(on_page)
    return in_file == on_page


# --- the tests ---------------------------------------------------------------------------


def test_no_suppressed_figure_can_be_recovered_from_its_page_or_file(
    app, login, campaign_under_attack
):
    org, campaign, evaluator, coordinator = campaign_under_attack
    html, files = _views(app, login, campaign, evaluator)
    exact_html, exact_files = _views(app, login, campaign, coordinator)
    tables, exact_tables = page_tables(html), page_tables(exact_html)
    shown, truth = page_figures(html), page_figures(exact_html)
    for key in truth.keys() - shown.keys():  # a chart draws no bar for a hidden value
        if key[0].startswith("chart-"):
            shown[key] = (HIDDEN, "*")
    assert shown.keys() == truth.keys()
    hidden = [key for key, v in shown.items() if isinstance(v, tuple)]
    assert hidden, "the dataset must have suppressed cells"

    leaks = {"page": recovered(shown, truth)}
    for key, text in files.items():
        in_file = csv_figures(text, key, tables)
        for figure, value in in_file.items():  # a file shows what its table shows
            assert _same(value, shown[figure]), (key, figure, value, shown[figure])
        exact = csv_figures(exact_files[key], key, exact_tables)
        leaks[f"{key}.csv"] = recovered(in_file, exact)
    leaks = {where: found for where, found in leaks.items() if found}
    assert not leaks, f"suppressed figures recovered: {leaks}"


def test_the_attacker_finds_a_recoverable_cell(app, login, dataset, make_user):
    """The attack is not toothless: hide one row of an exact table (nothing else) and it is
    worked out from the total; hide 'workshop only' and it follows from the headline."""
    coordinator = make_user(dataset.org, role="coordinator", email="c@example.org", language="en")
    html, _files = _views(app, login, dataset.c1, coordinator)
    truth = page_figures(html)
    for key in (
        ("Reach by language", "English", "Reached"),
        ("Headline figures", "Reached in workshops only", "Value"),
        ("Workshop funnel", "2222 / Workshop 2222 / Mar 20, 2026", "Walk-ins"),
        ("Delivery and opt-outs by message", "Aviso 2", "Delivered"),
    ):
        shown = dict(truth)
        shown[key] = (HIDDEN, "*")
        if key[0] == "Workshop funnel":  # every walk-in cell and the total: still found
            for figure in truth:
                if figure[0] == "Workshop funnel" and figure[2] == "Walk-ins":
                    shown[figure] = (HIDDEN, "*")
        assert key in recovered(shown, truth), key


def test_organization_page_and_files_hide_nothing_recoverable(app, login, dataset, make_user):
    evaluator = make_user(dataset.org, role="evaluator", email="e@example.org", language="en")
    client = _client(app, login, evaluator)
    html = client.get("/reports/", query_string=MARCH_ARGS).get_data(as_text=True)
    figures = figures_of_tables(page_tables(html))
    assert figures and not [k for k, v in figures.items() if isinstance(v, tuple)]
    for key in ORGANIZATION_TABLES:
        text = client.get(f"/reports/export/{key}.csv", query_string=MARCH_ARGS).get_data(
            as_text=True
        )
        assert "*" not in text and "<" not in text, key


def test_cells_are_read_as_the_attacker_reads_them():
    assert number("Mar 10, 2026") == "Mar 10, 2026"  # a label, not a figure
    assert number("&lt;5") == (HIDDEN, "<5") and number("*") == (HIDDEN, "*")
    assert number("12.5%") == Fraction(1, 8) and number("1,234") == 1234
    assert number("—") is None
