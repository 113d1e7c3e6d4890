"""the rejected records of an XML upload, as read

An XML upload's rejection file holds each record that failed ParsDesk's checks as it was read (every
board, REMS participant and value), which the Excel template's cells cannot carry. Nullable: Excel
uploads, the rows that were queued and uploads from before this revision have none.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 13:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('upload_line', sa.Column('source_xml', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('upload_line') as batch:
        batch.drop_column('source_xml')
