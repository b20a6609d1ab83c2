"""hardening: an append-only audit log, and members whose personal data can be erased

The audit log is made unchangeable by the database itself: a trigger refuses every UPDATE and
DELETE (and, on PostgreSQL, TRUNCATE) of auditentry, whoever asks. That is why no personal data
may be written into it any more (models.members.member_snapshot): it could never be erased. The
names and numbers that earlier snapshots of members and applications hold are removed here,
before the trigger exists.

A member erased on request keeps their row, so every count stays as it was, with the name,
number and Telegram account gone: `mobile` may now be empty, and `erased_at` says when.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERSONAL = ("name", "mobile")  # the keys earlier member and application snapshots held
MESSAGE = "the audit log is append-only"


def upgrade() -> None:
    with op.batch_alter_table("member") as batch:
        batch.alter_column("mobile", existing_type=sa.String(length=11), nullable=True)
        batch.add_column(sa.Column("erased_at", sa.DateTime(), nullable=True))
    _scrub_audit_snapshots()
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION auditentry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{MESSAGE}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER auditentry_append_only BEFORE UPDATE OR DELETE ON auditentry "
            "FOR EACH ROW EXECUTE FUNCTION auditentry_append_only()"
        )
        op.execute(
            "CREATE TRIGGER auditentry_no_truncate BEFORE TRUNCATE ON auditentry "
            "FOR EACH STATEMENT EXECUTE FUNCTION auditentry_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER auditentry_no_{event.lower()} BEFORE {event} ON auditentry "
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            )


def _scrub_audit_snapshots() -> None:
    audit = sa.table(
        "auditentry",
        sa.column("id", sa.Integer()),
        sa.column("entity", sa.String()),
        sa.column("before", sa.JSON()),
        sa.column("after", sa.JSON()),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(audit.c.id, audit.c.before, audit.c.after).where(
            audit.c.entity.in_(["member", "application"])
        )
    ).all()
    for row_id, before, after in rows:
        if not any(snapshot and set(PERSONAL) & set(snapshot) for snapshot in (before, after)):
            continue
        bind.execute(
            audit.update()
            .where(audit.c.id == row_id)
            .values(before=_without_personal(before), after=_without_personal(after))
        )


def _without_personal(snapshot: dict[str, object] | None) -> dict[str, object] | None:
    if snapshot is None:
        return None
    return {key: value for key, value in snapshot.items() if key not in PERSONAL}


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER auditentry_no_truncate ON auditentry")
        op.execute("DROP TRIGGER auditentry_append_only ON auditentry")
        op.execute("DROP FUNCTION auditentry_append_only()")
    else:
        op.execute("DROP TRIGGER auditentry_no_update")
        op.execute("DROP TRIGGER auditentry_no_delete")
    with op.batch_alter_table("member") as batch:
        batch.drop_column("erased_at")
        batch.alter_column("mobile", existing_type=sa.String(length=11), nullable=False)
