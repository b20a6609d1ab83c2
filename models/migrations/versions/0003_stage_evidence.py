"""attachments can be the evidence of a ledger step

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch mode: SQLite can only add a foreign key by rebuilding the table.
    with op.batch_alter_table("attachment") as batch:
        batch.add_column(sa.Column("stage_change_id", sa.Integer(), nullable=True))
        batch.create_index("ix_attachment_stage_change_id", ["stage_change_id"])
        batch.create_foreign_key(
            "fk_attachment_stage_change_id", "ledgerstagechange", ["stage_change_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("attachment") as batch:
        batch.drop_constraint("fk_attachment_stage_change_id", type_="foreignkey")
        batch.drop_index("ix_attachment_stage_change_id")
        batch.drop_column("stage_change_id")
