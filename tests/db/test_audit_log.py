"""Migration 0007: the audit log becomes append-only, and the personal data that earlier
snapshots of members and applications held is removed from it first."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

from bot.db import Database, alembic_config

OLD_SNAPSHOTS = [
    ("member.register", "member", None, {"name": "王五", "mobile": "139****1234", "unit_id": 3}),
    ("application.submit", "application", None, {"name": "赵六", "mobile": "137****0000"}),
    ("ledger.stage", "ledger", {"stage": "surveyed"}, {"stage": "letter_issued"}),
]


def _migrate(connection: Connection, revision: str, *, down: bool = False) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    (command.downgrade if down else command.upgrade)(cfg, revision)


async def test_old_snapshots_lose_names_and_numbers_then_the_log_is_locked(
    database_url: str,
) -> None:
    db = Database(database_url)
    await db.upgrade()
    audit = sa.table(
        "auditentry",
        *(sa.column(c) for c in ("id", "at", "actor_user_id", "action", "entity", "entity_id")),
        sa.column("before", sa.JSON()),
        sa.column("after", sa.JSON()),
    )
    async with db.engine.begin() as conn:
        await conn.run_sync(_migrate, "0006", down=True)
        # Down at 0006 the log is open again: rows as the bot wrote them before.
        await conn.execute(
            audit.insert(),
            [
                {"at": datetime(2018, 3, 1), "actor_user_id": 1, "action": action,
                 "entity": entity, "entity_id": "1", "before": before, "after": after}
                for action, entity, before, after in OLD_SNAPSHOTS
            ],
        )  # fmt: skip
    async with db.engine.begin() as conn:
        await conn.run_sync(_migrate, "head")
    async with db.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(audit.c.action, audit.c.before, audit.c.after).order_by(audit.c.id)
            )
        ).all()
    assert [(action, before, after) for action, before, after in rows] == [
        ("member.register", None, {"unit_id": 3}),
        ("application.submit", None, {}),
        ("ledger.stage", {"stage": "surveyed"}, {"stage": "letter_issued"}),  # untouched
    ]
    for statement in ("UPDATE auditentry SET action = 'x'", "DELETE FROM auditentry"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            async with db.engine.begin() as conn:
                await conn.execute(sa.text(statement))
    if not db.is_sqlite:
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            async with db.engine.begin() as conn:
                await conn.execute(sa.text("TRUNCATE auditentry"))
    async with db.engine.connect() as conn:
        count = (await conn.execute(sa.text("SELECT count(*) FROM auditentry"))).scalar_one()
    assert count == len(OLD_SNAPSHOTS)
    await db.dispose()
