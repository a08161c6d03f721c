import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.organizations.models import Organization
from app.permissions import role_has
from app.tenancy import OrgOwned
from app.timeutil import UTCDateTime, utcnow

ROLES = ("admin", "coordinator", "evaluator")


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


class User(OrgOwned, UserMixin, db.Model):
    """A staff member of one organization: admin, coordinator or evaluator."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    preferred_language: Mapped[str | None] = mapped_column(String(2))
    # The staff member's own phone (E.164) for urgent-case alerts; never shown to evaluators.
    staff_phone: Mapped[str | None] = mapped_column(String(20))
    # The session cookie carries this token, not the id: rotating it on logout or a
    # password change makes every copied cookie worthless.
    session_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_session_token)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    organization: Mapped[Organization] = relationship(lazy="joined")

    def get_id(self) -> str:
        return self.session_token

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def can(self, permission: str) -> bool:
        return role_has(self.role, permission)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"
