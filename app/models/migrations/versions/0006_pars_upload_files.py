"""PARS upload files (the route without web-service credentials)

`pars_file` is an upload file prepared for the PARS website; `pars_file_line` says which record went
out in which row of it, with the cells as written and what PARS made of it. New tables only.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 09:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'pars_file',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('file_name', sa.String(length=500), nullable=False),
        sa.Column('file_format', sa.String(length=8), nullable=False),
        sa.Column('environment', sa.String(length=64), nullable=False),
        sa.Column('records', sa.Integer(), nullable=False),
        sa.Column('results_file', sa.String(length=500), nullable=True),
        sa.Column('results_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('file_name'),
    )
    op.create_table(
        'pars_file_line',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('file_id', sa.Integer(), nullable=False),
        sa.Column('row_number', sa.Integer(), nullable=False),
        sa.Column('completion_id', sa.Integer(), nullable=False),
        sa.Column('action', sa.String(length=8), nullable=False),
        sa.Column('credit_id', sa.String(length=300), nullable=False),
        sa.Column('values', sa.JSON(), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(['completion_id'], ['completion.id']),
        sa.ForeignKeyConstraint(['file_id'], ['pars_file.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('pars_file_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pars_file_line_completion_id'), ['completion_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pars_file_line_credit_id'), ['credit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pars_file_line_file_id'), ['file_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('pars_file_line', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pars_file_line_file_id'))
        batch_op.drop_index(batch_op.f('ix_pars_file_line_credit_id'))
        batch_op.drop_index(batch_op.f('ix_pars_file_line_completion_id'))
    op.drop_table('pars_file_line')
    op.drop_table('pars_file')
