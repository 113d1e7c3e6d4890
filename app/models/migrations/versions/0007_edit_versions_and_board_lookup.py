"""edit versions on activities and records; board lookup per record

Several coordinators edit the same office database: `version` (SQLAlchemy's version_id_col) makes an
edit of a row someone else changed meanwhile fail instead of silently overwriting it. Existing rows
start at 1.

`ix_completion_board_record_board` answers "does this record have board X" with one index probe;
without it PostgreSQL, before its statistics are gathered, intersects the whole board index for every
candidate record (seconds at 100,000 records).

Plain ADD COLUMN (no table rebuild: on SQLite a rebuild of `completion` with foreign keys on would
cascade-delete its boards, history and outbox rows).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 09:10:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('activity', 'completion'):
        op.add_column(table, sa.Column('version', sa.Integer(), server_default='1', nullable=False))
    op.create_index('ix_completion_board_record_board', 'completion_board', ['completion_id', 'board'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_completion_board_record_board', table_name='completion_board')
    for table in ('completion', 'activity'):
        op.drop_column(table, 'version')
