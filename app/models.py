"""Imports every model so SQLAlchemy's metadata (and Alembic) sees all tables."""
from .auth.models import User  # noqa: F401
from .organizations.models import Organization  # noqa: F401
