"""covering indexes for Learner Search's name and status filters

A name filter ("hopper") with a status matches tens of thousands of records in a store of a million;
counting them and sorting them by name read each one's table row when the indexes held only the
folded keys. With the names (and the status first, for a status filter) in the index, the count and
the page's ids come from the index alone; the page's 200 rows are read afterwards by id.

`ix_completion_status` is dropped: the two status-first indexes answer every lookup by status.
Index changes only (no table rebuild), the same on SQLite and PostgreSQL.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 12:45:00
"""
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_completion_name_keys', table_name='completion')
    op.drop_index('ix_completion_first_key', table_name='completion')
    op.drop_index('ix_completion_status', table_name='completion')
    op.create_index('ix_completion_name_keys', 'completion', ['last_key', 'first_key', 'last_name', 'first_name'])
    op.create_index('ix_completion_first_key', 'completion', ['first_key', 'last_name', 'first_name'])
    op.create_index('ix_completion_status_last_key', 'completion', ['status', 'last_key', 'last_name', 'first_name'])
    op.create_index('ix_completion_status_first_key', 'completion', ['status', 'first_key', 'last_name', 'first_name'])


def downgrade() -> None:
    op.drop_index('ix_completion_status_first_key', table_name='completion')
    op.drop_index('ix_completion_status_last_key', table_name='completion')
    op.drop_index('ix_completion_first_key', table_name='completion')
    op.drop_index('ix_completion_name_keys', table_name='completion')
    op.create_index('ix_completion_status', 'completion', ['status'])
    op.create_index('ix_completion_first_key', 'completion', ['first_key'])
    op.create_index('ix_completion_name_keys', 'completion', ['last_key', 'first_key'])
