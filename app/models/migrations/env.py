"""Alembic environment: runs on the connection the store hands over (see Store.migrate)."""

from alembic import context

from app.models.schema import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    # `alembic` CLI use (for writing new revisions): point sqlalchemy.url at a scratch database.
    from sqlalchemy import create_engine

    connection = create_engine(config.get_main_option("sqlalchemy.url")).connect()

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
