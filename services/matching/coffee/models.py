"""Tables of coffee rounds. What must hold under any concurrency is kept by taking turns and by unique keys:

- every change of a round (opt-in, opt-out, pairing run, accept, decline, rematch) starts by bumping the round's
  `revision` with one UPDATE, so changes of one round take turns (PostgreSQL row lock; SQLite's write lock);
- one person is in at most one group of a round at a time: `coffee_members.active_round_id` is the round's id
  while the person is in the group and NULL once they left it, unique with `user_id`;
- one opt-in per person and round (primary key).

A pair is never repeated within a day: the pairing reads every pair ever grouped in the day's rounds (members
who left included) and gives them no edge.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.matching.adapters.orm import Base
from shared.events import utcnow


class CoffeeRound(Base):
    __tablename__ = "coffee_rounds"
    __table_args__ = (
        CheckConstraint("min_cross_org_share >= 0 AND min_cross_org_share <= 1", name="ck_coffee_rounds_share"),
        CheckConstraint("status IN ('open', 'paired')", name="ck_coffee_rounds_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("insight_days.id", ondelete="CASCADE"), index=True)
    slot_id: Mapped[int | None] = mapped_column(ForeignKey("slots.id", ondelete="SET NULL"), nullable=True)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    minutes: Mapped[int] = mapped_column(Integer)
    min_cross_org_share: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(10), default="open")  # open: taking opt-ins; paired: run done
    runs: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # pairing runs by the organiser
    created_by: Mapped[int] = mapped_column(Integer)
    revision: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    paired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CoffeeOptIn(Base):
    __tablename__ = "coffee_opt_ins"

    round_id: Mapped[int] = mapped_column(
        ForeignKey("coffee_rounds.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CoffeeGroup(Base):
    """A pair (or the round's trio). `dissolved_at` is set when fewer than two members are left in it."""

    __tablename__ = "coffee_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("coffee_rounds.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int] = mapped_column(Integer, index=True)  # the day: pairs never repeat within it
    run: Mapped[int] = mapped_column(Integer)  # which pairing run made it (0: a rematch)
    cross_org: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    dissolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CoffeeMember(Base):
    __tablename__ = "coffee_members"
    __table_args__ = (
        UniqueConstraint("user_id", "active_round_id", name="uq_coffee_members_one_group_per_round"),
        CheckConstraint("response IN ('pending', 'accepted', 'declined')", name="ck_coffee_members_response"),
    )

    group_id: Mapped[int] = mapped_column(
        ForeignKey("coffee_groups.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False, index=True)
    round_id: Mapped[int] = mapped_column(Integer, index=True)
    active_round_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # round id while in the group
    response: Mapped[str] = mapped_column(String(10), default="pending")
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
