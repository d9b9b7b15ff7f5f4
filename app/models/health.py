"""What the readiness probe writes to prove the database takes writes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, SmallInteger
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class ReadinessHeartbeat(Base):
    """One row, upserted by `/readyz` (app.services.readiness): a committed write, so a file
    turned read-only, a full disk or a read-only PostgreSQL fail the probe."""

    __tablename__ = "readiness_heartbeat"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    checked_at: Mapped[datetime]
