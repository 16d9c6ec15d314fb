"""The findings ledger: each finding's verdict with when it began and ended, so a past day can be
shown as it was and an open failure carries its repair deadline."""

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models import Base


class FindingRow(Base):
    """One rule's verdict on one subject from ``since`` until ``until`` (None: still so)."""

    __tablename__ = "compliance_findings"
    __table_args__ = (
        Index("ix_compliance_findings_open", "school_id", "until"),
        Index("ix_compliance_findings_key", "school_id", "rule_id", "subject", "since"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    school_id: Mapped[str] = mapped_column(String(64))
    rule_id: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))  # pass | fail | unknown
    evidence: Mapped[str] = mapped_column(Text)
    missing: Mapped[str] = mapped_column(Text, default="")  # newline-separated
    since: Mapped[datetime]
    until: Mapped[datetime | None]
    deadline: Mapped[datetime | None]  # a failure's repair deadline (since + the rule's repair_within_h)
