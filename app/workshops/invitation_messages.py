"""The campaign messages a workshop invitation can use, and the default one the invite
page offers to write when the campaign has none.

A campaign message is an invitation when its text speaks of the workshop: it uses one of
the workshop placeholders ({workshop_date}, {workshop_venue}, ...) in either language. A
campaign's other messages (tips, survey questions...) would reach the audience without
saying where or when to come, so the invite page does not offer them.
"""

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.campaigns import services as campaigns
from app.campaigns.models import Campaign, CampaignMessage
from app.errors import DomainError
from app.extensions import db
from app.outbox.placeholders import used_placeholders

# TRANSLATORS: the default text of a workshop invitation SMS. Keep every {placeholder} as
# is. The RSVP line ("Reply YES 4821...") is added after it. In Spanish, prefer words
# without á í ó ú (they make the SMS cost more): "Clave" rather than "Código".
DEFAULT_BODY = _l(
    "Hi {first_name}, {org} invites you to {workshop_title}: {workshop_date}, "
    "{workshop_time}, at {workshop_venue}. Workshop code: {workshop_code}."
)
BODY_FIELDS = {"es": "body_es", "en": "body_en"}
NEEDS_WORKSHOP = {
    "es": _l(
        "The Spanish text must say when and where: use at least one of {workshop_date}, "
        "{workshop_time} or {workshop_venue}."
    ),
    "en": _l(
        "The English text must say when and where: use at least one of {workshop_date}, "
        "{workshop_time} or {workshop_venue}."
    ),
}


# An invitation says when or where; a text with only the title or the code does not.
WHEN_WHERE = {"workshop_date", "workshop_time", "workshop_venue"}


def speaks_of_workshop(body: str | None) -> bool:
    return bool(WHEN_WHERE & set(used_placeholders(body or "")))


def is_invitation(message: CampaignMessage) -> bool:
    return speaks_of_workshop(message.body_es) or speaks_of_workshop(message.body_en)


def invitation_messages(workshop) -> list[CampaignMessage]:
    """The messages of `workshop`'s campaign that can invite to it, oldest first."""
    messages = db.session.scalars(
        select(CampaignMessage)
        .where(
            CampaignMessage.organization_id == workshop.organization_id,
            CampaignMessage.campaign_id == workshop.campaign_id,
        )
        .order_by(CampaignMessage.id)
    )
    return [message for message in messages if is_invitation(message)]


def default_invitation(workshop) -> dict:
    """The invite page's starting point: {label, body_es, body_en} (the label in the
    coordinator's language, each text in its own)."""
    # TRANSLATORS: label (only coordinators see it) of the invitation message written from
    # the invite page; %(code)s is the workshop's 4-digit code.
    texts = {"label": _("Invitation to workshop %(code)s", code=workshop.code)}
    for language, name in BODY_FIELDS.items():
        with force_locale(language):
            texts[name] = str(DEFAULT_BODY)
    return texts


def write_invitation_message(
    campaign: Campaign, *, label: str, body_es: str, body_en: str
) -> CampaignMessage:
    """Add an invitation message to `campaign` (campaigns.services.add_message's rules:
    both texts, length, known placeholders), refused when a text does not mention the
    workshop's date, time or venue.

    Raises:
        DomainError: on the field concerned; nothing is saved.
    """
    for language, body in (("es", body_es), ("en", body_en)):
        if (body or "").strip() and not speaks_of_workshop(body):
            raise DomainError(NEEDS_WORKSHOP[language], field=BODY_FIELDS[language])
    return campaigns.add_message(campaign, label=label, body_es=body_es, body_en=body_en)
