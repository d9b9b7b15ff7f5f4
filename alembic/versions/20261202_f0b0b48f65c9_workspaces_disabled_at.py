"""workspaces.disabled_at: a workspace can be disabled

A disabled workspace's API keys no longer authenticate, no key can be created for it, and the
publishing engine and the insights poller leave its work alone until it is enabled again.
NULL (every existing workspace) means active.

Revision ID: f0b0b48f65c9
Revises: 7394550b1595
Create Date: 2026-12-02 01:02:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.base


revision: str = 'f0b0b48f65c9'
down_revision: str | None = '7394550b1595'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('workspaces', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('disabled_at', app.models.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('workspaces', schema=None) as batch_op:
        batch_op.drop_column('disabled_at')
