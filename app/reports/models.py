"""Files the reports produce in the background (large event exports)."""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db

# The rollups the reports read: imported here so that the metadata (create_all, Alembic)
# has their tables and triggers wherever the report models are loaded.
from app.participation.rollups import ROLLUP_TABLES  # noqa: F401
from app.tenancy import OrgOwned
from app.timeutil import UTCDateTime, utcnow


class ExportFile(OrgOwned, db.Model):
    """A finished export, gzip-compressed in the database so that any web process on any
    machine can serve what any worker wrote. Deleted after a day (worker maintenance)."""

    __tablename__ = "export_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), unique=True)
    filename: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes] = mapped_column(LargeBinary)  # gzip of the CSV
    size: Mapped[int] = mapped_column(Integer)  # bytes of the CSV once decompressed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
