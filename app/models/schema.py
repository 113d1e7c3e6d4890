"""The local store's tables: SQLAlchemy 2.0 typed ORM. No Qt here.

Credit amounts are kept as exact decimal text (SQLite has no decimal type and PARS counts in 0.25
steps, so binary floats would drift). Every status change of a record is a `StatusEvent` row, so the
full history of who/when/what PARS or the board said is kept.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from app.models.search_keys import KEY_LENGTH, id_key, id_key_default, name_key, name_key_default


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class DecimalText(TypeDecorator[Decimal]):
    """Exact decimals stored as text."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return str(Decimal(value))

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        return None if value is None else Decimal(value)


class Base(DeclarativeBase):
    pass


# Search keys compare byte by byte on every engine, so a prefix is an index range (see search_keys).
SearchKey = String(KEY_LENGTH).with_variant(String(KEY_LENGTH, collation="C"), "postgresql")


class _IdentityKeys:
    """Keeps the folded name/license keys of a row in step with the names typed (ORM writes).

    Core INSERTs fill them through the columns' defaults; this covers ORM edits of a stored row."""

    @validates("first_name", "last_name")
    def _fold_name(self, field: str, value: str | None) -> str | None:
        setattr(self, field.replace("_name", "_key"), None if value is None else name_key(value))
        return value

    @validates("license_id")
    def _fold_license(self, field: str, value: str | None) -> str | None:
        self.license_key = None if value is None else id_key(value)
        return value


class Meta(Base):
    """Small key/value facts about this store: provider ID, last sync time, schema notes."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ActivityRow(Base):
    __tablename__ = "activity"

    id: Mapped[int] = mapped_column(primary_key=True)
    accme_id: Mapped[str | None] = mapped_column(String(9), unique=True)  # None until registered
    title: Mapped[str] = mapped_column(String(500))
    activity_type: Mapped[str] = mapped_column(String(64))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    cme_credits: Mapped[Decimal | None] = mapped_column(DecimalText)
    rems: Mapped[bool] = mapped_column(Boolean, default=False)
    state_collaboration: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    # set when a SaveActivity is wanted for a locally created activity (and cleared once registered)
    registration_error: Mapped[str | None] = mapped_column(Text)
    # a registered activity edited here since PARS last saw it: the next sync sends SaveActivity
    pars_outdated: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # bumped by every ORM update; an update of an older version fails (several coordinators)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}

    boards: Mapped[list[ActivityBoardRow]] = relationship(
        back_populates="activity", cascade="all, delete-orphan", order_by="ActivityBoardRow.board"
    )
    completions: Mapped[list[CompletionRow]] = relationship(back_populates="activity")


class ActivityBoardRow(Base):
    __tablename__ = "activity_board"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"))
    board: Mapped[str] = mapped_column(String(16))
    max_points: Mapped[Decimal] = mapped_column(DecimalText)
    credit_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    credit_claim_date: Mapped[date | None] = mapped_column(Date)

    activity: Mapped[ActivityRow] = relationship(back_populates="boards")


class LearnerRow(_IdentityKeys, Base):
    __tablename__ = "learner"
    __table_args__ = (
        Index("ix_learner_name", "last_name", "first_name"),
        Index("ix_learner_name_keys", "last_key", "first_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(200))
    last_name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[str | None] = mapped_column(String(5))  # MM/DD
    licensing_state: Mapped[str | None] = mapped_column(String(2))
    license_id: Mapped[str | None] = mapped_column(String(64), index=True)
    first_key: Mapped[str | None] = mapped_column(SearchKey, default=name_key_default("first_name"))
    last_key: Mapped[str | None] = mapped_column(SearchKey, default=name_key_default("last_name"))
    license_key: Mapped[str | None] = mapped_column(SearchKey, default=id_key_default("license_id"), index=True)
    # board code -> diplomate ID, remembered for pre-filling the entry form
    board_ids: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    completions: Mapped[list[CompletionRow]] = relationship(back_populates="learner")


class CompletionRow(_IdentityKeys, Base):
    """One learner record (one creditID). A corrected resubmission is a new row linked by replaces_id.

    The learner's identity (names, birth date, licensing state, license ID or NPI; board IDs live on
    its completion_board rows) is a snapshot that belongs to the record: exactly what was typed or
    read from the file. It is what is validated, sent, shown, exported and repeated in a delete.
    `learner` is only the directory entry the record was matched to (for matching and pre-filling);
    it learns from new records and is never the source of what is sent.
    """

    __tablename__ = "completion"
    __table_args__ = (
        Index("ix_completion_activity_status", "activity_id", "status"),
        Index("ix_completion_date", "completion_date"),
        Index("ix_completion_learner_name", "last_name", "first_name"),
        # Learner Search filters by name key (and status) and sorts by name: with the names in the
        # index a filter is answered from the index alone (migration 0009)
        Index("ix_completion_name_keys", "last_key", "first_key", "last_name", "first_name"),
        Index("ix_completion_first_key", "first_key", "last_name", "first_name"),
        Index("ix_completion_status_last_key", "status", "last_key", "last_name", "first_name"),
        Index("ix_completion_status_first_key", "status", "first_key", "last_name", "first_name"),
        # Batch Upload's history counts each upload's records by status from the index alone (0010)
        Index("ix_completion_upload_status", "upload_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    credit_id: Mapped[str] = mapped_column(String(300), unique=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id"), index=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learner.id"), index=True)
    # the learner as this record holds it (nullable in the table only so that migration 0004 could add
    # the columns without rebuilding the table; every stored record has them)
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    birth_date: Mapped[str | None] = mapped_column(String(5))  # MM/DD
    licensing_state: Mapped[str | None] = mapped_column(String(2))
    license_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # folded copies of the names and license for search (app/models/search_keys.py)
    first_key: Mapped[str | None] = mapped_column(SearchKey, default=name_key_default("first_name"))
    last_key: Mapped[str | None] = mapped_column(SearchKey, default=name_key_default("last_name"))
    license_key: Mapped[str | None] = mapped_column(SearchKey, default=id_key_default("license_id"), index=True)
    completion_date: Mapped[date] = mapped_column(Date)
    report_cme: Mapped[bool] = mapped_column(Boolean, default=True)
    cme_credits: Mapped[Decimal | None] = mapped_column(DecimalText)
    status: Mapped[str] = mapped_column(String(32), default="Draft")
    # last code/message from PARS or the board (shown as the Rejected tooltip)
    status_code: Mapped[int | None] = mapped_column(Integer)
    status_message: Mapped[str | None] = mapped_column(Text)
    status_source: Mapped[str | None] = mapped_column(String(16))  # local | PARS | board
    permission_given: Mapped[bool] = mapped_column(Boolean, default=False)
    permission_date: Mapped[date | None] = mapped_column(Date)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("completion.id"), index=True)
    upload_id: Mapped[int | None] = mapped_column(ForeignKey("upload.id"))  # indexed with the status
    upload_row: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    # bumped by every ORM update; an update of an older version fails (several coordinators)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}

    activity: Mapped[ActivityRow] = relationship(back_populates="completions")
    learner: Mapped[LearnerRow] = relationship(back_populates="completions")
    boards: Mapped[list[CompletionBoardRow]] = relationship(
        back_populates="completion", cascade="all, delete-orphan", order_by="CompletionBoardRow.id"
    )
    rems: Mapped[CompletionRemsRow | None] = relationship(
        back_populates="completion", cascade="all, delete-orphan", uselist=False
    )
    events: Mapped[list[StatusEvent]] = relationship(
        back_populates="completion", cascade="all, delete-orphan", order_by="StatusEvent.id"
    )


class CompletionBoardRow(Base):
    __tablename__ = "completion_board"
    # "does this record have board X": one probe (Learner Search's board filter)
    __table_args__ = (Index("ix_completion_board_record_board", "completion_id", "board"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    completion_id: Mapped[int] = mapped_column(ForeignKey("completion.id", ondelete="CASCADE"), index=True)
    board: Mapped[str] = mapped_column(String(16), index=True)
    board_id: Mapped[str | None] = mapped_column(String(64), index=True)
    board_id_key: Mapped[str | None] = mapped_column(SearchKey, default=id_key_default("board_id"), index=True)
    points: Mapped[Decimal] = mapped_column(DecimalText)
    credit_types: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # type -> decimal text

    completion: Mapped[CompletionRow] = relationship(back_populates="boards")

    @validates("board_id")
    def _fold_board_id(self, field: str, value: str | None) -> str | None:
        self.board_id_key = None if value is None else id_key(value)
        return value


class CompletionRemsRow(Base):
    __tablename__ = "completion_rems"

    id: Mapped[int] = mapped_column(primary_key=True)
    completion_id: Mapped[int] = mapped_column(
        ForeignKey("completion.id", ondelete="CASCADE"), unique=True
    )
    profession: Mapped[str] = mapped_column(String(64))
    state_of_practice: Mapped[str | None] = mapped_column(String(2))
    dea_registration: Mapped[str | None] = mapped_column(String(32))
    practice_area: Mapped[str | None] = mapped_column(String(200))
    performs_surgery: Mapped[bool | None] = mapped_column(Boolean)
    time_in_practice: Mapped[str | None] = mapped_column(String(32))

    completion: Mapped[CompletionRow] = relationship(back_populates="rems")


class StatusEvent(Base):
    """One step of a record's history: who/what changed it, when, and what PARS or the board said."""

    __tablename__ = "status_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    completion_id: Mapped[int] = mapped_column(ForeignKey("completion.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))  # user | import | PARS | board | sync
    actor: Mapped[str | None] = mapped_column(String(200))
    code: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str | None] = mapped_column(Text)

    completion: Mapped[CompletionRow] = relationship(back_populates="events")


class OutboxRow(Base):
    """A pending Add or Delete. `in_flight` means a send started and its outcome is unknown."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    completion_id: Mapped[int] = mapped_column(ForeignKey("completion.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(8))  # Add | Delete
    credit_id: Mapped[str] = mapped_column(String(300), index=True)
    in_flight: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class UploadRow(Base):
    """One batch file taken in through Batch Upload or `parsdesk import`."""

    __tablename__ = "upload"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    file_name: Mapped[str] = mapped_column(String(500))
    file_format: Mapped[str] = mapped_column(String(8))  # xlsx | xml
    records: Mapped[int] = mapped_column(Integer, default=0)
    queued: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    adds: Mapped[int] = mapped_column(Integer, default=0)
    deletes: Mapped[int] = mapped_column(Integer, default=0)
    attested_by: Mapped[str | None] = mapped_column(String(200))  # permission-to-report attestation
    attested_at: Mapped[datetime | None] = mapped_column(DateTime)
    headers: Mapped[list[str]] = mapped_column(JSON, default=list)  # original column headers (xlsx)

    lines: Mapped[list[UploadLine]] = relationship(
        back_populates="upload", cascade="all, delete-orphan", order_by="UploadLine.row_number"
    )


class UploadLine(Base):
    """A row of an uploaded file with its original values, for rejection workbooks at any time."""

    __tablename__ = "upload_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    upload_id: Mapped[int] = mapped_column(ForeignKey("upload.id", ondelete="CASCADE"), index=True)
    row_number: Mapped[int] = mapped_column(Integer)
    values: Mapped[list[Any]] = mapped_column(JSON, default=list)  # original cells, as text
    completion_id: Mapped[int | None] = mapped_column(ForeignKey("completion.id"), index=True)
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(Text)
    # XML uploads: a record that failed ParsDesk's checks, as read (its ActivityReport), for the rejection file
    source_xml: Mapped[str | None] = mapped_column(Text)

    upload: Mapped[UploadRow] = relationship(back_populates="lines")


class ParsFileRow(Base):
    """An upload file prepared for the PARS website (the route for offices without web-service
    credentials). Its lines say which records went out in it; nothing is ever in two files."""

    __tablename__ = "pars_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    file_name: Mapped[str] = mapped_column(String(500), unique=True)
    file_format: Mapped[str] = mapped_column(String(8))  # xlsx | xml
    environment: Mapped[str] = mapped_column(String(64))
    records: Mapped[int] = mapped_column(Integer, default=0)
    # the last PARS rejection workbook taken in for this file, and when
    results_file: Mapped[str | None] = mapped_column(String(500))
    results_at: Mapped[datetime | None] = mapped_column(DateTime)

    lines: Mapped[list[ParsFileLine]] = relationship(
        back_populates="pars_file", cascade="all, delete-orphan", order_by="ParsFileLine.row_number"
    )


class ParsFileLine(Base):
    """One record in an upload file: its row (sheet row, or ActivityReport index in XML), the action and
    the cells as written, and what PARS made of it (None until known, then rejected or submitted)."""

    __tablename__ = "pars_file_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("pars_file.id", ondelete="CASCADE"), index=True)
    row_number: Mapped[int] = mapped_column(Integer)
    completion_id: Mapped[int] = mapped_column(ForeignKey("completion.id"), index=True)
    action: Mapped[str] = mapped_column(String(8))  # Add | Delete
    credit_id: Mapped[str] = mapped_column(String(300), index=True)
    values: Mapped[list[Any]] = mapped_column(JSON, default=list)
    outcome: Mapped[str | None] = mapped_column(String(16))

    pars_file: Mapped[ParsFileRow] = relationship(back_populates="lines")
