"""readiness_heartbeat: the one row /readyz upserts to check the database takes writes;
schedules indexed by (workspace_id, id), the listing's order

The single-column ix_schedules_workspace_id is dropped: the new index's prefix serves the same
lookups.

Revision ID: c3d1a9e7b2f4
Revises: f0b0b48f65c9
Create Date: 2026-12-02 01:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.base


revision: str = 'c3d1a9e7b2f4'
down_revision: str | None = 'f0b0b48f65c9'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'readiness_heartbeat',
        sa.Column('id', sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column('checked_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint('id = 1', name=op.f('ck_readiness_heartbeat_single_row')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_readiness_heartbeat')),
    )
    with op.batch_alter_table('schedules', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_schedules_workspace_id_id'), ['workspace_id', 'id'], unique=False
        )
        batch_op.drop_index(batch_op.f('ix_schedules_workspace_id'))


def downgrade() -> None:
    with op.batch_alter_table('schedules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_schedules_workspace_id'), ['workspace_id'], unique=False)
        batch_op.drop_index(batch_op.f('ix_schedules_workspace_id_id'))
    op.drop_table('readiness_heartbeat')
