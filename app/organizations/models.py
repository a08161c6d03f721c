import secrets
from datetime import datetime, time

from sqlalchemy import Boolean, Integer, String, Text, Time
from sqlalchemy import false as sa_false
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.timeutil import UTCDateTime, utcnow

COUNTRIES = ("MX", "US")
# Workshop reminders go out at most this many hours (two weeks) before the start.
MAX_REMINDER_HOURS = 24 * 14


def new_calendar_token() -> str:
    return secrets.token_urlsafe(32)


class Organization(db.Model):
    """An NGO. Everything a coordinator creates belongs to exactly one organization."""

    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    country: Mapped[str] = mapped_column(String(2))
    timezone: Mapped[str] = mapped_column(String(64))
    default_language: Mapped[str] = mapped_column(String(2), default="es")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    # Outreach policy (organization settings).
    quiet_start: Mapped[time] = mapped_column(Time, default=time(8, 0))
    quiet_end: Mapped[time] = mapped_column(Time, default=time(21, 0))
    cap_messages: Mapped[int] = mapped_column(Integer, default=3)
    cap_days: Mapped[int] = mapped_column(Integer, default=7)
    opt_out_notice: Mapped[str] = mapped_column(String(6), default="first")  # or "always"
    contact_line: Mapped[str | None] = mapped_column(String(60))  # named in HELP replies
    # The organization's own Twilio sender: an E.164 number or a Messaging Service SID
    # ("MG" + 32 hex). NULL: the configured default sender, shared with every organization
    # without one. Inbound SMS are routed by the number they were sent to (see inbound.py).
    sms_sender: Mapped[str | None] = mapped_column(String(34), unique=True)
    # Workshops and reports.
    reminder_hours: Mapped[str] = mapped_column(String(20), default="24,2")  # hours before start
    thank_you_sms: Mapped[bool] = mapped_column(Boolean, default=False)
    calendar_token: Mapped[str] = mapped_column(String(43), default=new_calendar_token)  # .ics URL
    small_cell_threshold: Mapped[int] = mapped_column(Integer, default=5)
    # Per-person files (event export, survey answers, experiment assignments) for evaluators.
    # Off by default: counting a per-person file's rows recovers any count a report page
    # hides (k-anonymity protects identities in the file, not the pages' small cells), so an
    # administrator turns it on only under a data-sharing agreement (README, Privacy).
    evaluator_person_files: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=sa_false()
    )
    # Conversations: an urgent case not acknowledged within this many minutes alerts the
    # on-call coordinator (then every coordinator); a referral's follow-up reminder.
    case_ack_minutes: Mapped[int] = mapped_column(Integer, default=15, server_default="15")
    referral_follow_up_days: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    # Tracked links (app/links): the hosts a link may lead to, one per line in stored form
    # (app/organizations/link_hosts.py), and how many days a recipient's link works.
    link_hosts: Mapped[str | None] = mapped_column(Text)
    link_expiry_days: Mapped[int] = mapped_column(Integer, default=90, server_default="90")
    # WhatsApp (issue 19). The WhatsApp sender ("+52…" number registered with WhatsApp, or
    # NULL: the Messaging Service / default sender). A WhatsApp send to a number that is not
    # on WhatsApp falls back to SMS once (`whatsapp_fallback_sms`). Outside the 24-hour
    # window with no approved template, a message goes by SMS ("sms") or waits ("hold").
    # `opt_out_all_channels`: STOP/BAJA on either channel stops both (the default); off,
    # STOP on WhatsApp stops WhatsApp only (STOP by SMS always stops everything).
    whatsapp_sender: Mapped[str | None] = mapped_column(String(34))
    whatsapp_fallback_sms: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default=sa_true()
    )
    whatsapp_no_template: Mapped[str] = mapped_column(
        String(4), default="sms", server_default="sms"
    )
    opt_out_all_channels: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default=sa_true()
    )

    def __repr__(self) -> str:
        return f"<Organization {self.slug}>"
