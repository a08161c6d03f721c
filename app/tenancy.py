"""Organization scoping: the one way views reach organization-owned rows.

Every organization-owned model inherits `OrgOwned`. Views never query such a model
directly; they call `scoped(Model)` or `get_owned_or_404(Model, id)`, which always
filter by the signed-in user's organization. A row of another organization is
therefore indistinguishable from a row that does not exist (404).
"""

from flask import abort
from flask_login import current_user
from sqlalchemy import ForeignKey, Select, select
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from app.extensions import db

MAX_ID = 2**31 - 1  # ids are 32-bit integers (PostgreSQL "integer")


class OrgOwned:
    @declared_attr
    def organization_id(cls) -> Mapped[int]:
        return mapped_column(
            ForeignKey("organizations.id", ondelete="CASCADE"), index=True, nullable=False
        )


def current_org_id() -> int:
    if not current_user.is_authenticated:
        abort(401)
    return current_user.organization_id


def scoped(model, *columns) -> Select:
    """A SELECT of `model` (or of `columns`) restricted to the current organization."""
    stmt = select(*columns) if columns else select(model)
    return stmt.where(model.organization_id == current_org_id())


def get_owned_or_404(model, object_id):
    """The current organization's `model` row with this id, or a 404."""
    try:
        object_id = int(object_id)
    except (TypeError, ValueError):
        abort(404)
    if not 0 < object_id <= MAX_ID:  # beyond the id column's range: no such row
        abort(404)
    obj = db.session.scalar(scoped(model).where(model.id == object_id))
    if obj is None:
        abort(404)
    return obj
