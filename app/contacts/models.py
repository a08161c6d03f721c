from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.contacts.name_sql import fold_postgres, full_name_expr
from app.extensions import db
from app.tenancy import OrgOwned
from app.timeutil import UTCDateTime, utcnow

LANGUAGES = ("es", "en")
GENDERS = ("female", "male", "nonbinary", "undisclosed")
AGE_BANDS = ("12-14", "15-17", "18-24", "25-29")
MINOR_AGE_BANDS = ("12-14", "15-17")
CONSENT_SOURCES = ("workshop", "school", "web_form", "sms_keyword", "imported_list")
OPT_OUT_CHANNELS = ("sms", "web", "import", "carrier", "coordinator", "whatsapp")
# The channels a contact can be reached on (the outbox's CHANNELS).
CONTACT_CHANNELS = ("sms", "whatsapp")
# Where a WhatsApp opt-in came from (WhatsApp's policy asks for opt-in to WhatsApp itself).
WHATSAPP_OPT_IN_SOURCES = ("import", "form", "walk_in", "keyword", "whatsapp_message")


class Contact(OrgOwned, db.Model):
    """A young person the organization may reach by SMS or in workshops.

    Minimal data on minors: a birth year or an age band, never a full birth date.
    Erasure on request (`erased_at`) blanks every identifying field but keeps the row,
    with only the coarse attributes reports disaggregate by, so reach stays countable.
    """

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("organization_id", "phone"),
        Index("ix_contacts_org_state", "organization_id", "country", "state_code"),
        Index("ix_contacts_org_created", "organization_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str | None] = mapped_column(String(16))  # E.164; NULL once erased
    first_name: Mapped[str | None] = mapped_column(String(80))  # given name(s)
    last_name: Mapped[str | None] = mapped_column(String(120))  # surname(s)
    language: Mapped[str] = mapped_column(String(2), default="es")
    birth_year: Mapped[int | None] = mapped_column(Integer)
    age_band: Mapped[str | None] = mapped_column(String(5))  # when the birth year is unknown
    gender: Mapped[str | None] = mapped_column(String(12))
    country: Mapped[str] = mapped_column(String(2))
    state_code: Mapped[str | None] = mapped_column(String(3))
    municipality: Mapped[str | None] = mapped_column(String(80))
    timezone: Mapped[str] = mapped_column(String(64))

    consent_source: Mapped[str | None] = mapped_column(String(20))
    consent_basis: Mapped[str | None] = mapped_column(Text)  # stated basis for imported lists
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    guardian_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    guardian_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    opt_out_channel: Mapped[str | None] = mapped_column(String(12))
    opt_out_reason: Mapped[str | None] = mapped_column(String(20))  # a code, set by staff
    undeliverable: Mapped[bool] = mapped_column(Boolean, default=False)
    undeliverable_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # WhatsApp (issue 19). `preferred_channel` is where outreach goes; WhatsApp needs its own
    # opt-in. `whatsapp_opted_out_at` stops WhatsApp only (an organization that keeps channel
    # opt-outs apart); `opted_out_at` stops every channel. `whatsapp_unreachable_at`: Twilio
    # said the number is not on WhatsApp (the contact is back on SMS). `last_whatsapp_in_at`:
    # the contact's last WhatsApp message, which opens WhatsApp's 24-hour window.
    preferred_channel: Mapped[str] = mapped_column(String(10), default="sms", server_default="sms")
    whatsapp_opt_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    whatsapp_opt_in_source: Mapped[str | None] = mapped_column(String(20))
    whatsapp_opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    whatsapp_unreachable_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_whatsapp_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    tags: Mapped[list["ContactTag"]] = relationship(
        back_populates="contact",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="ContactTag.name",
    )

    @property
    def tag_names(self) -> list[str]:
        return [t.name for t in self.tags]

    def __repr__(self) -> str:
        return f"<Contact {self.id}>"


# The name search's folded full name, trigram-indexed on PostgreSQL (`name_sql`); the
# migration creates pg_trgm, a trusted extension any database owner may create.
Index(
    "ix_contacts_folded_name_trgm",
    fold_postgres(full_name_expr(Contact.first_name, Contact.last_name)).label("folded_name"),
    postgresql_using="gin",
    postgresql_ops={"folded_name": "gin_trgm_ops"},
).ddl_if(dialect="postgresql")


@event.listens_for(db.metadata, "before_create")
def _trigram_extension(target, connection, **_):
    """db.create_all() (tests, `flask` dev setups) gets the extension the migration creates."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")


class ContactTag(db.Model):
    __tablename__ = "contact_tags"
    __table_args__ = (
        UniqueConstraint("contact_id", "name"),
        Index("ix_contact_tags_name", "name", "contact_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(40))

    contact: Mapped[Contact] = relationship(back_populates="tags")


class Audience(OrgOwned, db.Model):
    """A saved segment: filters evaluated in SQL at use time (see audiences.py).

    `filters` keys (all optional): languages, genders, age_min, age_max, country,
    state_codes, municipalities, tags, consent_sources.
    """

    __tablename__ = "audiences"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text)
    filters: Mapped[dict] = mapped_column(db.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


IMPORT_STATUSES = ("previewed", "queued", "running", "completed", "failed", "discarded")
DUPLICATE_RULES = ("update", "skip")


class ContactImport(OrgOwned, db.Model):
    """One CSV upload: kept (in the database, so any web or worker process can read it)
    from preview until it is applied, then reduced to counts and the rejected-rows report."""

    __tablename__ = "contact_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64))
    upload: Mapped[bytes | None] = mapped_column(db.LargeBinary, deferred=True)
    encoding: Mapped[str | None] = mapped_column(String(20))
    delimiter: Mapped[str | None] = mapped_column(String(1))
    mapping: Mapped[dict] = mapped_column(db.JSON, default=dict)  # CSV header -> field
    duplicate_rule: Mapped[str] = mapped_column(String(10), default="update")
    consent_source: Mapped[str | None] = mapped_column(String(20))  # default for rows without one
    consent_basis: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="previewed")
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    created_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_count: Mapped[int] = mapped_column(Integer, default=0)
    skipped_count: Mapped[int] = mapped_column(Integer, default=0)
    rejected_count: Mapped[int] = mapped_column(Integer, default=0)
    rejected_report: Mapped[str | None] = mapped_column(Text, deferred=True)  # CSV text
    error: Mapped[str | None] = mapped_column(Text)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
