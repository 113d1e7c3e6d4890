"""folded search keys on records, learners and board IDs

Learner Search and the entry form's checks look up names and IDs accent-, case- and punctuation-
insensitively ("muller" finds Müller, "12345" finds 0012345). Folding in each query would bypass the
indexes, so every row keeps its folded keys (app/models/search_keys.py) in indexed columns. Existing
rows are folded here, in chunks, by the same Python function new rows use.

Columns are added nullable, without rebuilding tables (on SQLite a rebuild of `completion` with
foreign keys on would cascade-delete its boards, history and outbox rows).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 09:00:00
"""
from alembic import op
import sqlalchemy as sa

from app.models.search_keys import KEY_LENGTH, id_key, name_key

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_CHUNK = 5000


def _key_type() -> sa.types.TypeEngine:
    return sa.String(length=KEY_LENGTH).with_variant(sa.String(length=KEY_LENGTH, collation='C'), 'postgresql')


def _fold(table: str, sources: dict[str, tuple[str, object]]) -> None:
    """Fill each key column from its source column, reading and writing _CHUNK rows at a time."""
    bind = op.get_bind()
    columns = [sa.column('id')] + [sa.column(src) for src, _ in sources.values()]
    columns += [sa.column(key) for key in sources]
    rows_table = sa.table(table, *columns)
    update = (
        rows_table.update()
        .where(rows_table.c.id == sa.bindparam('row_id'))
        .values({key: sa.bindparam(f'new_{key}') for key in sources})
    )
    last_id = 0
    while True:
        rows = bind.execute(
            sa.select(rows_table.c.id, *(rows_table.c[src] for src, _ in sources.values()))
            .where(rows_table.c.id > last_id).order_by(rows_table.c.id).limit(_CHUNK)
        ).all()
        if not rows:
            return
        bind.execute(update, [
            {'row_id': row.id, **{f'new_{key}': (None if getattr(row, src) is None else fold(getattr(row, src)))
                                  for key, (src, fold) in sources.items()}}
            for row in rows
        ])
        last_id = rows[-1].id


def upgrade() -> None:
    for table in ('completion', 'learner'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('first_key', _key_type(), nullable=True))
            batch_op.add_column(sa.Column('last_key', _key_type(), nullable=True))
            batch_op.add_column(sa.Column('license_key', _key_type(), nullable=True))
        _fold(table, {
            'first_key': ('first_name', name_key),
            'last_key': ('last_name', name_key),
            'license_key': ('license_id', id_key),
        })
    with op.batch_alter_table('completion_board', schema=None) as batch_op:
        batch_op.add_column(sa.Column('board_id_key', _key_type(), nullable=True))
    _fold('completion_board', {'board_id_key': ('board_id', id_key)})

    op.create_index('ix_completion_name_keys', 'completion', ['last_key', 'first_key'], unique=False)
    op.create_index('ix_completion_first_key', 'completion', ['first_key'], unique=False)
    op.create_index('ix_completion_license_key', 'completion', ['license_key'], unique=False)
    op.create_index('ix_learner_name_keys', 'learner', ['last_key', 'first_key'], unique=False)
    op.create_index('ix_learner_license_key', 'learner', ['license_key'], unique=False)
    op.create_index('ix_completion_board_board_id_key', 'completion_board', ['board_id_key'], unique=False)


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+, PostgreSQL): a batch rebuild would cascade-delete child rows.
    op.drop_index('ix_completion_board_board_id_key', table_name='completion_board')
    op.drop_index('ix_learner_license_key', table_name='learner')
    op.drop_index('ix_learner_name_keys', table_name='learner')
    op.drop_index('ix_completion_license_key', table_name='completion')
    op.drop_index('ix_completion_first_key', table_name='completion')
    op.drop_index('ix_completion_name_keys', table_name='completion')
    op.drop_column('completion_board', 'board_id_key')
    for table in ('learner', 'completion'):
        for name in ('license_key', 'last_key', 'first_key'):
            op.drop_column(table, name)
