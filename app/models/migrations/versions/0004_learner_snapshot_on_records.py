"""learner identity snapshot on each record

Each learner record keeps the identity it was typed or read with (names, birth date, licensing state,
license ID or NPI): what is validated, sent, shown and repeated in a delete. Existing records take
the values of the learner they are linked to, which is what they were sent with until now.

The columns are added nullable so that no table is rebuilt: on SQLite, rebuilding `completion` with
foreign keys on would cascade-delete its boards, history and outbox rows.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 08:40:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

_SNAPSHOT = (
    ('first_name', sa.String(length=200)),
    ('last_name', sa.String(length=200)),
    ('birth_date', sa.String(length=5)),
    ('licensing_state', sa.String(length=2)),
    ('license_id', sa.String(length=64)),
)


def upgrade() -> None:
    with op.batch_alter_table('completion', schema=None) as batch_op:
        for name, type_ in _SNAPSHOT:
            batch_op.add_column(sa.Column(name, type_, nullable=True))

    # Backfill from the linked learner: one correlated UPDATE, the same SQL on SQLite and PostgreSQL.
    completion = sa.table('completion', sa.column('learner_id'), *(sa.column(n) for n, _ in _SNAPSHOT))
    learner = sa.table('learner', sa.column('id'), *(sa.column(n) for n, _ in _SNAPSHOT))
    op.execute(
        completion.update().values({
            name: sa.select(learner.c[name]).where(learner.c.id == completion.c.learner_id).scalar_subquery()
            for name, _ in _SNAPSHOT
        })
    )

    with op.batch_alter_table('completion', schema=None) as batch_op:
        batch_op.create_index('ix_completion_learner_name', ['last_name', 'first_name'], unique=False)
        batch_op.create_index(batch_op.f('ix_completion_license_id'), ['license_id'], unique=False)


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+, PostgreSQL): batch mode would rebuild the table,
    # and with foreign keys on that cascade-deletes the records' boards, history and outbox rows.
    op.drop_index('ix_completion_license_id', table_name='completion')
    op.drop_index('ix_completion_learner_name', table_name='completion')
    for name, _ in reversed(_SNAPSHOT):
        op.drop_column('completion', name)
