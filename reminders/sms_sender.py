"""The outbox's SMS sender: claims due SMS rows, sends each through the gateway at
SMS_RATE_PER_SECOND, records what happened.

- sent: marked sent. A member who opted out (退订) before their row went is not sent to:
  the row is cancelled.
- retry: a 429 waits what the gateway asked (not counted as an attempt); timeouts, network
  errors and 5xx back off and count, and after MAX_ATTEMPTS the row is given up as failed.
- permanent: failed at once, with the gateway's reason.
- account (the gateway refuses our credentials, template, balance …): nothing is failed;
  SMS pause for ACCOUNT_PAUSE in this instance and the district admins are told (once a day).
- No gateway configured: SMS rows stay pending, never lost, and the admins are told once
  how many wait and what to set.

As with Telegram, each row is marked in its own short transaction right after its call, so
a crash loses at most the rows in flight, and their lease lets another instance send them.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from aiolimiter import AsyncLimiter
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import Database
from bot.texts import t
from models.enums import Language, OutboxChannel, OutboxStatus
from models.mobile import mask_mobile
from models.outbox import (
    MAX_ATTEMPTS,
    Outgoing,
    backoff,
    claim,
    enqueue,
    known_keys,
    mark_final,
    mark_later,
    mark_sent,
)
from models.tables import Member, OutboxMessage
from reminders.sms import SmsGateway, SmsOutcome, SmsResult, build_gateway

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger("unionbot.sms")
# Rows claimed at once, and sent side by side within the rate: small, so that an instance
# that dies holds few rows until their lease runs out.
BATCH = 10
ACCOUNT_PAUSE = timedelta(minutes=10)  # after the gateway refused the account: wait, retry


@dataclass
class SmsChannel:
    """This instance's SMS sending: the gateway (None: none configured), its pace, and a
    pause after the gateway refused the account."""

    gateway: SmsGateway | None
    rate: float = 10.0  # SMS a second, at most
    paused_until: datetime | None = None
    limiter: AsyncLimiter = field(init=False)

    def __post_init__(self) -> None:
        # One message every 1/rate seconds, never a burst of them.
        self.limiter = AsyncLimiter(1, 1 / self.rate)

    @classmethod
    def from_settings(cls, settings: Settings) -> SmsChannel:
        return cls(build_gateway(settings), settings.sms_rate_per_second)

    def batch(self, lease: timedelta) -> int:
        """Rows to claim at once: all of them sent well within their lease, even at a slow
        rate, so that no other instance takes them over while they wait their turn."""
        return max(1, min(BATCH, int(self.rate * lease.total_seconds() / 3)))

    async def aclose(self) -> None:
        if self.gateway is not None:
            await self.gateway.aclose()


@dataclass(frozen=True)
class SmsDrain:
    handled: int = 0  # rows claimed and decided (sent, put back, failed or cancelled)
    notices: int = 0  # Telegram messages queued for the admins
    refused: str | None = None  # the gateway refused the account, for this reason


async def drain_sms(
    *,
    channel: SmsChannel,
    db: Database,
    now: Callable[[], datetime],
    worker: str,
    admins: Sequence[int],
    language: Language,
    lease: timedelta = timedelta(seconds=60),
    limit: int = 100_000,
) -> SmsDrain:
    """Send the due SMS rows, batch by batch, through `channel`'s gateway."""
    if channel.gateway is None:
        return SmsDrain(notices=await _tell_unconfigured(db, now(), admins, language))
    if channel.paused_until is not None and now() < channel.paused_until:
        return SmsDrain()
    run = _Run(channel.gateway, channel.limiter, db, now)
    handled, batch = 0, channel.batch(lease)
    while handled < limit and run.refused is None:
        async with db.session(write=True) as session:
            rows = await claim(
                session=session, worker=worker, now=now(), limit=batch,
                channel=OutboxChannel.SMS, lease=lease,
            )  # fmt: skip
            opted_out = await _opted_out(session, rows)
        if not rows:
            break
        await asyncio.gather(*(run.one(row, cancel=row.id in opted_out) for row in rows))
        handled += len(rows)
    if run.refused is None:
        return SmsDrain(handled=handled)
    channel.paused_until = now() + ACCOUNT_PAUSE
    notices = await _tell_refused(db, now(), admins, language, run.refused)
    return SmsDrain(handled=handled, notices=notices, refused=run.refused)


class _Run:
    """One drain: sends rows side by side within the rate; the first refusal of the account
    stops the rows that have not gone yet."""

    def __init__(
        self,
        gateway: SmsGateway,
        limiter: AsyncLimiter,
        db: Database,
        now: Callable[[], datetime],
    ) -> None:
        self.gateway, self.limiter, self.db, self.now = gateway, limiter, db, now
        self.refused: str | None = None

    async def one(self, row: OutboxMessage, *, cancel: bool) -> None:
        assert row.id is not None
        if cancel:
            await self._final(row, OutboxStatus.CANCELLED, "opted out before it was sent")
            return
        if self.refused is None:
            await self.limiter.acquire()  # the rows of a batch go one by one, at the rate
        if self.refused is not None:  # another row of this batch found the account refused
            await self._later(row, self.now() + ACCOUNT_PAUSE, self.refused, count=False)
            return
        try:
            outcome = await self.gateway.send(row.recipient, row.payload["text"])
        except Exception as exc:  # a bug, not the gateway: count it, and keep going
            log.exception("sms row %s to %s: unexpected error", row.id, _to(row))
            outcome = SmsOutcome.retry(f"error ({type(exc).__name__})")
        await self._record(row, outcome)

    async def _record(self, row: OutboxMessage, outcome: SmsOutcome) -> None:
        assert row.id is not None
        now = self.now()
        if outcome.result is SmsResult.SENT:
            async with self.db.session(write=True) as session:
                await mark_sent(session=session, row_id=row.id, now=now)
            return
        if outcome.result is SmsResult.PERMANENT:
            await self._final(row, OutboxStatus.FAILED, outcome.reason)
        elif outcome.result is SmsResult.ACCOUNT:
            self.refused = self.refused or outcome.reason
            await self._later(row, now + ACCOUNT_PAUSE, outcome.reason, count=False)
        elif outcome.wait is not None:  # the gateway said how long to wait: not a failure
            await self._later(row, now + outcome.wait, outcome.reason, count=False)
        else:
            await self._later(row, now + backoff(row.attempts), outcome.reason, count=True)
            if row.attempts + 1 >= MAX_ATTEMPTS:
                log.warning("sms row %s to %s given up after %d attempts", row.id, _to(row),
                            MAX_ATTEMPTS)  # fmt: skip
        log.warning("sms row %s (%s) to %s not sent: %s: %s", row.id, row.kind, _to(row),
                    outcome.result.value, outcome.reason)  # fmt: skip

    async def _later(self, row: OutboxMessage, at: datetime, error: str, *, count: bool) -> None:
        assert row.id is not None
        async with self.db.session(write=True) as session:
            await mark_later(session=session, row_id=row.id, not_before=at, error=error,
                             count=count)  # fmt: skip

    async def _final(self, row: OutboxMessage, status: OutboxStatus, error: str) -> None:
        assert row.id is not None
        async with self.db.session(write=True) as session:
            await mark_final(session=session, row_id=row.id, status=status, error=error)
        if status is OutboxStatus.CANCELLED:
            log.info("sms row %s (%s) to %s cancelled: %s", row.id, row.kind, _to(row), error)


def _to(row: OutboxMessage) -> str:
    return mask_mobile(row.recipient)


async def _opted_out(session: AsyncSession, rows: Sequence[OutboxMessage]) -> set[int | None]:
    """The claimed rows whose member (by the payload's member_id, or by the number) opted
    out of messages."""
    if not rows:
        return set()
    ids = {int(r.payload["member_id"]) for r in rows if r.payload.get("member_id") is not None}
    mobiles = {r.recipient for r in rows}
    found = await session.exec(
        select(Member.id, Member.mobile).where(
            col(Member.opted_out_at).is_not(None),
            sa.or_(col(Member.id).in_(ids), col(Member.mobile).in_(mobiles)),
        )
    )
    out_ids, out_mobiles = set(), set()
    for member_id, mobile in found.all():
        out_ids.add(member_id)
        out_mobiles.add(mobile)
    return {
        r.id for r in rows if r.recipient in out_mobiles or r.payload.get("member_id") in out_ids
    }


async def waiting_sms(*, session: AsyncSession) -> int:
    """SMS rows not sent yet (pending, due or not)."""
    found = await session.exec(
        select(sa.func.count()).where(
            OutboxMessage.channel == OutboxChannel.SMS,
            OutboxMessage.status == OutboxStatus.PENDING,
        )
    )
    return int(found.one())


async def _tell_unconfigured(
    db: Database, now: datetime, admins: Sequence[int], language: Language
) -> int:
    """Each admin hears once, ever, that SMS wait for a gateway (the key makes it once)."""
    keys = {f"sms-unconfigured|{admin}": admin for admin in admins}
    if not keys:
        return 0
    async with db.session() as session:
        told = await known_keys(session=session, keys=list(keys))
        if len(told) == len(keys):
            return 0
        waiting = await waiting_sms(session=session)
    if not waiting:
        return 0
    text = t("sms.unconfigured", language, count=f"{waiting:,}")
    rows = [
        Outgoing(key=key, kind="sms.unconfigured", recipient=str(admin),
                 payload={"text": text}, not_before=now)
        for key, admin in keys.items()
        if key not in told
    ]  # fmt: skip
    async with db.session(write=True) as session:
        new = await enqueue(session=session, rows=rows, now=now)
    if new:
        log.warning("no SMS gateway configured: %d SMS waiting; admins told", waiting)
    return new


async def _tell_refused(
    db: Database, now: datetime, admins: Sequence[int], language: Language, reason: str
) -> int:
    """The admins hear at most once a day that the gateway refuses the account."""
    log.error("the SMS gateway refuses the account or settings: %s", reason)
    day = now.date().isoformat()
    text = t("sms.refused", language, reason=html.escape(reason),
             minutes=int(ACCOUNT_PAUSE.total_seconds() // 60))  # fmt: skip
    rows = [
        Outgoing(key=f"sms-refused|{admin}|{day}", kind="sms.refused", recipient=str(admin),
                 payload={"text": text}, not_before=now)
        for admin in admins
    ]  # fmt: skip
    async with db.session(write=True) as session:
        return await enqueue(session=session, rows=rows, now=now)
