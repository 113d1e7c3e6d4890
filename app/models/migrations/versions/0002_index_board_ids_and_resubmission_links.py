"""index board IDs and resubmission links

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 03:33:28.659579
"""
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('completion', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_completion_replaces_id'), ['replaces_id'], unique=False)

    with op.batch_alter_table('completion_board', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_completion_board_board_id'), ['board_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('completion_board', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_completion_board_board_id'))

    with op.batch_alter_table('completion', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_completion_replaces_id'))

