"""The gateway registry's table."""

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models import Base


class GatewayCredential(Base):
    """A gateway allowed on the broker: its hashed password (mosquitto's format), never the password."""

    __tablename__ = "gateway_credentials"
    school_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    gateway_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    rotated_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    @property
    def username(self) -> str:
        """The broker username."""
        return f"{self.school_id}/{self.gateway_id}"
