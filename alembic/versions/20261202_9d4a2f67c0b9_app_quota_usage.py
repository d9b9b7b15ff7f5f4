"""app_quota_usage: calls per workspace against a platform's app-wide quota

Each workspace's share of Meta's app budget (X-App-Usage) is judged on the calls its user
tokens made in the last hour, counted here by every process in five-minute buckets.

Revision ID: 9d4a2f67c0b9
Revises: c3d1a9e7b2f4
Create Date: 2026-12-02 01:25:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.base


revision: str = '9d4a2f67c0b9'
down_revision: str | None = 'c3d1a9e7b2f4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'app_quota_usage',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('workspace_id', sa.Uuid(), nullable=False),
        sa.Column('bucket_start', app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('calls', sa.Integer(), nullable=False),
        sa.Column('app_percent', sa.Float(), nullable=True),
        sa.Column('reported_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['workspace_id'],
            ['workspaces.id'],
            name=op.f('fk_app_quota_usage_workspace_id_workspaces'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint(
            'key', 'workspace_id', 'bucket_start', name=op.f('pk_app_quota_usage')
        ),
    )


def downgrade() -> None:
    op.drop_table('app_quota_usage')
