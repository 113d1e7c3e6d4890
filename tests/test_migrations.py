"""The Alembic migrations build exactly the schema the ORM declares."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.models import Base, Store


def test_migrated_schema_matches_the_models(store):
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_reopening_a_migrated_store_keeps_its_data(tmp_path):
    path = tmp_path / "s.sqlite3"
    first = Store.open(path)
    first.set_meta("provider_id", "7654321")
    first.close()
    again = Store.open(path)
    assert again.get_meta("provider_id") == "7654321"
    again.close()


def test_store_runs_with_foreign_keys_and_wal(store):
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
