"""An organization's WhatsApp templates: one row per template and language.

WhatsApp (and Twilio's Content API) approve a template per language, so a bilingual
template is two rows with the same `name`, one "es" and one "en"; the name is what links
them (unique per organization and language).

`variables` maps each numbered variable of the body ("1", "2"…) to one of our placeholder
names (app.outbox.placeholders.PLACEHOLDERS). `buttons` is a list of quick replies, each
{"title", "intent", "value", "id"}: the id is what WhatsApp sends back when the button is
tapped (see app.whatsapp.validation.button_id).
"""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.tenancy import OrgOwned
from app.timeutil import UTCDateTime, utcnow

CATEGORIES = ("utility", "marketing")
LANGUAGES = ("es", "en")
# draft: never submitted (or edited since); pending: WhatsApp is reviewing it; approved;
# rejected (with a reason); paused / disabled: WhatsApp stopped an approved template
# (quality), paused for a while, disabled for good.
STATUSES = ("draft", "pending", "approved", "rejected", "paused", "disabled")
EDITABLE_STATUSES = ("draft", "rejected")
SUBMITTABLE_STATUSES = ("draft", "rejected")


class WhatsAppTemplate(OrgOwned, db.Model):
    __tablename__ = "whatsapp_templates"
    __table_args__ = (UniqueConstraint("organization_id", "name", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(2))
    category: Mapped[str] = mapped_column(String(10))
    body: Mapped[str] = mapped_column(Text)
    variables: Mapped[dict] = mapped_column(JSON, default=dict)
    buttons: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(10), default="draft", index=True)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    # The provider's content: a new one after every edit (a submitted content is frozen).
    content_sid: Mapped[str | None] = mapped_column(String(34))
    # Set before a content is created and kept until it is known: a later submit looks
    # for `content_name` (the content's friendly name, random per attempt) before creating
    # another one, since the answer to the create may have been lost.
    content_name: Mapped[str | None] = mapped_column(String(60))
    content_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def editable(self) -> bool:
        return self.status in EDITABLE_STATUSES

    def __repr__(self) -> str:
        return f"<WhatsAppTemplate {self.id} {self.name} {self.language} {self.status}>"
