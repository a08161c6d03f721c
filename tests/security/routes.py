"""The security suite's declarative route table and the objects its URLs point at.

Every endpoint of `app.url_map` must have an entry in ROUTES (test_authorization fails
and prints the missing ones otherwise). An entry says which permission the route needs
and how to build its URL arguments for the objects of one organization (`OrgObjects`,
built by `build_objects` from tests/factories.py and the real services).

Permissions:
    public            anyone, signed in or not
    login             any signed-in user (any role)
    view_reports / view_contacts / coordinate / manage_users / manage_settings
                      the permissions of app/auth/permissions.py
    webhook           Twilio: X-Twilio-Signature (no session, no CSRF)
    token             a secret in the URL or header (calendar feed, /metrics): no session
    api               /api/v1: an API key (Bearer) only; a session never opens it (401).
                      Keys, scopes and tenancy per endpoint: tests/api/test_api_matrix.py
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import time, timedelta
from types import SimpleNamespace

from sqlalchemy import select

from app.api.keys import create_key
from app.contacts import import_services
from app.contacts.models import Contact, ContactImport
from app.conversations.models import Case, LocalService, OnCallShift, SavedReply
from app.experiments.models import ExperimentVariant
from app.extensions import db
from app.integrations.services import create_endpoint
from app.jobs.models import Job
from app.outbox.models import InboundMessage, OutboxMessage
from app.outreach.services import schedule_send
from app.participation.services import record_event
from app.reports import export_jobs
from app.reports.period import Period
from app.timeutil import utcnow
from app.workshops import attendance, sign_in_sheet
from app.workshops.models import WorkshopRegistration
from tests.factories import (
    make_audience,
    make_campaign,
    make_contact,
    make_experiment,
    make_message,
    make_registration,
    make_survey,
    make_survey_run,
    make_tracked_link,
    make_user,
    make_whatsapp_template,
    make_workshop,
)

ROLES = ("anonymous", "evaluator", "coordinator", "admin")
STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")
METHODS = ("GET", *STATE_CHANGING)
PERMISSIONS = (
    "public",
    "login",
    "view_reports",
    "view_contacts",
    "coordinate",
    "manage_users",
    "manage_settings",
    "webhook",
    "token",
    "api",
)


@dataclass(frozen=True)
class Route:
    permission: str
    # OrgObjects -> URL values (path arguments and query arguments alike), or a list of
    # such dicts when one endpoint is checked with several URLs (e.g. every export table).
    args: Callable | None = None
    # OrgObjects -> form data for a POST by an authorized user (phase 2 of the matrix).
    data: Callable | None = None
    # Whether the URL names an organization-owned object (then another organization's
    # object must answer 404).
    owned: bool = False

    def urls(self, objs) -> list[dict]:
        if self.args is None:
            return [{}]
        values = self.args(objs)
        return values if isinstance(values, list) else [values]


def _obj(**spec) -> Callable:
    """URL values read from OrgObjects:
    _obj(campaign_id="campaign") -> {"campaign_id": o.campaign.id}."""
    return lambda o: {name: getattr(o, attr).id for name, attr in spec.items()}


def owned(permission: str, **spec) -> Route:
    return Route(permission, args=_obj(**spec), owned=True)


def _export_tables(o) -> list[dict]:
    from app.reports.specs import SPECS

    urls = []
    for table, spec in SPECS.items():
        values = {"table": table, "from": "2026-01-01", "to": "2026-12-31"}
        if spec.scope != "organization":
            values["campaign_id"] = o.campaign.id
        urls.append(values)
    return urls


def _codebooks(o) -> list[dict]:
    from app.reports.specs import SPECS

    return [
        {},
        *({"export": key} for key in ("events", *SPECS)),
        *({"export": key, "format": "csv"} for key in ("events", *SPECS)),
    ]


_SURVEY_QUESTION = {"qtype": "yesno", "text_es": "¿Vienes?", "text_en": "Coming?"}


def _survey_texts(o) -> dict:
    return {
        "title_es": f"{o.marker} Encuesta nueva",
        "title_en": f"{o.marker} New survey",
        "intro_es": "Hola",
        "intro_en": "Hi",
        "thanks_es": "Gracias",
        "thanks_en": "Thanks",
    }


def _whatsapp_template_form(o) -> dict:
    return {
        "name": f"plantilla_{next(_seq)}",
        "language": "es",
        "category": "utility",
        "body": f"Hola {{{{1}}}}, {o.marker} te invita.",
        "var_1": "first_name",
    }


ROUTES: dict[str, Route] = {
    # --- public -------------------------------------------------------------------------
    "static": Route("public", args=lambda o: {"filename": "css/app.css"}),
    "main.home": Route("public"),
    "main.healthz": Route("public"),
    "auth.login": Route("public"),
    # --- any signed-in user ------------------------------------------------------------------
    "main.index": Route("login"),
    "auth.logout": Route("login"),
    "auth.change_password": Route("login"),
    # --- administrators ------------------------------------------------------------------------
    "auth.users": Route("manage_users"),
    "auth.edit_user": owned("manage_users", user_id="other_user"),
    "organizations.settings": Route("manage_settings"),
    # API keys (issue 20)
    "api_keys.index": Route("manage_settings"),
    "api_keys.revoke": owned("manage_settings", key_id="api_key"),
    # Outbound webhooks (issue 20)
    "integrations.index": Route("manage_settings"),
    "integrations.detail": owned("manage_settings", endpoint_id="webhook_endpoint"),
    "integrations.disable": owned("manage_settings", endpoint_id="webhook_endpoint"),
    "integrations.enable": owned("manage_settings", endpoint_id="webhook_endpoint"),
    "integrations.dismiss": owned("manage_settings", endpoint_id="webhook_endpoint"),
    "integrations.rotate": owned("manage_settings", endpoint_id="webhook_endpoint"),
    "integrations.delete": owned("manage_settings", endpoint_id="webhook_endpoint"),
    "organizations.prices": Route("manage_settings"),
    "main.status": Route("manage_settings"),
    "main.favicon": Route("public"),
    "workshops.regenerate_calendar_token": Route("manage_settings"),
    # --- contacts (coordinators and administrators) ------------------------------------------
    "contacts.index": Route("view_contacts"),
    "contacts.detail": owned("view_contacts", contact_id="contact"),
    "contacts.new": Route("coordinate"),
    "contacts.edit": owned("coordinate", contact_id="contact"),
    "contacts.erase": owned("coordinate", contact_id="contact"),
    "contacts.opt_in": owned("coordinate", contact_id="opted_out"),
    "contacts.opt_out": owned("coordinate", contact_id="contact"),
    "contacts.bulk_action": Route("coordinate"),
    "contact_imports.index": Route("coordinate"),
    "contact_imports.new": Route("coordinate"),
    "contact_imports.preview": owned("coordinate", import_id="previewed_import"),
    "contact_imports.confirm": owned("coordinate", import_id="previewed_import"),
    "contact_imports.discard": owned("coordinate", import_id="previewed_import"),
    "contact_imports.result": owned("coordinate", import_id="completed_import"),
    "contact_imports.report": owned("coordinate", import_id="completed_import"),
    "audiences.index": Route("view_contacts"),
    "audiences.detail": owned("view_contacts", audience_id="audience"),
    "audiences.new": Route("coordinate"),
    "audiences.edit": owned("coordinate", audience_id="audience"),
    "audiences.delete": owned("coordinate", audience_id="audience"),
    "audiences.preview": Route("coordinate", args=lambda o: {"age_min": "12", "age_max": "29"}),
    "jobs.detail": owned("coordinate", job_id="job"),
    "jobs.status": owned("coordinate", job_id="job"),
    # --- campaigns and outreach ------------------------------------------------------------------
    "campaigns.index": Route("coordinate"),
    "campaigns.new": Route("coordinate"),
    "campaigns.detail": owned("coordinate", campaign_id="campaign"),
    "campaigns.edit": owned("coordinate", campaign_id="campaign"),
    "campaigns.duplicate": owned("coordinate", campaign_id="campaign"),
    "campaigns.change_status": Route(
        "coordinate", args=_obj(campaign_id="campaign"), data=lambda o: {"to": "paused"}, owned=True
    ),
    "campaigns.new_message": owned("coordinate", campaign_id="campaign"),
    "campaigns.edit_message": owned("coordinate", campaign_id="campaign", message_id="message"),
    "campaigns.delete_message": owned(
        "coordinate", campaign_id="campaign", message_id="spare_message"
    ),
    "outreach.new_send": owned("coordinate", campaign_id="campaign"),
    "outreach.sends": owned("coordinate", campaign_id="campaign"),
    "outreach.inbox": owned("coordinate", campaign_id="campaign"),
    "outreach.send_detail": owned("coordinate", send_id="send"),
    "outreach.cancel_send": owned("coordinate", send_id="send"),
    "outreach.edit_send": owned("coordinate", send_id="send"),
    "outreach.mark_reviewed": owned("coordinate", inbound_id="inbound"),
    "outreach.simulator": Route("coordinate"),
    "outreach.simulator_phone": owned("coordinate", contact_id="contact"),
    "outreach.simulator_messages": owned("coordinate", contact_id="contact"),
    "main.simulator_whatsapp": owned("coordinate", contact_id="contact"),
    "main.simulator_whatsapp_messages": owned("coordinate", contact_id="contact"),
    "main.simulator_whatsapp_button": owned("coordinate", contact_id="contact"),
    # --- experiments (issue 18): coordinators edit, evaluators read -----------------------------
    "experiments.for_campaign": owned("view_reports", campaign_id="campaign"),
    "experiments.create": owned("coordinate", campaign_id="campaign"),
    "experiments.detail": owned("view_reports", experiment_id="experiment"),
    "experiments.design": Route(
        "coordinate",
        args=_obj(experiment_id="experiment"),
        data=lambda o: {
            "weight_a": "45",
            "weight_b": "45",
            "holdout": "y",
            "holdout_weight": "10",
            "audience": str(o.audience.id),
        },
        owned=True,
    ),
    "experiments.variant": Route(
        "coordinate",
        args=_obj(experiment_id="experiment", arm_id="experiment_arm", message_id="message"),
        data=lambda o: {"body_es": f"{o.marker} variante", "body_en": f"{o.marker} variant"},
        owned=True,
    ),
    "experiments.outcomes": Route(
        "coordinate",
        args=_obj(experiment_id="experiment"),
        data=lambda o: {"kind_0": "attended", "window_0": "30"},
        owned=True,
    ),
    "experiments.start": owned("coordinate", experiment_id="experiment"),
    "experiments.finish": owned("coordinate", experiment_id="experiment"),
    "experiments.delete": owned("coordinate", experiment_id="experiment"),
    # --- conversations (issue 16) ---------------------------------------------------------------
    "conversations.inbox": Route("coordinate"),
    "conversations.thread": owned("coordinate", contact_id="contact"),
    "conversations.reply": Route(
        "coordinate",
        args=_obj(contact_id="contact"),
        data=lambda o: {"body": "Hola", "send": "1"},
        owned=True,
    ),
    "conversations.opt_out": owned("coordinate", inbound_id="inbound"),
    "conversations.acknowledge": owned("coordinate", case_id="case"),
    "conversations.assign": owned("coordinate", case_id="case"),
    "conversations.waiting": owned("coordinate", case_id="case"),
    "conversations.note": Route(
        "coordinate", args=_obj(case_id="case"), data=lambda o: {"note": "Nota"}, owned=True
    ),
    "conversations.close": Route(
        "coordinate", args=_obj(case_id="case"), data=lambda o: {"reason": "resolved"}, owned=True
    ),
    "conversations.reopen": owned("coordinate", case_id="case"),
    "conversations.refer": Route(
        "coordinate",
        args=_obj(case_id="case"),
        data=lambda o: {"service": "linea_vida"},
        owned=True,
    ),
    # --- the survey builder (issue 17) ----------------------------------------------------------
    "surveys.index": Route("coordinate"),
    "surveys.new": Route("coordinate", data=lambda o: _survey_texts(o)),
    "surveys.detail": owned("coordinate", survey_id="survey"),
    "surveys.edit": Route(
        "coordinate", args=_obj(survey_id="survey"), data=_survey_texts, owned=True
    ),
    "surveys.add_bank": Route(
        "coordinate",
        args=_obj(survey_id="survey"),
        data=lambda o: {"bank_codes": "knows_where_help"},
        owned=True,
    ),
    "surveys.new_question": Route(
        "coordinate", args=_obj(survey_id="survey"), data=lambda o: _SURVEY_QUESTION, owned=True
    ),
    "surveys.edit_question": Route(
        "coordinate",
        args=_obj(question_id="survey_question"),
        data=lambda o: _SURVEY_QUESTION,
        owned=True,
    ),
    "surveys.branches": Route(
        "coordinate",
        args=_obj(question_id="survey_question"),
        data=lambda o: {"branch_1": "0"},
        owned=True,
    ),
    "surveys.move_question": Route(
        "coordinate",
        args=_obj(question_id="survey_question"),
        data=lambda o: {"direction": "down"},
        owned=True,
    ),
    "surveys.delete_question": owned("coordinate", question_id="survey_question"),
    "surveys.archive": owned("coordinate", survey_id="survey"),
    "surveys.restore": owned("coordinate", survey_id="survey"),
    "surveys.duplicate": owned("coordinate", survey_id="survey"),
    "surveys.preview_page": owned("coordinate", survey_id="survey"),
    "surveys.new_run": Route(
        "coordinate",
        args=_obj(survey_id="survey"),
        data=lambda o: {
            "kind": "audience",
            "audience": str(o.audience.id),
            "local_date": (utcnow() + timedelta(days=20)).date().isoformat(),
            "local_time": "17:00",
            "window_hours": "24",
        },
        owned=True,
    ),
    "surveys.run": owned("coordinate", run_id="survey_run"),
    "surveys.cancel_run": owned("coordinate", run_id="survey_run"),
    "surveys.close_run": owned("coordinate", run_id="survey_run"),
    # --- WhatsApp templates (issue 19) --------------------------------------------------------
    "whatsapp.templates": Route("coordinate"),
    "whatsapp.new_template": Route("coordinate", data=lambda o: _whatsapp_template_form(o)),
    "whatsapp.template": owned("coordinate", template_id="whatsapp_template"),
    "whatsapp.edit_template": Route(
        "coordinate",
        args=_obj(template_id="whatsapp_template"),
        data=lambda o: _whatsapp_template_form(o),
        owned=True,
    ),
    "whatsapp.submit_template": owned("coordinate", template_id="whatsapp_template"),
    "whatsapp.refresh_template": owned("coordinate", template_id="whatsapp_template"),
    "whatsapp.delete_template": owned("coordinate", template_id="whatsapp_template"),
    # --- workshops and attendance -------------------------------------------------------------
    "workshops.index": Route("coordinate"),
    "workshops.new": Route("coordinate", args=lambda o: {"campaign_id": o.campaign.id}),
    # conversation settings (issue 16): a coordinator may delete only their own shift and
    # set only their own staff phone, so the matrix uses another user's (admins only).
    "conversation_settings.saved_replies": Route("coordinate"),
    "conversation_settings.new_saved_reply": Route("coordinate"),
    "conversation_settings.edit_saved_reply": owned("coordinate", reply_id="saved_reply"),
    "conversation_settings.delete_saved_reply": owned("coordinate", reply_id="saved_reply"),
    "conversation_settings.on_call": Route("coordinate"),
    "conversation_settings.delete_shift": owned("manage_users", shift_id="shift"),
    "conversation_settings.staff_phone": owned("manage_users", user_id="staff"),
    "conversation_settings.services": Route("coordinate"),
    "conversation_settings.new_service": Route("coordinate"),
    "conversation_settings.edit_service": owned("coordinate", service_id="local_service"),
    "conversation_settings.deactivate_service": owned("coordinate", service_id="local_service"),
    "conversation_settings.reactivate_service": owned("coordinate", service_id="local_service"),
    "workshops.detail": owned("coordinate", workshop_id="workshop"),
    "workshops.edit": owned("coordinate", workshop_id="workshop"),
    "workshops.reschedule": owned("coordinate", workshop_id="workshop"),
    "workshops.cancel": owned("coordinate", workshop_id="workshop"),
    "workshops.invite": owned("coordinate", workshop_id="workshop"),
    "workshops.new_invitation_message": owned("coordinate", workshop_id="workshop"),
    "attendance.roster": owned("coordinate", workshop_id="workshop"),
    "attendance.check_in": owned(
        "coordinate", workshop_id="workshop", registration_id="registration"
    ),
    "attendance.undo": owned("coordinate", workshop_id="workshop", registration_id="registration"),
    "attendance.complete": owned("coordinate", workshop_id="workshop"),
    "attendance.undo_completion": owned("coordinate", workshop_id="workshop"),
    "attendance.walk_in": owned("coordinate", workshop_id="workshop"),
    "attendance.upload": owned("coordinate", workshop_id="workshop"),
    "attendance.report": Route(
        "coordinate",
        args=_obj(workshop_id="workshop"),
        data=lambda o: {"report": o.sheet_report_token},
        owned=True,
    ),
    # --- reports (every role that signs in) ---------------------------------------------------
    "reports.index": Route(
        "view_reports", args=lambda o: {"from": "2026-01-01", "to": "2026-12-31"}
    ),
    "reports.campaign": owned("view_reports", campaign_id="campaign"),
    "reports.glossary": Route("view_reports"),
    "reports.codebook": Route("view_reports", args=_codebooks),
    "reports.export_table": Route("view_reports", args=_export_tables, owned=True),
    "reports.export_events": Route(
        "view_reports",
        args=lambda o: [
            {"from": "2026-01-01", "to": "2026-12-31"},
            {"from": "2026-01-01", "to": "2026-12-31", "campaign_id": o.campaign.id},
        ],
        owned=True,
    ),
    "reports.export_job": owned("view_reports", job_id="export_job"),
    # survey results (issue 17)
    "reports.surveys": Route("view_reports"),
    "reports.survey_results": owned("view_reports", survey_id="survey"),
    "reports.survey_export": Route(
        "view_reports",
        args=lambda o: [
            {"survey_id": o.survey.id, "table": table} for table in ("funnel", "q1", "q1_state")
        ],
        owned=True,
    ),
    "reports.survey_answers": owned("view_reports", survey_id="survey"),
    "reports.survey_codebook": owned("view_reports", survey_id="survey"),
    # experiment report (issue 18): by the campaign of the experiment
    "reports.experiments": Route("view_reports"),
    "reports.experiment": owned("view_reports", campaign_id="campaign"),
    "reports.experiment_export_table": Route(
        "view_reports",
        args=lambda o: [
            {"campaign_id": o.campaign.id, "table": table} for table in ("flow", "o1", "o1_effects")
        ],
        owned=True,
    ),
    "reports.experiment_assignments": owned("view_reports", campaign_id="campaign"),
    "reports.experiment_codebook": owned("view_reports", campaign_id="campaign"),
    "reports.export_job_status": owned("view_reports", job_id="export_job"),
    "reports.export_download": owned("view_reports", job_id="export_job"),
    # --- machine-to-machine ----------------------------------------------------------------------
    "webhooks.inbound": Route("webhook"),
    "webhooks.status": Route("webhook"),
    "workshops.calendar_feed": Route("token", args=lambda o: {"token": o.org.calendar_token}),
    "main.metrics": Route("token"),
    # tracked links (issue 18): the short link in an SMS; its code is the only key
    "links.follow_link": Route("public", args=lambda o: {"code": o.link.code}),
    # the public API (issue 20): its document and reference page are public
    "api-docs.openapi_json": Route("public"),
    "api_docs.docs": Route("public"),
    "api_contacts.list_contacts": Route("api"),
    "api_contacts.upsert_contact": Route("api"),
    "api_contacts.bulk_upsert": Route("api"),
    "api_contacts.get_contact": Route("api", args=_obj(contact_id="contact"), owned=True),
    "api_contacts.opt_out": Route("api", args=_obj(contact_id="contact"), owned=True),
    "api_contacts.erase": Route("api", args=_obj(contact_id="contact"), owned=True),
    "api_sends.list_sends": Route("api"),
    "api_sends.schedule": Route("api"),
    "api_sends.get_send": Route("api", args=_obj(send_id="send"), owned=True),
    "api_sends.cancel": Route("api", args=_obj(send_id="send"), owned=True),
    "api_audiences.list_audiences": Route("api"),
    "api_audiences.count_audience": Route("api", args=_obj(audience_id="audience"), owned=True),
    "api_campaigns.list_all": Route("api"),
    "api_campaigns.get_campaign": Route("api", args=_obj(campaign_id="campaign"), owned=True),
    "api_events.list_events": Route("api"),
    "api_events.codebook": Route("api"),
    "api_reports.organization_reach": Route("api"),
    "api_reports.campaign_reach": Route("api", args=_obj(campaign_id="campaign"), owned=True),
    "api_reports.survey_results": Route("api", args=_obj(survey_id="survey"), owned=True),
    "api_reports.experiment_results": Route(
        "api", args=_obj(experiment_id="experiment"), owned=True
    ),
    "api_workshops.list_upcoming": Route("api"),
    "api_workshops.register": Route("api", args=_obj(workshop_id="workshop"), owned=True),
    "api_workshops.cancel": Route(
        "api",
        args=lambda o: {"workshop_id": o.workshop.id, "registration_id": o.registration.id},
        owned=True,
    ),
}

# Endpoints whose "other organization" URL differs from "own" only by a query argument
# naming another organization's object (reports): that object must answer 404 too.


def required_roles(permission: str) -> set[str]:
    """Roles that pass `permission` (anonymous included for public routes)."""
    from app.permissions import role_has

    if permission in ("public", "webhook", "token", "api"):
        return set(ROLES)
    if permission == "login":
        return {"evaluator", "coordinator", "admin"}
    return {role for role in ROLES if role != "anonymous" and role_has(role, permission)}


def least_privileged(permission: str) -> str:
    for role in ROLES:
        if role in required_roles(permission):
            return role
    raise AssertionError(permission)


def route_methods(app):
    """Every (rule, method) of the app that the suites check, in a stable order."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        for method in sorted(rule.methods & set(METHODS)):
            yield rule, method


# --- objects of one organization ------------------------------------------------------------

_seq = itertools.count(1)

CSV_WITH_REJECTS = (
    "telefono,nombre,municipio\n"
    "664 555 {a},{name},Tijuana\n"
    "12345,{name} Malo,Tijuana\n"
    "664 555 {b},{name} Dos,Tijuana\n"
)


def _csv(name: str) -> bytes:
    n = next(_seq)
    return CSV_WITH_REJECTS.format(
        a=f"{(n * 2) % 10000:04d}", b=f"{(n * 2 + 1) % 10000:04d}", name=name
    ).encode()


def build_objects(
    org,
    *,
    marker: str,
    phone_prefix: str,
    users: dict | None = None,
    run_jobs: Callable | None = None,
) -> SimpleNamespace:
    """One of every organization-owned object a URL can name, in `org`.

    Every text an organization's user could see carries `marker`, and phones start with
    `phone_prefix`, so another organization's pages can be searched for a leak.
    """
    n = next(_seq)
    o = SimpleNamespace(org=org, marker=marker, phone_prefix=phone_prefix, names=[], phones=[])

    def contact(**overrides):
        k = next(_seq)
        values = dict(
            first_name=f"{marker}Joven{k}",
            phone=f"{phone_prefix}{k % 10000:04d}",
            municipality="Tijuana",
        )
        values.update(overrides)
        c = make_contact(org, **values)
        o.names.append(c.first_name)
        o.phones.append(c.phone)
        return c

    o.contact = contact()
    o.second_contact = contact()
    o.opted_out = contact(opted_out_at=utcnow() - timedelta(days=2), opt_out_channel="sms")
    o.campaign = make_campaign(org, name=f"{marker} Campaña {n}")
    o.message = make_message(
        o.campaign,
        label=f"{marker} Aviso {n}",
        body_es=f"Hola {{first_name}}, {marker} informa.",
        body_en=f"Hi {{first_name}}, {marker} informs.",
    )
    o.spare_message = make_message(o.campaign, label=f"{marker} Repuesto {n}")
    o.audience = make_audience(
        org, {}, name=f"{marker} Audiencia {n}", description=f"{marker} descripción"
    )
    o.send, _ = schedule_send(
        o.campaign,
        message=o.message,
        audience=o.audience,
        kind="once",
        user_id=None,
        now=utcnow(),
        local_date=(utcnow() + timedelta(days=20)).date(),
        local_time=time(17, 0),
    )
    # A tracked link in the contact's copy of that send, not sent yet: any visit is a
    # preview (it only counts previews, a volatile column: helpers.VOLATILE).
    o.link = make_tracked_link(
        o.contact,
        outbox_id=db.session.scalar(
            select(OutboxMessage.id).where(
                OutboxMessage.send_id == o.send.id, OutboxMessage.contact_id == o.contact.id
            )
        ),
        campaign_id=o.campaign.id,
        message_id=o.message.id,
    )
    org.link_hosts = "example.org"
    o.inbound = InboundMessage(
        organization_id=org.id,
        twilio_sid=f"SMsec{n:030d}",
        contact_id=o.contact.id,
        campaign_id=o.campaign.id,
        body=f"{marker} ya no quiero",
        intent="other",
        needs_review=True,
    )
    db.session.add(o.inbound)
    db.session.flush()
    # A case of the contact (issue 16), opened on that message; no Conversation row, so
    # opening the thread (which marks it read) changes nothing.
    o.case = Case(
        organization_id=org.id,
        contact_id=o.contact.id,
        campaign_id=o.campaign.id,
        inbound_id=o.inbound.id,
        intent="needs_help",
        priority="normal",
        matched=f"{marker} ayuda",
        state="open",
        opened_at=utcnow(),
        escalation_level=0,
    )
    db.session.add(o.case)
    # Message texts and case terms: like names, an evaluator page must never show them.
    o.names += [o.inbound.body, o.case.matched]
    starts = (utcnow() + timedelta(days=15)).replace(microsecond=0)
    o.workshop = make_workshop(
        org,
        campaign=o.campaign,
        code=f"{1000 + n % 9000:04d}",
        title_es=f"{marker} Taller {n}",
        title_en=f"{marker} Workshop {n}",
        venue_name=f"{marker} Casa",
        starts_at=starts,
    )
    o.registration = make_registration(o.workshop, o.second_contact, at=utcnow())
    # An experiment of the campaign (issue 18), in draft, with a variant: its text, like a
    # message's, must never reach an evaluator's page.
    o.experiment = make_experiment(o.campaign, (1, 1), holdout=1, audience=o.audience)
    o.experiment_arm = o.experiment.arms[1]
    variant = ExperimentVariant(
        organization_id=org.id,
        arm_id=o.experiment_arm.id,
        message_id=o.message.id,
        body_es=f"{marker} variante secreta",
        body_en=f"{marker} secret variant",
    )
    db.session.add(variant)
    o.names.append(variant.body_es)
    for kind in ("sms_delivered", "reply"):
        record_event(
            organization_id=org.id,
            contact_id=o.contact.id,
            kind=kind,
            channel="sms",
            occurred_at=utcnow() - timedelta(days=1),
            campaign_id=o.campaign.id,
            message_id=o.message.id,
        )
    db.session.commit()

    o.previewed_import = import_services.create_import(
        org, user_id=None, filename=f"{marker}-lista.csv", data=_csv(marker + "Imp")
    )
    o.completed_import = import_services.create_import(
        org, user_id=None, filename=f"{marker}-hecha.csv", data=_csv(marker + "Hecho")
    )
    o.job = import_services.queue_import(o.completed_import, user_id=None, now=utcnow())
    # A large event export as an evaluator would get it (suppressed), written by a worker.
    o.export_job = export_jobs.queue_event_export(
        org.id,
        user_id=None,
        campaign_id=None,
        period=Period(tz="America/Tijuana"),
        threshold=5,
        locale="es",
        filename=f"{marker}-eventos.csv",
        total=2,
        now=utcnow(),
    )
    if run_jobs is not None:
        run_jobs()
        db.session.expire_all()
        o.completed_import = db.session.get(ContactImport, o.completed_import.id)
        o.job = db.session.get(Job, o.job.id)
        o.export_job = db.session.get(Job, o.export_job.id)

    # A sign-in sheet with a rejected row: its signed report is the POST data of
    # attendance.report (the report travels with the page, it is not stored).
    sheet = f"telefono,nombre\n{o.second_contact.phone},X\n12345,{marker}Nadie\n".encode()
    result = sign_in_sheet.import_sign_in_sheet(
        o.workshop, data=sheet, filename="hoja.csv", user_id=None, now=utcnow()
    )
    o.sheet_report_token = sign_in_sheet.report_token(o.workshop, result)
    # undo the check-in the sheet made, so the registration is back to plain "confirmed"
    attendance.undo_check_in(db.session.get(WorkshopRegistration, o.registration.id), now=utcnow())
    o.registration = db.session.get(WorkshopRegistration, o.registration.id)
    o.other_user = (users or {}).get("other_user")
    # Conversation settings (issue 16): a saved reply, a local service, another
    # coordinator with a staff phone and an on-call shift of theirs.
    o.saved_reply = SavedReply(
        organization_id=org.id,
        title=f"{marker} Respuesta",
        body_es=f"{marker} hola",
        body_en=f"{marker} hi",
    )
    o.local_service = LocalService(organization_id=org.id, name=f"{marker} Centro", languages="es")
    o.staff = make_user(org, role="coordinator")
    o.staff.staff_phone = f"{phone_prefix}9999"
    o.phones.append(o.staff.staff_phone)
    db.session.add_all([o.saved_reply, o.local_service])
    db.session.flush()
    o.shift = OnCallShift(
        organization_id=org.id,
        user_id=o.staff.id,
        starts_at=utcnow() - timedelta(hours=1),
        ends_at=utcnow() + timedelta(days=2),
    )
    db.session.add(o.shift)
    db.session.commit()
    # A survey (issue 17) with three questions written by hand (the first a choice), and a
    # run of it to the audience, scheduled, not yet sent.
    o.survey = make_survey(org, title_es=f"{marker} Encuesta {n}", title_en=f"{marker} Survey {n}")
    o.survey_question = o.survey.questions[0]
    o.survey_run = make_survey_run(
        o.survey, audience_id=o.audience.id, starts_at=utcnow() + timedelta(days=20)
    )
    _answered_survey_run(o)
    # A WhatsApp template (issue 19), a draft whose text carries the marker.
    # An API key (issue 20): the settings page lists it, its revoke URL names it.
    o.api_key = create_key(
        org.id,
        name=f"{marker} clave",
        scopes=["reports:read"],
        expires_at=None,
        actor_id=None,
        now=utcnow(),
    ).key
    # A webhook endpoint (issue 20): its description carries the marker.
    o.webhook_endpoint = create_endpoint(
        org.id,
        url=f"https://hooks{n}.example.org/alcance",
        events=["contact.opted_out"],
        description=f"{marker} CRM",
        own_system=False,
        actor_id=None,
        now=utcnow(),
    )
    o.whatsapp_template = make_whatsapp_template(
        org, name=f"aviso_{n}", body=f"Hola {{{{1}}}}, {marker} te invita al taller."
    )
    return o


def _answered_survey_run(o) -> None:
    """A closed run of the survey that the contact answered (survey results pages): the
    raw reply carries the marker, so an evaluator's page or file must never show it."""
    from app.surveys.models import SurveyAnswer, SurveyResponse

    run = make_survey_run(o.survey, starts_at=utcnow() - timedelta(days=3), status="closed")
    response = SurveyResponse(
        organization_id=o.org.id,
        run_id=run.id,
        survey_id=o.survey.id,
        contact_id=o.contact.id,
        status="completed",
        language="es",
        started_at=utcnow() - timedelta(days=3),
        completed_at=utcnow() - timedelta(days=3),
    )
    db.session.add(response)
    db.session.flush()
    raw = f"{o.marker} mi respuesta"
    db.session.add(
        SurveyAnswer(
            organization_id=o.org.id,
            response_id=response.id,
            question_id=o.survey_question.id,
            contact_id=o.contact.id,
            raw_text=raw,
            value_num=2,
        )
    )
    db.session.commit()
    o.names.append(raw)


def contacts_named(org, marker: str) -> list[Contact]:
    from sqlalchemy import select

    return list(
        db.session.scalars(
            select(Contact).where(
                Contact.organization_id == org.id, Contact.first_name.contains(marker)
            )
        )
    )
