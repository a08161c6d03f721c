"""Campaign services: validation, status transitions and their outbox effects, messages."""

from datetime import date

import pytest
from sqlalchemy import event, func, select, update

from app.campaigns import services
from app.campaigns.models import STATUSES, TRANSITIONS, Campaign, CampaignMessage, CampaignPlace
from app.errors import DomainError
from app.extensions import db
from app.outbox.models import OutboxMessage
from app.outreach.models import OutreachSend
from tests.campaigns.helpers import UCS2_QUESTION, outbox_statuses
from tests.factories import campaign_values, make_outbox
from tests.support import NOW


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# --- Create and update ------------------------------------------------------------------


def test_create_campaign_is_a_draft_with_places(org, create_campaign):
    campaign = create_campaign(
        places=[
            services.PlaceSpec("MX", "Edomex", " Ecatepec  de Morelos ", 1200),
            {
                "country": "mx",
                "state": "Nuevo Leon",
                "municipality": None,
                "target_population": None,
            },
            services.PlaceSpec("US", "Texas", "El Paso", 0),
        ]
    )
    db.session.expire_all()
    assert campaign.status == "draft" and campaign.organization_id == org.id
    places = [
        (p.country, p.state_code, p.municipality, p.target_population) for p in campaign.places
    ]
    assert places == [
        ("MX", "15", "Ecatepec de Morelos", 1200),
        ("MX", "19", None, None),
        ("US", "TX", "El Paso", 0),
    ]


BAD_INPUT = [
    ({"name": "   "}, "name", "Give the campaign a name."),
    ({"name": "x" * 121}, "name", "Use at most 120 characters."),
    ({"topic": "heroin"}, "topic", "Choose a topic from the list."),
    ({"strategy": "scare_tactics"}, "strategy", "Choose a prevention strategy from the list."),
    ({"level": "tertiary"}, "level", "Choose a prevention level from the list."),
    ({"target_age_min": 9}, "target_age_min", "Ages must be between 10 and 35."),
    ({"target_age_max": 36}, "target_age_max", "Ages must be between 10 and 35."),
    ({"target_age_min": None}, "target_age_min", "Ages must be between 10 and 35."),
    (
        {"target_age_min": 25, "target_age_max": 18},
        "target_age_min",
        "The minimum age cannot be above the maximum age.",
    ),
    ({"target_population": -1}, "target_population", "The target population cannot be negative."),
    ({"target_population": "many"}, "target_population", "Enter a whole number."),
    (
        {"start_date": date(2026, 6, 1), "end_date": date(2026, 5, 31)},
        "end_date",
        "The end date cannot be before the start date.",
    ),
    ({"default_language": "fr"}, "default_language", "Choose Spanish or English."),
    ({"description": "x" * 5001}, "description", "Use at most 5000 characters."),
    (
        {"places": [services.PlaceSpec("MX", "Texas")]},
        "places",
        "Place 1: “Texas” is not a state of Mexico.",
    ),
    (
        {"places": [services.PlaceSpec("MX", "02"), services.PlaceSpec("CA", "ON")]},
        "places",
        "Place 2: choose Mexico or the United States.",
    ),
    (
        {"places": [services.PlaceSpec("MX", "02", None, -5)]},
        "places",
        "Place 1: the target population cannot be negative.",
    ),
    (
        {
            "places": [
                services.PlaceSpec("MX", "02", "Tijuana"),
                services.PlaceSpec("MX", "BC", "tijuana"),
            ]
        },
        "places",
        "Place 2 is listed twice.",
    ),
    (
        {"places": [services.PlaceSpec("MX", "02", "x" * 81)]},
        "places",
        "Place 1: the municipality name is too long (at most 80 characters).",
    ),
]


@pytest.mark.parametrize("overrides, field, message", BAD_INPUT)
def test_create_rejects_bad_input_and_creates_nothing(org, overrides, field, message):
    with pytest.raises(DomainError) as caught:
        services.create_campaign(org.id, **campaign_values(**overrides))
    assert caught.value.field == field
    assert str(caught.value) == message
    db.session.rollback()
    assert count(Campaign) == 0 and count(CampaignPlace) == 0


def test_duplicate_name_is_refused_within_an_organization_only(org, make_org, create_campaign):
    create_campaign(name="Semana sin alcohol")
    with pytest.raises(DomainError, match="already has a campaign with this name"):
        services.create_campaign(org.id, **campaign_values(name="  semana SIN alcohol "))
    db.session.rollback()
    other = make_org()
    services.create_campaign(other.id, **campaign_values(name="Semana sin alcohol"))
    assert count(Campaign) == 2


def test_age_bounds_are_inclusive(create_campaign):
    campaign = create_campaign(target_age_min=10, target_age_max=35)
    assert (campaign.target_age_min, campaign.target_age_max) == (10, 35)


def test_update_replaces_fields_and_places(create_campaign):
    campaign = create_campaign()
    kept_id = campaign.places[0].id  # Tijuana, Baja California
    services.update_campaign(
        campaign,
        **campaign_values(
            name="Fentanilo 2026",
            level="selective",
            target_population=None,
            places=[
                services.PlaceSpec("MX", "02", "Tijuana", 4500),
                services.PlaceSpec("MX", "08", "Juárez", 800),
            ],
        ),
    )
    db.session.expire_all()
    campaign = db.session.get(Campaign, campaign.id)
    assert (campaign.name, campaign.level, campaign.target_population) == (
        "Fentanilo 2026",
        "selective",
        None,
    )
    assert [(p.state_code, p.municipality, p.target_population) for p in campaign.places] == [
        ("02", "Tijuana", 4500),
        ("08", "Juárez", 800),
    ]
    assert campaign.places[0].id == kept_id
    assert count(CampaignPlace) == 2


def test_update_with_bad_input_changes_nothing(create_campaign):
    campaign = create_campaign()
    before = (campaign.name, campaign.target_age_min, [p.id for p in campaign.places])
    with pytest.raises(DomainError):
        services.update_campaign(
            campaign,
            **campaign_values(
                name="Nuevo nombre",
                target_age_min=30,
                target_age_max=20,
                places=[services.PlaceSpec("MX", "09")],
            ),
        )
    db.session.rollback()
    db.session.expire_all()
    campaign = db.session.get(Campaign, campaign.id)
    assert (campaign.name, campaign.target_age_min, [p.id for p in campaign.places]) == before


def test_archived_campaign_cannot_be_updated(create_campaign):
    campaign = create_campaign(status="archived")
    with pytest.raises(DomainError, match="archived campaign cannot be changed"):
        services.update_campaign(campaign, **campaign_values(name="Otra"))


# --- Status transitions -----------------------------------------------------------------

LEGAL = sorted((a, b) for a, targets in TRANSITIONS.items() for b in targets)
ILLEGAL = sorted((a, b) for a in STATUSES for b in STATUSES if b not in TRANSITIONS[a])


def test_the_lifecycle_is_the_documented_one():
    assert (
        sorted(
            [
                ("draft", "active"),
                ("draft", "archived"),
                ("active", "paused"),
                ("active", "completed"),
                ("paused", "active"),
                ("paused", "completed"),
                ("completed", "archived"),
            ]
        )
        == LEGAL
    )


@pytest.mark.parametrize("current, target", LEGAL)
def test_legal_transition(create_campaign, current, target):
    campaign = create_campaign(status=current)
    result = services.transition_campaign(campaign, target, now=NOW)
    assert (result.previous, result.status) == (current, target)
    db.session.expire_all()
    stored = db.session.get(Campaign, campaign.id)
    assert stored.status == target and stored.updated_at == NOW


@pytest.mark.parametrize("current, target", ILLEGAL)
def test_illegal_transition_names_both_states(create_campaign, current, target):
    campaign = create_campaign(status=current)
    with pytest.raises(DomainError) as caught:
        services.transition_campaign(campaign, target, now=NOW)
    labels = {s: str(services.STATUS_LABELS[s]) for s in STATUSES}
    assert str(caught.value) == (
        f"A campaign cannot go from “{labels[current]}” to “{labels[target]}”."
    )
    db.session.rollback()
    assert db.session.get(Campaign, campaign.id).status == current


def test_unknown_status_is_refused(create_campaign):
    with pytest.raises(DomainError, match="Unknown campaign status"):
        services.transition_campaign(create_campaign(), "deleted", now=NOW)


def test_transition_from_a_stale_status_is_refused(create_campaign):
    campaign = create_campaign(status="active")
    # Another coordinator completed it meanwhile; this session still sees "active".
    db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id)
        .values(status="completed")
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    campaign.__dict__["status"] = "active"
    with pytest.raises(DomainError, match="Someone else changed"):
        services.transition_campaign(campaign, "paused", now=NOW)
    assert db.session.get(Campaign, campaign.id).status == "completed"


def test_allowed_transitions_in_lifecycle_order(create_campaign):
    assert services.allowed_transitions(create_campaign()) == ["active", "archived"]
    assert services.allowed_transitions(create_campaign(name="B", status="paused")) == [
        "active",
        "completed",
    ]
    assert services.allowed_transitions(create_campaign(name="C", status="archived")) == []


ALL_ROW_STATUSES = [
    "scheduled",
    "scheduled",
    "held",
    "claimed",
    "sent",
    "delivered",
    "failed",
    "canceled",
    "skipped",
]


@pytest.fixture
def busy_campaign(create_campaign, add_message, make_org):
    """An active campaign with outbox rows in every status, and a bystander campaign."""
    campaign = create_campaign(status="active")
    message = add_message(campaign)
    make_outbox(message, ALL_ROW_STATUSES)
    other = create_campaign(name="Otra campaña", status="active")
    make_outbox(add_message(other), ["scheduled", "held"])
    return campaign, other


def count_outbox_updates():
    statements = []

    def record(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("UPDATE OUTBOX_MESSAGES"):
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    return statements, lambda: event.remove(db.engine, "before_cursor_execute", record)


def test_pausing_holds_pending_rows_in_one_update(busy_campaign):
    campaign, other = busy_campaign
    statements, stop = count_outbox_updates()
    try:
        result = services.transition_campaign(campaign, "paused", now=NOW)
    finally:
        stop()
    assert len(statements) == 1
    assert result.outbox_rows == 2
    assert outbox_statuses(campaign) == {
        "held": 3,
        "claimed": 1,
        "sent": 1,
        "delivered": 1,
        "failed": 1,
        "canceled": 1,
        "skipped": 1,
    }
    assert outbox_statuses(other) == {"scheduled": 1, "held": 1}  # untouched


def test_resuming_releases_held_rows(busy_campaign):
    campaign, other = busy_campaign
    services.transition_campaign(campaign, "paused", now=NOW)
    result = services.transition_campaign(campaign, "active", now=NOW)
    assert result.outbox_rows == 3  # including the row that was held before the pause
    assert outbox_statuses(campaign) == {
        "scheduled": 3,
        "claimed": 1,
        "sent": 1,
        "delivered": 1,
        "failed": 1,
        "canceled": 1,
        "skipped": 1,
    }
    assert outbox_statuses(other) == {"scheduled": 1, "held": 1}


@pytest.mark.parametrize("paused_first", [False, True])
def test_completing_cancels_pending_rows_and_sends(busy_campaign, paused_first):
    campaign, other = busy_campaign
    if paused_first:
        services.transition_campaign(campaign, "paused", now=NOW)
    result = services.transition_campaign(campaign, "completed", now=NOW)
    assert result.outbox_rows == 3
    assert outbox_statuses(campaign) == {
        "canceled": 4,
        "claimed": 1,
        "sent": 1,
        "delivered": 1,
        "failed": 1,
        "skipped": 1,
    }
    canceled = db.session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.campaign_id == campaign.id,
            OutboxMessage.skip_reason == "campaign_completed",
        )
    ).all()
    assert len(canceled) == 3 and all(row.final_at == NOW for row in canceled)
    sends = db.session.scalars(
        select(OutreachSend.status).where(OutreachSend.campaign_id == campaign.id)
    ).all()
    assert sends == ["canceled"]
    assert outbox_statuses(other) == {"scheduled": 1, "held": 1}
    assert db.session.scalars(
        select(OutreachSend.status).where(OutreachSend.campaign_id == other.id)
    ).all() == ["scheduled"]


def test_activating_and_archiving_leave_history_alone(busy_campaign):
    campaign, _other = busy_campaign
    services.transition_campaign(campaign, "completed", now=NOW)
    before = outbox_statuses(campaign)
    services.transition_campaign(campaign, "archived", now=NOW)
    assert outbox_statuses(campaign) == before


# --- Messages ---------------------------------------------------------------------------


def test_add_message_normalizes_line_breaks(create_campaign):
    campaign = create_campaign()
    message = services.add_message(
        campaign,
        label="  Semana   1 ",
        body_es="Hola {first_name},\r\n¿vienes? \r\n",
        body_en="Hi {first_name},\r\ncoming?",
    )
    assert message.label == "Semana 1"
    assert message.body_es == "Hola {first_name},\n¿vienes?"
    assert message.body_en == "Hi {first_name},\ncoming?"
    assert message.organization_id == campaign.organization_id


def test_bodies_up_to_1600_characters_are_accepted(create_campaign):
    message = services.add_message(
        create_campaign(), label="Largo", body_es="á" * 1600, body_en="a" * 1600
    )
    assert len(message.body_es) == 1600


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        (
            {"body_es": "á" * 1601},
            "body_es",
            "The Spanish text has 1601 characters; the limit is 1600 (Twilio's maximum).",
        ),
        (
            {"body_en": "a" * 1601},
            "body_en",
            "The English text has 1601 characters; the limit is 1600 (Twilio's maximum).",
        ),
        ({"body_es": "  \r\n "}, "body_es", "Write the Spanish text."),
        ({"body_en": ""}, "body_en", "Write the English text."),
        ({"label": " "}, "label", "Give the message a short label."),
        (
            {"body_es": "Hola {nombre}, te esperamos en {lugar} con {nombre}"},
            "body_es",
            "Unknown placeholders {nombre}, {lugar}. You can use: {first_name}, {campaign}, {org}, "
            "{workshop_title}, {workshop_date}, {workshop_time}, {workshop_venue}, "
            "{workshop_code}.",
        ),
        ({"body_en": "Hi {First_Name}"}, "body_en", "Unknown placeholder {First_Name}."),
    ],
)
def test_bad_messages_are_refused(create_campaign, add_message, overrides, field, message):
    campaign = create_campaign()
    with pytest.raises(DomainError) as caught:
        add_message(campaign, **overrides)
    assert caught.value.field == field
    assert str(caught.value).startswith(message)
    db.session.rollback()
    assert count(CampaignMessage) == 0


@pytest.mark.parametrize("status", ["completed", "archived"])
def test_messages_of_finished_campaigns_are_frozen(create_campaign, add_message, status):
    campaign = create_campaign()
    message = add_message(campaign)
    campaign.status = status
    db.session.commit()
    for action in (
        lambda: add_message(campaign),
        lambda: services.update_message(message, label="x", body_es="a", body_en="b"),
        lambda: services.delete_message(message),
    ):
        with pytest.raises(DomainError, match="completed or archived campaign"):
            action()


def test_update_message_reports_rows_keeping_the_old_text(create_campaign, add_message):
    campaign = create_campaign(status="active")
    message = add_message(campaign)
    make_outbox(message, ["scheduled", "held", "sent"])
    pending = services.update_message(
        message, label="Semana 1", body_es="Nuevo texto", body_en="New text"
    )
    assert pending == 2
    assert db.session.get(CampaignMessage, message.id).body_es == "Nuevo texto"


def test_update_message_with_bad_input_changes_nothing(create_campaign, add_message):
    message = add_message(create_campaign())
    with pytest.raises(DomainError):
        services.update_message(message, label="Otro", body_es="Hola {nombre}", body_en="Hi")
    db.session.rollback()
    db.session.expire_all()
    stored = db.session.get(CampaignMessage, message.id)
    assert (stored.label, stored.body_en) == (
        "Semana 1",
        "Hi {first_name}, do you know what fentanyl is?",
    )


def test_delete_unused_message(create_campaign, add_message):
    message = add_message(create_campaign())
    services.delete_message(message)
    assert count(CampaignMessage) == 0


@pytest.mark.parametrize(
    "statuses",
    [["sent"], ["delivered", "scheduled"], ["failed"], ["claimed"], ["unknown", "canceled"]],
)
def test_delete_refused_once_anything_was_sent(create_campaign, add_message, statuses):
    campaign = create_campaign(status="active")
    message = add_message(campaign)
    make_outbox(message, statuses, send_status="canceled")
    with pytest.raises(DomainError, match="already sent, so it is kept"):
        services.delete_message(message)
    db.session.rollback()
    assert count(CampaignMessage) == 1 and count(OutboxMessage) == len(statuses)


@pytest.mark.parametrize(
    "statuses, send_status",
    [(["scheduled"], "scheduled"), (["held", "canceled"], "scheduled"), ([], "scheduled")],
)
def test_delete_refused_while_a_send_is_pending(
    create_campaign, add_message, statuses, send_status
):
    campaign = create_campaign(status="active")
    message = add_message(campaign)
    make_outbox(message, statuses, send_status=send_status)
    with pytest.raises(DomainError, match="Cancel its send first"):
        services.delete_message(message)
    db.session.rollback()
    assert count(CampaignMessage) == 1 and count(OutreachSend) == 1


def test_delete_after_the_send_was_canceled(create_campaign, add_message):
    campaign = create_campaign(status="active")
    message = add_message(campaign)
    keep = add_message(campaign, label="Semana 2")
    make_outbox(message, ["canceled", "skipped"], send_status="canceled")
    make_outbox(keep, ["scheduled"])
    services.delete_message(message)
    db.session.expire_all()
    assert db.session.scalars(select(CampaignMessage.label)).all() == ["Semana 2"]
    assert db.session.scalars(select(OutreachSend.message_id)).all() == [keep.id]
    assert db.session.scalars(select(OutboxMessage.message_id)).all() == [keep.id]


# --- Editor summary ---------------------------------------------------------------------


def test_summary_of_an_accented_spanish_question(app):
    summary = services.summarize_body(UCS2_QUESTION, language="es", values={})
    info = summary.info
    assert (info.encoding, info.characters, info.segments) == ("UCS-2", 64, 1)
    assert info.non_gsm_chars == ("á", "í")
    assert info.gsm_segments_if_stripped == 1
    # The opt-out instruction goes on a new line and pushes it past 70 UCS-2 characters.
    assert summary.first_info.characters == 64 + 1 + len(summary.notice)
    assert summary.first_info.segments == 2


def test_summary_renders_placeholders_with_the_values(app):
    summary = services.summarize_body(
        "Hi {first_name}, from {org}",
        language="en",
        values={"first_name": "Alex", "org": "Jóvenes"},
    )
    assert summary.rendered == "Hi Alex, from Jóvenes"
    # The organization's name alone turns the English text into UCS-2.
    assert (summary.info.encoding, summary.info.non_gsm_chars) == ("UCS-2", ("ó",))
    assert not summary.too_long


def test_summary_flags_text_too_long_with_the_instruction(app):
    assert services.summarize_body("a" * 1590, language="en", values={}).too_long


def test_visible_chars_shows_invisible_ones_by_code_point():
    assert services.visible_chars(("á", "\u00a0", "\u200b")) == "á U+00A0 U+200B"
