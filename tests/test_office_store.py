"""The store on the office's PostgreSQL database: schema on first use, newer schemas refused, URL rules
(no password in URLs, TLS off localhost), the password from the keyring, and the same data on both
engines. Runs against the real throwaway server of tests/pg_support.py."""

from __future__ import annotations

import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from app.models import Base, Meta, Store, StoreError
from app.models.office_db import OfficeDatabaseError, load_password, parse_office_url, save_password


def test_an_empty_office_database_gets_the_schema_on_first_use(postgres_url):
    store = Store.open(postgres_url)
    try:
        assert store.is_office and store.path is None
        with store.engine.connect() as connection:
            assert connection.dialect.name == "postgresql"
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert differences == []
        store.set_meta("provider_id", "7654321")
    finally:
        store.close()
    again = Store.open(postgres_url)
    try:
        assert again.get_meta("provider_id") == "7654321"
    finally:
        again.close()


def test_the_store_location_opens_the_same_database_again_and_shows_no_password(postgres_url):
    store = Store.open(postgres_url)
    try:
        assert store.location.startswith("postgresql://") and "@127.0.0.1:" in store.location
        other = Store.open(store.location, migrate_schema=False)
        try:
            store.set_meta("k", "v")
            assert other.get_meta("k") == "v"
        finally:
            other.close()
    finally:
        store.close()


def test_a_database_made_by_a_newer_parsdesk_is_refused_and_left_untouched(postgres_url):
    Store.open(postgres_url).close()
    engine = create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    with pytest.raises(StoreError, match="newer ParsDesk.*0999"):
        Store.open(postgres_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0999"
    engine.dispose()


def test_a_newer_sqlite_store_is_refused_too(tmp_path):
    path = tmp_path / "s.sqlite3"
    Store.open(path).close()
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    engine.dispose()
    with pytest.raises(StoreError, match="newer ParsDesk"):
        Store.open(path)


def test_a_database_holding_other_tables_is_not_taken_over(postgres_url):
    engine = create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE invoices (id integer primary key)"))
    engine.dispose()
    with pytest.raises(StoreError, match="not a ParsDesk database.*invoices"):
        Store.open(postgres_url)


def test_desks_starting_at_once_on_an_empty_database_migrate_it_once(postgres_url):
    errors: list[BaseException] = []
    stores: list[Store] = []

    def start() -> None:
        try:
            stores.append(Store.open(postgres_url))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert errors == [] and len(stores) == 3


def test_an_unreachable_office_database_is_a_clear_store_error(postgres_server):
    from pg_support import free_port

    url = f"postgresql://parsdesk@127.0.0.1:{free_port()}/office"
    with pytest.raises(StoreError, match="cannot use the office database postgresql://parsdesk@127.0.0.1"):
        Store.open(url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://desk:secret@db.office.example/pd", "holds a password"),
        ("postgresql://desk@db.office.example/pd?sslmode=prefer", "falls back to an unencrypted"),
        ("postgresql://desk@db.office.example/pd?sslmode=allow", "falls back to an unencrypted"),
        ("postgresql://desk@db.office.example/pd?sslmode=sometimes", "unknown sslmode"),
        ("postgresql://desk@db.office.example/", "names no database"),
        ("mysql://desk@db.office.example/pd", "is PostgreSQL"),
        ("postgresql://desk@db.office.example/pd\x00", "control characters"),
    ],
)
def test_office_urls_parsdesk_will_not_use_say_why(url, message):
    with pytest.raises(OfficeDatabaseError, match=message):
        parse_office_url(url)


def test_a_remote_office_database_gets_tls_unless_turned_off_explicitly():
    assert parse_office_url("postgresql://desk@db.office.example/pd").url.query["sslmode"] == "require"
    assert parse_office_url("postgresql://desk@db.office.example/pd?sslmode=verify-full").url.query["sslmode"] == "verify-full"
    assert parse_office_url("postgresql://desk@db.office.example/pd?sslmode=disable").url.query["sslmode"] == "disable"
    assert "sslmode" not in parse_office_url("postgresql://desk@localhost/pd").url.query
    assert "sslmode" not in parse_office_url("postgresql://desk@127.0.0.1:5433/pd").url.query


def test_tls_required_against_a_server_without_tls_fails_to_connect_rather_than_going_plain(postgres_server, postgres_url):
    url = postgres_url + "?sslmode=require"
    with pytest.raises(StoreError, match="SSL"):
        Store.open(url)


def test_the_password_comes_from_the_keyring_and_never_from_the_url(postgres_server, postgres_url):
    postgres_server.create_role("desk_one", "s3cret pass'word", postgres_url)
    desk_url = postgres_url.replace("parsdesk_admin@", "desk_one@")
    office = parse_office_url(desk_url)
    with pytest.raises(StoreError, match="password authentication failed|no password supplied"):
        Store.open(desk_url)
    save_password(office, "s3cret pass'word")
    assert load_password(office) == "s3cret pass'word"
    store = Store.open(desk_url)
    try:
        store.set_meta("desk", "one")
        assert "s3cret" not in store.location and "s3cret" not in repr(store.engine.url)
    finally:
        store.close()


def test_meta_merge_works_on_both_engines(any_store):
    any_store.set_meta("provider_id", "1234567")
    any_store.set_meta("provider_id", "7654321")
    with any_store.session() as session:
        assert session.get(Meta, "provider_id").value == "7654321"


def test_ids_given_in_a_bulk_load_do_not_collide_with_the_next_insert(any_store):
    from learner_support import add_activity, bulk_load

    activity = add_activity(any_store)
    bulk_load(any_store, [activity], 10)
    with any_store.transaction() as session:
        session.add(Meta(key="after", value="bulk"))
    # an ORM insert after the bulk load gets a fresh id on both engines
    later = add_activity(any_store, accme_id="987654321", title="Later")
    assert later > activity
    from learner_support import completion, store_record

    assert store_record(any_store, later, completion("Late", "Comer", license_id="LC1")) > 10


def _write_in_another_process(url: str) -> None:
    import subprocess
    import sys
    from pathlib import Path

    script = f"from app.models import Store\nstore = Store.open({url!r})\nstore.set_meta('elsewhere', 'yes')\nstore.close()\n"
    subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parent.parent, check=True, timeout=60)


def test_the_office_feed_hears_other_processes_writes_and_not_its_own(postgres_url):
    from app.models.pg_notify import notify_feed

    store = Store.open(postgres_url)
    feed = notify_feed(store.office)
    try:
        assert feed.listening and feed.poll() is False
        store.set_meta("here", "yes")  # this process: its views already know
        assert feed.poll() is False
        _write_in_another_process(postgres_url)
        assert feed.poll() is True
        assert feed.poll() is False  # reported once
        with store.session() as session:  # a read-only unit of work notifies nobody
            session.get(Meta, "here")
        assert feed.poll() is False
    finally:
        feed.close()
        store.close()


def test_the_office_feed_reconnects_after_losing_its_connection_and_reports_a_change(postgres_server, postgres_url):
    from app.models.pg_notify import notify_feed

    store = Store.open(postgres_url)
    feed = notify_feed(store.office)
    try:
        database = postgres_url.rsplit("/", 1)[1]
        postgres_server.admin_execute(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}' "
            "AND query LIKE 'LISTEN%' OR (datname = '{database}' AND query = 'SELECT 1')".replace("{database}", database)
        )
        assert feed.poll() is False and not feed.listening  # the loss is noticed
        assert feed.poll() is True and feed.listening  # back: changes made meanwhile may be missed
        _write_in_another_process(postgres_url)
        assert feed.poll() is True
    finally:
        feed.close()
        store.close()


def test_the_roles_and_permissions_of_docs_office_md_let_a_desk_work_but_not_change_the_schema(
    postgres_server, tmp_path
):
    """The SQL in docs/office.md, run as written (role names made unique): the owner creates the
    schema on first use, a coordinator's role reads and writes rows and cannot create tables."""
    import re
    from pathlib import Path

    from app.models.office_db import save_password

    doc = (Path(__file__).resolve().parent.parent / "docs" / "office.md").read_text()
    sql = doc.split("```sql", 1)[1].split("```", 1)[0]
    suffix = f"_{postgres_server.port}"
    renamed = re.sub(r"\b(parsdesk_owner|parsdesk_desk|ada|grace|parsdesk)\b", lambda m: m.group(1) + suffix, sql)
    renamed = renamed.replace("'choose-one'", "'pw-one'")
    database = f"parsdesk{suffix}"
    statements = [line.strip() for line in re.sub(r"--[^\n]*", "", renamed).split(";") if line.strip()]
    try:
        connect_at = statements.index(next(s for s in statements if s.startswith("\\c")))
        before = statements[:connect_at]
        after = [statements[connect_at].split("\n", 1)[1].strip()] + statements[connect_at + 1:]
        postgres_server.admin_execute(*before)
        postgres_server.admin_execute(*after, database=database)
        owner_url = postgres_server.url(database, role=f"parsdesk_owner{suffix}")
        desk_url = postgres_server.url(database, role=f"ada{suffix}")
        save_password(parse_office_url(owner_url), "pw-one")
        save_password(parse_office_url(desk_url), "pw-one")
        Store.open(owner_url).close()  # first use, as the owner: the schema
        desk = Store.open(desk_url)
        try:
            from learner_support import completion, recent_activity, store_record

            activity = recent_activity(desk)
            assert store_record(desk, activity, completion()) > 0
            # a Batch Upload as the desk: COPY and the sequences' nextval are within its rights
            from batch_support import AS_OF, add_activity, row, write_xlsx

            from app.pars.batch import load_batch
            from app.services.batch_import import analyse, commit

            from app.models.schema import ActivityRow

            with desk.transaction() as session:  # the upload's activity has the same ACCME ID: move this one
                session.get(ActivityRow, activity).accme_id = "987654321"
            add_activity(desk)
            path = write_xlsx(tmp_path / "desk-upload.xlsx", [row(n) for n in range(1, 21)])
            with desk.session() as session:
                analysis = analyse(session, load_batch(path), AS_OF)
            with desk.transaction() as session:
                assert commit(session, analysis, path.name, attested_by="ada", actor="ada").queued == 20
            # and a delete file: its bulk update goes through a temporary table (TEMPORARY is kept)
            deletes = write_xlsx(tmp_path / "desk-deletes.xlsx",
                                 [row(n, Record_Action="Delete") for n in range(1, 21)])
            with desk.session() as session:
                analysis = analyse(session, load_batch(deletes), AS_OF)
            with desk.transaction() as session:
                assert commit(session, analysis, deletes.name, attested_by="ada", actor="ada").deletes == 20
            with pytest.raises(Exception, match="permission denied"):
                with desk.engine.begin() as connection:
                    connection.execute(text("CREATE TABLE sneaky (id integer)"))
        finally:
            desk.close()
    finally:
        postgres_server.admin_execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        for role in ("ada", "grace", "parsdesk_desk", "parsdesk_owner"):
            postgres_server.admin_execute(f'DROP ROLE IF EXISTS "{role}{suffix}"')
