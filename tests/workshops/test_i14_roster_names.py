"""Issue 14: first and last names are separate fields; the door's roster shows and finds
people by both."""

from app.workshops import attendance
from tests.factories import make_contact, make_registration, make_workshop


def test_the_roster_shows_and_finds_the_last_name(make_org):
    org = make_org()
    workshop = make_workshop(org)
    make_registration(workshop, make_contact(org, first_name="Ana", last_name="López Peña"))
    make_registration(workshop, make_contact(org, first_name="Ana", last_name="Ruiz"))
    make_registration(workshop, make_contact(org, first_name="Beto", last_name=None))

    assert [e.name for e in attendance.roster(workshop)] == ["Ana López Peña", "Ana Ruiz", "Beto"]
    assert [e.name for e in attendance.roster(workshop, q="lopez")] == ["Ana López Peña"]
    assert [e.name for e in attendance.roster(workshop, q="ana r")] == ["Ana Ruiz"]
    assert [e.name for e in attendance.roster(workshop, q="beto")] == ["Beto"]
