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


def _migrate_to(engine, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from app.models.store import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_migration_0004_gives_every_record_the_identity_it_was_sent_with(tmp_path):
    """Records stored before 0004 take their learner's values; nothing linked to them is lost
    (rebuilding the completion table with foreign keys on would cascade-delete boards and history)."""
    from sqlalchemy import text

    from app.models.store import make_engine

    path = tmp_path / "old.sqlite3"
    engine = make_engine(path)
    _migrate_to(engine, "0003")
    with engine.begin() as c:
        c.execute(text("INSERT INTO activity (id, title, activity_type, start_date, end_date, rems, "
                       "state_collaboration, created_at, updated_at, pars_outdated) VALUES "
                       "(1, 'Course', 'Course', '2026-01-05', '2026-01-07', 0, 0, '2026-01-01', '2026-01-01', 0)"))
        c.execute(text("INSERT INTO learner (id, first_name, last_name, birth_date, licensing_state, license_id, "
                       "board_ids, created_at) VALUES (1, 'Ada', 'Lovelace', '11/16', 'CA', 'A12345', '{}', "
                       "'2026-01-01')"))
        c.execute(text("INSERT INTO completion (id, credit_id, activity_id, learner_id, completion_date, report_cme, "
                       "status, permission_given, created_at, updated_at) VALUES (1, 'ccid:1:a', 1, 1, '2026-01-06', "
                       "1, 'Accepted', 1, '2026-01-01', '2026-01-01')"))
        c.execute(text("INSERT INTO completion_board (completion_id, board, board_id, points, credit_types) "
                       "VALUES (1, 'ABIM', '123456', '8', '{}')"))
        c.execute(text("INSERT INTO status_event (completion_id, at, status, source) "
                       "VALUES (1, '2026-01-01', 'Accepted', 'board')"))
        c.execute(text("INSERT INTO outbox (completion_id, action, credit_id, in_flight, attempts, created_at) "
                       "VALUES (1, 'Delete', 'ccid:1:a', 0, 0, '2026-01-01')"))
    engine.dispose()

    store = Store.open(path)  # migrates to the newest revision
    with store.engine.connect() as c:
        snapshot = c.execute(text(
            "SELECT first_name, last_name, birth_date, licensing_state, license_id FROM completion")).one()
        linked = [c.execute(text(f"SELECT count(*) FROM {table}")).scalar()
                  for table in ("completion_board", "status_event", "outbox")]
        differences = compare_metadata(MigrationContext.configure(c), Base.metadata)
    store.close()
    assert tuple(snapshot) == ("Ada", "Lovelace", "11/16", "CA", "A12345")
    assert linked == [1, 1, 1]
    assert differences == []


def test_migration_0004_downgrades_without_losing_linked_rows(tmp_path):
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from app.models.store import MIGRATIONS_DIR
    from tests.learner_support import add_activity, completion, store_record

    path = tmp_path / "s.sqlite3"
    store = Store.open(path)
    store_record(store, add_activity(store), completion())
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0003")
    with store.engine.connect() as c:
        columns = {row[1] for row in c.execute(text("PRAGMA table_info(completion)"))}
        linked = [c.execute(text(f"SELECT count(*) FROM {table}")).scalar()
                  for table in ("completion_board", "status_event", "outbox")]
    store.close()
    assert "birth_date" not in columns
    assert linked == [1, 1, 1]
