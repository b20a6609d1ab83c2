"""The durable outbox: everything sent unasked is first a row here, and its unique key makes
it send once. Rows are claimed with a lease before sending, so two instances on one database
never send the same row, and a row claimed by an instance that died is sent by another once
the lease runs out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import audit
from models.enums import OutboxChannel, OutboxStatus
from models.tables import OutboxBatch, OutboxMessage

MAX_ATTEMPTS = 8  # transient failures (timeouts, 5xx) before a row is given up as failed
UNDELIVERED = (OutboxStatus.FAILED, OutboxStatus.BLOCKED, OutboxStatus.CANCELLED)


@dataclass(frozen=True)
class Outgoing:
    key: str
    kind: str
    recipient: str
    payload: dict[str, Any]
    not_before: datetime
    channel: OutboxChannel = OutboxChannel.TELEGRAM
    status: OutboxStatus = OutboxStatus.PENDING


async def enqueue(
    *,
    session: AsyncSession,
    rows: Sequence[Outgoing],
    now: datetime,
    batch_id: int | None = None,
) -> int:
    """Add rows whose key is new; a key already there (sent or not) is left alone. How many
    were new."""
    if not rows:
        return 0
    values = [
        {
            "dedupe_key": r.key,
            "kind": r.kind,
            "channel": r.channel.value,
            "recipient": r.recipient,
            "payload": r.payload,
            "status": r.status.value,
            "attempts": 0,
            "not_before": r.not_before,
            "created_at": now,
            "batch_id": batch_id,
        }
        for r in rows
    ]
    postgres = session.get_bind().dialect.name == "postgresql"
    dialect = postgresql if postgres else sqlite
    statement = dialect.insert(OutboxMessage).on_conflict_do_nothing(index_elements=["dedupe_key"])
    result = await session.exec(statement.values(values))
    return int(result.rowcount or 0)


async def known_keys(*, session: AsyncSession, keys: Sequence[str]) -> set[str]:
    if not keys:
        return set()
    found = await session.exec(
        select(OutboxMessage.dedupe_key).where(col(OutboxMessage.dedupe_key).in_(keys))
    )
    return set(found.all())


async def claim(
    *,
    session: AsyncSession,
    worker: str,
    now: datetime,
    limit: int,
    channel: OutboxChannel,
    lease: timedelta,
) -> list[OutboxMessage]:
    """Take up to `limit` due rows for this worker, oldest first. On PostgreSQL, SKIP LOCKED
    lets two instances claim side by side; SQLite's write lock serialises the claims."""
    free = sa.or_(
        col(OutboxMessage.claim_expires_at).is_(None), col(OutboxMessage.claim_expires_at) < now
    )
    rows = (
        await session.exec(
            select(OutboxMessage)
            .where(
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.channel == channel,
                col(OutboxMessage.not_before) <= now,
                free,
            )
            .order_by(col(OutboxMessage.not_before), col(OutboxMessage.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for row in rows:
        row.claimed_by = worker
        row.claim_expires_at = now + lease
        session.add(row)
    return list(rows)


async def mark_sent(*, session: AsyncSession, row_id: int, now: datetime) -> None:
    await _update(session, row_id, status=OutboxStatus.SENT, sent_at=now, claim_expires_at=None)


async def mark_later(
    *, session: AsyncSession, row_id: int, not_before: datetime, error: str, count: bool
) -> None:
    """Try again at `not_before`; `count` the attempt unless Telegram only asked us to wait."""
    row = await session.get(OutboxMessage, row_id)
    assert row is not None
    row.attempts += int(count)
    row.last_error = error[:500]
    row.claimed_by = row.claim_expires_at = None
    if row.attempts >= MAX_ATTEMPTS:
        row.status = OutboxStatus.FAILED
    row.not_before = not_before
    session.add(row)


async def mark_final(
    *, session: AsyncSession, row_id: int, status: OutboxStatus, error: str
) -> None:
    """A failure that retrying cannot fix: blocked by the recipient, or refused outright."""
    await _update(session, row_id, status=status, last_error=error[:500], claim_expires_at=None)


async def _update(session: AsyncSession, row_id: int, **values: object) -> None:
    await session.exec(
        sa.update(OutboxMessage).where(col(OutboxMessage.id) == row_id).values(**values)
    )


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s … at most an hour between attempts."""
    return timedelta(seconds=min(5 * 2**attempts, 3600))


async def counts(*, session: AsyncSession) -> dict[tuple[OutboxChannel, OutboxStatus], int]:
    """How many rows are in each state, per channel: what /outbox shows."""
    found = await session.exec(
        select(OutboxMessage.channel, OutboxMessage.status, sa.func.count()).group_by(
            col(OutboxMessage.channel), col(OutboxMessage.status)
        )
    )
    tally: Counter[tuple[OutboxChannel, OutboxStatus]] = Counter()
    for channel, status, n in found.all():
        tally[(OutboxChannel(channel), OutboxStatus(status))] = n
    return dict(tally)


async def retry_failed(
    *, session: AsyncSession, channel: OutboxChannel, now: datetime, by_user_id: int
) -> int:
    """Give failed rows of a channel another go (not blocked ones: the person blocked us)."""
    failed = (
        sa.update(OutboxMessage)
        .where(
            col(OutboxMessage.status) == OutboxStatus.FAILED,
            col(OutboxMessage.channel) == channel,
        )
        .values(status=OutboxStatus.PENDING, attempts=0, not_before=now, claim_expires_at=None,
                claimed_by=None)
    )  # fmt: skip
    result = await session.exec(failed)
    n = int(result.rowcount or 0)
    audit.record(
        session=session, now=now, actor_user_id=by_user_id, action="outbox.retry",
        entity="outbox", entity_id=channel.value, after={"rows": n},
    )  # fmt: skip
    return n


@dataclass(frozen=True)
class BatchProgress:
    batch_id: int
    chat_id: int
    message_id: int
    total: int
    sent: int
    failed: int  # failed, blocked or cancelled: done, but not delivered

    @property
    def done(self) -> bool:
        return self.sent + self.failed >= self.total


async def open_batches(*, session: AsyncSession) -> list[BatchProgress]:
    """Batches still being sent that show their progress in a message."""
    batches = (
        await session.exec(
            select(OutboxBatch).where(
                col(OutboxBatch.finished_at).is_(None), col(OutboxBatch.message_id).is_not(None)
            )
        )
    ).all()
    progress = []
    for batch in batches:
        assert batch.id is not None and batch.chat_id is not None and batch.message_id is not None
        states = await session.exec(
            select(OutboxMessage.status, sa.func.count())
            .where(OutboxMessage.batch_id == batch.id)
            .group_by(col(OutboxMessage.status))
        )
        by_state = {OutboxStatus(s): n for s, n in states.all()}
        undelivered = sum(by_state.get(s, 0) for s in UNDELIVERED)
        progress.append(
            BatchProgress(batch.id, batch.chat_id, batch.message_id, batch.total,
                          by_state.get(OutboxStatus.SENT, 0), undelivered)
        )  # fmt: skip
    return progress


async def finish_batch(*, session: AsyncSession, batch_id: int, now: datetime) -> None:
    batch = await session.get(OutboxBatch, batch_id)
    assert batch is not None
    batch.finished_at = now
    session.add(batch)
