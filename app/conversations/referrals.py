"""Referrals: a case sent on to a helpline or a service the organization knows. The young
person can get the service's details by SMS in their language; a `referred` participation
event (detail: the service type, nothing personal) counts it in reports; the coordinator is
reminded to follow up (organization setting, default 3 days)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.conversations import services
from app.conversations.models import Case, LocalService, Referral
from app.conversations.replies import reply_due
from app.extensions import db
from app.organizations.models import Organization
from app.outbox import api as outbox
from app.outbox.text import sms_text
from app.participation.services import record_event


@dataclass(frozen=True)
class Helpline:
    code: str
    name: object  # lazy string
    phone: str
    hours: object
    countries: tuple[str, ...]


HELPLINES = {
    h.code: h
    for h in (
        Helpline("linea_vida", "Línea de la Vida", "800 911 2000", _l("24 h, free"), ("MX",)),
        Helpline(
            "us_988", "988 Suicide & Crisis Lifeline", "988", _l("24/7, call or text"), ("US",)
        ),
        Helpline("samhsa", "SAMHSA National Helpline", "1-800-662-4357", _l("24/7, free"), ("US",)),
        Helpline(
            "cij",
            "Centros de Integración Juvenil (CIJ)",
            "55 5212 1212",
            _l("Mon-Fri 8:00-20:00"),
            ("MX",),
        ),
    )
}


class ReferralError(ValueError):
    pass


def local_services(organization_id: int, *, active_only=True) -> list[LocalService]:
    query = select(LocalService).where(LocalService.organization_id == organization_id)
    if active_only:
        query = query.where(LocalService.active.is_(True))
    return list(db.session.scalars(query.order_by(LocalService.name)))


def _details_text(service_type: str, local: LocalService | None, language: str) -> str:
    if local is not None:
        return sms_text(
            "referral_details",
            language,
            name=local.name,
            phone=local.phone,
            address=local.address,
            hours=local.hours,
        )
    line = HELPLINES[service_type]
    return sms_text(
        "referral_details", language, name=line.name, phone=line.phone, hours=line.hours
    )


def refer(
    case: Case,
    service_type: str,
    *,
    user,
    now: datetime,
    local: LocalService | None = None,
    send_details: bool = False,
) -> Referral:
    if case.state == "closed":
        raise ReferralError("closed")
    if service_type == "local" and (local is None or local.organization_id != case.organization_id):
        raise ReferralError("no_service")
    if service_type != "local" and service_type not in HELPLINES:
        raise ReferralError("no_service")
    org = db.session.get(Organization, case.organization_id)
    contact = case.contact
    referral = Referral(
        organization_id=case.organization_id,
        case_id=case.id,
        contact_id=case.contact_id,
        service_type=service_type,
        local_service_id=local.id if local is not None else None,
        referred_by=user.id,
        referred_at=now,
        follow_up_at=now + timedelta(days=org.referral_follow_up_days),
    )
    if send_details and contact.erased_at is None and contact.opted_out_at is None:
        conversation = services.conversation_of(contact, now=now)
        outbox.enqueue(
            organization_id=case.organization_id,
            contact_id=contact.id,
            purpose="reply",
            language=contact.language,
            body=_details_text(service_type, local, contact.language),
            due_at=reply_due(contact, conversation.last_inbound_at, now=now),
            now=now,
            campaign_id=case.campaign_id,
        )
        referral.details_sent = True
    db.session.add(referral)
    services.acknowledge(case, user=user, now=now)
    case.state = "referred"
    case.follow_up_at = referral.follow_up_at
    services.log(case, "referred", now=now, user_id=user.id, detail=service_type)
    record_event(
        organization_id=case.organization_id,
        contact_id=case.contact_id,
        kind="referred",
        channel="web",
        occurred_at=now,
        campaign_id=case.campaign_id,
        detail=service_type,
    )
    return referral


def follow_ups_due(organization_id: int, now: datetime) -> list[Case]:
    return list(
        db.session.scalars(
            select(Case)
            .where(
                Case.organization_id == organization_id,
                Case.follow_up_at.is_not(None),
                Case.follow_up_at <= now,
                Case.state != "closed",
            )
            .order_by(Case.follow_up_at)
        )
    )
