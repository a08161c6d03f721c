from app.auth.models import User
from app.extensions import db
from app.organizations.models import Organization
from tests.support import STRONG_PASSWORD


def test_orgs_create(runner):
    result = runner.invoke(
        args=[
            "orgs",
            "create",
            "frontera",
            "--name",
            "ONG Frontera",
            "--country",
            "MX",
            "--timezone",
            "America/Tijuana",
        ]
    )
    assert result.exit_code == 0, result.output
    org = db.session.query(Organization).filter_by(slug="frontera").one()
    assert (org.country, org.timezone) == ("MX", "America/Tijuana")


def test_orgs_create_bad_input_changes_nothing(runner, monkeypatch):
    monkeypatch.setenv("ALCANCE_LANG", "es")
    cases = [
        (["orgs", "create", "Bad Slug!", "--name", "X"], "minúsculas"),
        (
            ["orgs", "create", "ok", "--name", "X", "--timezone", "Mars/Base"],
            "Zona horaria desconocida",
        ),
        (["orgs", "create", "ok", "--name", "X", "--country", "FR"], "Opción inválida"),
        (["orgs", "create", "ok", "--name", ""], "obligatorio"),
    ]
    for args, message in cases:
        result = runner.invoke(args=args)
        assert result.exit_code == 2
        assert message in result.output, result.output
    assert db.session.query(Organization).count() == 0


def test_users_create_from_stdin(runner, make_org):
    make_org(slug="frontera")
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--org",
            "frontera",
            "--email",
            "coord@example.org",
            "--role",
            "coordinator",
            "--password-stdin",
        ],
        input=STRONG_PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert db.session.query(User).filter_by(email="coord@example.org").one().role == "coordinator"


def test_users_create_bad_input(runner, make_org, make_user, monkeypatch):
    monkeypatch.setenv("ALCANCE_LANG", "en")
    org = make_org(slug="frontera")
    make_user(org, email="taken@example.org")
    cases = [
        (["--org", "nope", "--email", "a@example.org", "--role", "coordinator"], "No organization"),
        (["--org", "frontera", "--email", "bad", "--role", "coordinator"], "email"),
        (["--org", "frontera", "--email", "a@example.org", "--role", "boss"], "Not a valid choice"),
        (
            ["--org", "frontera", "--email", "taken@example.org", "--role", "admin"],
            "already exists",
        ),
    ]
    for args, message in cases:
        result = runner.invoke(
            args=["users", "create", *args, "--password-stdin"], input=STRONG_PASSWORD + "\n"
        )
        assert result.exit_code == 2
        assert message.lower() in result.output.lower(), result.output
    weak = runner.invoke(
        args=[
            "users",
            "create",
            "--org",
            "frontera",
            "--email",
            "w@example.org",
            "--role",
            "admin",
            "--password-stdin",
        ],
        input="123\n",
    )
    assert weak.exit_code == 2
    assert db.session.query(User).count() == 1


def test_seed_demo_once(runner):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "admin@demo.alcance.mx" in result.output
    roles = {u.role for u in db.session.query(User)}
    assert roles == {"admin", "coordinator", "evaluator"}
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0 and db.session.query(User).count() == 3


def test_demo_users_can_sign_in_in_both_languages(app, seeded_demo, login):
    from app.demo import DEMO_USERS

    for _role, email, password in DEMO_USERS:
        for lang, word in (("es", "Inicio"), ("en", "Dashboard")):
            c = app.test_client()
            login(db.session.query(User).filter_by(email=email).one(), password=password, c=c)
            assert word in c.get(f"/dashboard?lang={lang}").get_data(as_text=True)


def test_seed_demo_builds_a_living_history(seeded_demo):
    from sqlalchemy import func, select

    from app.contacts.models import Audience, Contact
    from app.outbox.models import InboundMessage, OutboxMessage

    contacts = db.session.scalar(select(func.count()).select_from(Contact))
    states = db.session.scalar(select(func.count(func.distinct(Contact.state_code))))
    assert 250 <= contacts <= 400 and states >= 8
    assert db.session.scalar(select(func.count()).select_from(Audience)) == 6
    statuses = dict(
        db.session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        ).all()
    )
    assert statuses.get("delivered", 0) > 20 and statuses.get("scheduled", 0) > 20
    intents = set(db.session.scalars(select(InboundMessage.intent)))
    assert {"opt_out", "help", "other", "rsvp_yes", "rsvp_no"} <= intents


def _demo_history() -> dict:
    """Counts of everything the demo's history is made of (no ids, no timestamps)."""
    from sqlalchemy import func, select

    from app.outbox.models import InboundMessage, OutboxMessage
    from app.participation.models import ParticipationEvent
    from app.workshops.models import WorkshopRegistration

    def counts(column):
        return dict(db.session.execute(select(column, func.count()).group_by(column)).all())

    return {
        "events": counts(ParticipationEvent.kind),
        "intents": counts(InboundMessage.intent),
        "outbox": counts(OutboxMessage.status),
        "registrations": counts(WorkshopRegistration.status),
    }


def test_seed_demo_is_the_same_at_any_hour_of_the_day(seeded_demo, runner, frozen_clock):
    """A demo seeded at 03:00 or at 22:00 in Tijuana has the same history as one seeded at
    10:00 (the suite's frozen hour, `seeded_demo`): every message of the history falls in
    its recipient's sending window whatever the hour of seeding."""
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    from tests.support import NOW, TODAY

    assert NOW.astimezone(ZoneInfo("America/Tijuana")).time() == time(10, 0)
    histories = {time(10, 0): _demo_history()}
    db.session.remove()
    for wall in (time(3, 0), time(22, 0)):
        frozen_clock.move_to(datetime.combine(TODAY, wall, tzinfo=ZoneInfo("America/Tijuana")))
        db.drop_all()
        db.create_all()
        assert runner.invoke(args=["seed-demo"]).exit_code == 0
        histories[wall] = _demo_history()
        db.session.remove()
    noon = histories[time(10, 0)]
    assert {"opt_out", "help", "other", "rsvp_yes", "rsvp_no"} <= set(noon["intents"])
    assert {"attended", "walk_in", "no_show", "waitlisted"} <= set(noon["events"])
    for wall in (time(3, 0), time(22, 0)):  # what differs, by name (-q truncates a dict diff)
        assert _differences(histories[wall], noon) == {}, wall


def _differences(history: dict, expected: dict) -> dict:
    return {
        f"{part}.{key}": (history[part].get(key), expected[part].get(key))
        for part in expected
        for key in set(history[part]) | set(expected[part])
        if history[part].get(key) != expected[part].get(key)
    }


def test_seed_demo_has_past_workshops_with_attendance_and_upcoming_ones_with_rsvps(seeded_demo):
    from sqlalchemy import func, select

    from app.participation.models import ParticipationEvent
    from app.timeutil import utcnow
    from app.workshops.models import Workshop, WorkshopRegistration

    now = utcnow()
    workshops = db.session.scalars(select(Workshop).order_by(Workshop.starts_at)).all()
    past = [w for w in workshops if w.starts_at < now]
    upcoming = [w for w in workshops if w.starts_at > now]
    assert [w.status for w in past] == ["completed", "completed"]
    assert [w.status for w in upcoming] == ["scheduled", "scheduled"]

    def registrations(workshop, **where):
        return db.session.scalar(
            select(func.count())
            .select_from(WorkshopRegistration)
            .where(
                WorkshopRegistration.workshop_id == workshop.id,
                *[getattr(WorkshopRegistration, k) == v for k, v in where.items()],
            )
        )

    for workshop in past:
        attended = registrations(workshop, walk_in=False) - registrations(
            workshop, attended_at=None
        )
        assert attended > 5 and registrations(workshop, walk_in=True) == 2
        assert registrations(workshop, no_show=True) > 0
    assert registrations(upcoming[0], status="confirmed") == upcoming[0].capacity
    assert registrations(upcoming[0], status="waitlisted") > 0
    assert registrations(upcoming[1], status="confirmed") == 0  # its invitation is still to go
    kinds = set(db.session.scalars(select(ParticipationEvent.kind).distinct()))
    assert {
        "invited",
        "rsvp_yes",
        "rsvp_no",
        "waitlisted",
        "attended",
        "walk_in",
        "no_show",
    } <= kinds
