"""schedules (workspace_id, status, id): the listing filtered by status reads its page off an
index in its own order

`GET /api/v1/schedules?status=...` is ordered newest id first. Without this index SQLite
(and PostgreSQL, when the status is rare) walked the workspace's schedules in id order looking
for matches: a status nothing has took as long as reading every schedule (39 ms at 100,000 on
SQLite).

Revision ID: 5e1c0a7d2b93
Revises: 9d4a2f67c0b9
Create Date: 2026-12-02 20:00:00.000000
"""

from collections.abc import Sequence

from alembic import op


revision: str = '5e1c0a7d2b93'
down_revision: str | None = '9d4a2f67c0b9'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('schedules', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_schedules_workspace_id_status_id'),
            ['workspace_id', 'status', 'id'],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table('schedules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_schedules_workspace_id_status_id'))
