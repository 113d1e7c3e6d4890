"""upload history counted from an index

The Batch Upload history shows, for every upload, how its records stand now (accepted, rejected,
pending). It counted them by joining every upload line to its record: seconds at a million uploaded
records, after every upload. An upload's adds are the records it created, so (upload_id, status)
in one index counts them from the index alone; `ix_completion_upload_id` is replaced by it (every
lookup by upload_id uses the wider index). Index changes only, the same on SQLite and PostgreSQL.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 16:00:00
"""
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_completion_upload_id', table_name='completion')
    op.create_index('ix_completion_upload_status', 'completion', ['upload_id', 'status'])


def downgrade() -> None:
    op.drop_index('ix_completion_upload_status', table_name='completion')
    op.create_index('ix_completion_upload_id', 'completion', ['upload_id'])
