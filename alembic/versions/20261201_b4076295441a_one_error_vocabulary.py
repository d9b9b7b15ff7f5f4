"""one error vocabulary; throttle_states.usage_percent dropped

`schedule_external.last_error_kind` now holds `ErrorKind` values only (app.core.error_kinds).
The stored legacy values are rewritten to the member that means the same. The column stays
VARCHAR(32) without a CHECK constraint (so that adding a kind needs no migration); the model
types it as the enum, which refuses any other value.

`throttle_states.usage_percent` was never written or read.

Revision ID: b4076295441a
Revises: 90fe993d59ce
Create Date: 2026-12-01 21:43:11.364887
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'b4076295441a'
down_revision: str | None = '90fe993d59ce'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# ErrorKind's values at this revision (frozen here: a migration must not follow the code).
KINDS = (
    "transient",
    "throttled",
    "reconnect_required",
    "account_disconnected",
    "permission",
    "not_found",
    "deleted",
    "no_data",
    "invalid_metric",
    "rejected",
    "real_data_exists",
)
# Legacy value -> the member that means the same. `token_expired` came from the old
# classifier, the others are the old PlatformError.kind names.
LEGACY = {
    "token_expired": "reconnect_required",
    "token": "reconnect_required",
    "no_statistics": "no_data",
    "permanent": "rejected",
    "invalid_request": "rejected",
    "platform": "rejected",
}
# Values this revision adds that the previous code did not know (for the downgrade).
NEW_IN_THIS_REVISION = {"invalid_metric": "rejected"}

_external = sa.table("schedule_external", sa.column("last_error_kind", sa.String(32)))


def _rewrite(mapping: dict[str, str]) -> None:
    column = _external.c.last_error_kind
    for old, new in mapping.items():
        op.execute(_external.update().where(column == old).values(last_error_kind=new))


def upgrade() -> None:
    _rewrite(LEGACY)
    # Anything else no writer produced (a hand edit) would make every read of its row fail.
    column = _external.c.last_error_kind
    op.execute(
        _external.update()
        .where(column.is_not(None), column.not_in(KINDS))
        .values(last_error_kind="rejected")
    )
    with op.batch_alter_table('throttle_states', schema=None) as batch_op:
        batch_op.drop_column('usage_percent')


def downgrade() -> None:
    with op.batch_alter_table('throttle_states', schema=None) as batch_op:
        batch_op.add_column(sa.Column('usage_percent', sa.Float(), nullable=True))
    _rewrite(NEW_IN_THIS_REVISION)
    # The previous code named a token error `token_expired`, and knew `reconnect_required`
    # only for accounts already marked: both stay readable, so the rest stays as it is.
