"""members: who registered them and opt-outs; online joining; the welcome text; outbox batches

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outboxbatch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "welcometemplate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=1000), nullable=False),
        sa.Column("changed_by", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "joinlink",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("street_id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["meeting_id"], ["meeting.id"]),
        sa.ForeignKeyConstraint(["street_id"], ["street.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "membershipapplication",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("mobile", sa.String(length=11), nullable=False),
        sa.Column("street_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("unit_name", sa.String(length=128), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=True),
        sa.Column("consent_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.BigInteger(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["meeting_id"], ["meeting.id"]),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"]),
        sa.ForeignKeyConstraint(["street_id"], ["street.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("membershipapplication") as batch:
        batch.create_index("ix_membershipapplication_street_id", ["street_id"])
        batch.create_index("ix_membershipapplication_telegram_user_id", ["telegram_user_id"])
    with op.batch_alter_table("member") as batch:
        batch.add_column(sa.Column("created_by", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("opted_out_at", sa.DateTime(), nullable=True))
    # batch mode: SQLite can only add a foreign key by rebuilding the table.
    with op.batch_alter_table("outboxmessage") as batch:
        batch.add_column(sa.Column("batch_id", sa.Integer(), nullable=True))
        batch.create_index("ix_outboxmessage_batch_id", ["batch_id"])
        batch.create_foreign_key(
            "fk_outboxmessage_batch_id", "outboxbatch", ["batch_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("outboxmessage") as batch:
        batch.drop_constraint("fk_outboxmessage_batch_id", type_="foreignkey")
        batch.drop_index("ix_outboxmessage_batch_id")
        batch.drop_column("batch_id")
    with op.batch_alter_table("member") as batch:
        batch.drop_column("opted_out_at")
        batch.drop_column("created_by")
    with op.batch_alter_table("membershipapplication") as batch:
        batch.drop_index("ix_membershipapplication_telegram_user_id")
        batch.drop_index("ix_membershipapplication_street_id")
    op.drop_table("membershipapplication")
    op.drop_table("joinlink")
    op.drop_table("welcometemplate")
    op.drop_table("outboxbatch")
