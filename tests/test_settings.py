"""Typed settings on QSettings and the Settings dialog (password through the keyring fallback file)."""

from __future__ import annotations

import stat

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox

from app.pars.credentials import load_credentials
from app.services import records
from app.ui.settings import SETTINGS_VERSION, AppSettings, WindowState, open_qsettings
from app.ui.settings_dialog import SettingsDialog
from tests.ui_support import make_context, when_modal_opens


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("PARSDESK_SETTINGS_DIR", str(tmp_path / "settings"))
    monkeypatch.setenv("PARSDESK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PARSDESK_KEYRING", "file")


def test_settings_live_in_the_isolated_ini_file(tmp_path):
    qs = open_qsettings()
    assert qs.format() == QSettings.Format.IniFormat
    assert qs.fileName() == str(tmp_path / "settings" / "ParsDesk.ini")


def test_settings_round_trip_with_types_kept():
    AppSettings(environment="accme-sandbox", provider_id="7654321", user="coord", board_delay_s=2.5,
                data_folder="/srv/parsdesk", sync_interval_s=120, configured=True).save()
    loaded = AppSettings.load()
    assert loaded == AppSettings(environment="accme-sandbox", provider_id="7654321", user="coord",
                                 board_delay_s=2.5, data_folder="/srv/parsdesk", sync_interval_s=120,
                                 configured=True)
    assert isinstance(loaded.sync_interval_s, int) and isinstance(loaded.configured, bool)
    assert open_qsettings().value("version") in (SETTINGS_VERSION, str(SETTINGS_VERSION))


def test_first_start_has_defaults_and_is_not_configured():
    loaded = AppSettings.load()
    assert loaded.environment == "local" and not loaded.configured and loaded.db_path() is None


def test_version_1_board_delay_in_milliseconds_is_migrated():
    qs = open_qsettings()
    qs.setValue("version", 1)
    qs.setValue("settings/board_delay", 1500)
    qs.sync()
    assert AppSettings.load().board_delay_s == 1.5
    assert not open_qsettings().contains("settings/board_delay")


def test_unknown_environment_falls_back_to_local():
    qs = open_qsettings()
    qs.setValue("settings/environment", "staging")
    assert AppSettings.load().environment == "local"


def test_window_state_keeps_tab_and_header_bytes():
    state = WindowState()
    state.set_current_tab(2)
    from PySide6.QtCore import QByteArray

    state.set_header_state("activitiesTable", QByteArray(b"\x00\x01header"))
    state.sync()
    again = WindowState()
    assert again.current_tab() == 2
    assert bytes(again.header_state("activitiesTable")) == b"\x00\x01header"
    assert again.header_state("otherTable") is None


def test_dialog_saves_settings_and_the_password_through_the_fallback(qtbot, store, tmp_path):
    ctx = make_context(store)
    dialog = SettingsDialog(ctx)
    qtbot.addWidget(dialog)
    assert "secrets.json" in dialog.password_note.text()  # the file fallback is named, not hidden

    dialog.environment_combo.setCurrentIndex(dialog.environment_combo.findData("accme-sandbox"))
    assert "placeholder" in dialog.environment_note.text()
    assert not dialog.board_delay_spin.isEnabled()
    qtbot.keyClicks(dialog.provider_edit, "7654321")
    qtbot.keyClicks(dialog.user_edit, "coordinator1")
    qtbot.keyClicks(dialog.password_edit, "s3cret-pass")
    dialog.sync_interval_spin.setValue(90)
    QTest.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)

    assert dialog.result() == SettingsDialog.DialogCode.Accepted
    loaded = AppSettings.load()
    assert (loaded.environment, loaded.provider_id, loaded.user, loaded.sync_interval_s, loaded.configured) == (
        "accme-sandbox", "7654321", "coordinator1", 90, True)
    creds = load_credentials("accme-sandbox")
    assert creds is not None and (creds.provider_id, creds.user, creds.password) == (
        "7654321", "coordinator1", "s3cret-pass")
    secrets = tmp_path / "data" / "secrets.json"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    assert "s3cret-pass" not in (tmp_path / "settings" / "ParsDesk.ini").read_text()
    assert ctx.environment == "accme-sandbox"
    with store.session() as session:
        assert records.provider_id(session) == "7654321"

    # reopened: the account is filled in, the password is not shown but kept
    again = SettingsDialog(ctx)
    qtbot.addWidget(again)
    assert again.selected_environment() == "accme-sandbox"
    assert again.provider_edit.text() == "7654321" and again.user_edit.text() == "coordinator1"
    assert again.password_edit.text() == "" and "saved" in again.password_edit.placeholderText()
    again.accept()
    assert load_credentials("accme-sandbox").password == "s3cret-pass"


def test_data_folder_and_board_delay_changes_need_a_restart(qtbot, store, tmp_path):
    dialog = SettingsDialog(make_context(store))
    qtbot.addWidget(dialog)
    dialog.data_folder_edit.setText(str(tmp_path / "elsewhere"))
    dialog.board_delay_spin.setValue(12)
    dialog.accept()
    assert len(dialog.restart_needed) == 2
    loaded = AppSettings.load()
    assert loaded.db_path() == tmp_path / "elsewhere" / "parsdesk.sqlite3"
    assert loaded.board_delay_s == 12


def test_a_bad_provider_id_keeps_the_dialog_open(qtbot, store):
    dialog = SettingsDialog(make_context(store))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.provider_edit, "12ab")
    seen: list[str] = []
    failures: list[BaseException] = []

    def read_and_close(box):
        assert isinstance(box, QMessageBox)
        seen.append(box.text())
        box.accept()

    when_modal_opens(qtbot, read_and_close, failures)
    dialog.accept()
    assert not failures
    assert seen and "not ACCME's 7-digit provider ID" in seen[0]
    assert dialog.isVisible()
    assert not AppSettings.load().configured


def test_a_demo_store_never_switches_to_an_accme_environment(qtbot, store):
    ctx = make_context(store, demo=True)
    dialog = SettingsDialog(ctx)
    qtbot.addWidget(dialog)
    dialog.environment_combo.setCurrentIndex(dialog.environment_combo.findData("accme-production"))
    dialog.accept()
    assert ctx.environment == "local"
    assert any("demo data" in item for item in dialog.restart_needed)
    assert AppSettings.load().environment == "accme-production"  # used for the next, non-demo store


def test_a_demo_store_opened_for_an_accme_environment_stays_on_the_sandbox(tmp_path):
    from app.commands.gui import DEMO_NOTICE, open_session

    path = tmp_path / "demo.sqlite3"
    open_session(path, "local", AppSettings(board_delay_s=0.0)).close()
    session = open_session(path, "accme-production", AppSettings(board_delay_s=0.0))
    try:
        assert session.ctx.environment == "local" and session.sandbox is not None
        assert session.notice == DEMO_NOTICE
    finally:
        session.close()


def test_without_a_keyring_the_dialog_says_so_and_keeps_the_password_unsaved(qtbot, store, monkeypatch):
    import app.pars.credentials as credentials
    import app.ui.settings_dialog as settings_dialog

    monkeypatch.delenv("PARSDESK_KEYRING")
    monkeypatch.setattr(settings_dialog, "keyring_available", lambda: False)
    monkeypatch.setattr(credentials, "keyring_available", lambda: False)
    dialog = SettingsDialog(make_context(store))
    qtbot.addWidget(dialog)
    dialog.show()
    assert "No system keyring is available" in dialog.password_note.text()
    assert "PARSDESK_KEYRING=file" in dialog.password_note.text()

    dialog.environment_combo.setCurrentIndex(dialog.environment_combo.findData("accme-sandbox"))
    qtbot.keyClicks(dialog.provider_edit, "7654321")
    qtbot.keyClicks(dialog.user_edit, "coordinator1")
    qtbot.keyClicks(dialog.password_edit, "s3cret-pass")
    seen: list[str] = []
    failures: list[BaseException] = []

    def read_and_close(box):
        seen.append(box.text())
        box.accept()

    when_modal_opens(qtbot, read_and_close, failures)
    dialog.accept()
    assert not failures
    assert seen and "The password was not saved" in seen[0] and "keyring" in seen[0]
    assert dialog.isVisible()  # nothing half-saved: the user can fix it or cancel
    assert not AppSettings.load().configured


def test_office_database_test_connection_says_what_it_found_and_saving_keeps_the_password_in_the_keyring(
    qtbot, store, tmp_path, postgres_server, postgres_url
):
    from app.commands.gui import resolve_db_path
    from app.models import Store
    from app.models.office_db import load_password, parse_office_url

    postgres_server.create_role("desk_two", "office-pass", postgres_url)
    desk_url = postgres_url.replace("postgresql+psycopg://parsdesk_admin@", "postgresql://desk_two@")
    dialog = SettingsDialog(make_context(store))
    qtbot.addWidget(dialog)
    assert not dialog.test_connection_button.isEnabled()  # nothing to test without a URL
    qtbot.keyClicks(dialog.office_url_edit, desk_url)

    qtbot.keyClicks(dialog.office_password_edit, "wrong")
    QTest.mouseClick(dialog.test_connection_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.office_result.text().startswith("✘"), timeout=15_000)
    assert "password authentication failed" in dialog.office_result.text()

    dialog.office_password_edit.clear()
    qtbot.keyClicks(dialog.office_password_edit, "office-pass")
    QTest.mouseClick(dialog.test_connection_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.office_result.text().startswith("✔"), timeout=15_000)
    assert "empty: ParsDesk sets it up on first use" in dialog.office_result.text()
    assert load_password(parse_office_url(desk_url)) is None  # testing saves nothing

    qtbot.keyClicks(dialog.coordinator_edit, "Ada at desk 2")
    dialog.accept()
    assert dialog.result() == SettingsDialog.DialogCode.Accepted
    assert "the office database" in dialog.restart_needed
    loaded = AppSettings.load()
    assert loaded.office_database == desk_url and loaded.coordinator == "Ada at desk 2"
    assert "office-pass" not in (tmp_path / "settings" / "ParsDesk.ini").read_text()
    assert load_password(parse_office_url(desk_url)) == "office-pass"
    assert dialog.ctx.actor == "Ada at desk 2"

    # the next start opens the office database, with the password from the keyring
    location = resolve_db_path(None, loaded)
    assert location == desk_url
    office_store = Store.open(location)
    try:
        assert office_store.is_office
    finally:
        office_store.close()


def test_an_office_database_url_with_a_password_is_refused_and_nothing_saved(qtbot, store, monkeypatch):
    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _parent, _title, text, *a, **k: warnings.append(text))
    dialog = SettingsDialog(make_context(store))
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.office_url_edit, "postgresql://desk:hunter2@db.office.example/parsdesk")
    dialog.accept()
    assert dialog.result() != SettingsDialog.DialogCode.Accepted
    assert warnings and "holds a password" in warnings[0]
    assert AppSettings.load().office_database == ""


def test_a_coordinator_name_with_hidden_characters_is_refused(qtbot, store, monkeypatch):
    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _parent, _title, text, *a, **k: warnings.append(text))
    dialog = SettingsDialog(make_context(store))
    qtbot.addWidget(dialog)
    dialog.coordinator_edit.setText("Ada\u202eevil")
    dialog.accept()
    assert dialog.result() != SettingsDialog.DialogCode.Accepted and "bidi" in warnings[0]


def test_the_coordinator_name_defaults_to_the_os_user(monkeypatch):
    monkeypatch.setenv("USER", "frontdesk")
    monkeypatch.setenv("LOGNAME", "frontdesk")
    assert AppSettings().coordinator_name() == "frontdesk"
    assert AppSettings(coordinator=" Grace ").coordinator_name() == "Grace"


def test_how_the_office_reaches_pars_is_chosen_per_environment(qtbot, store):
    ctx = make_context(store)
    dialog = SettingsDialog(ctx)
    qtbot.addWidget(dialog)
    assert dialog.route_combo.currentData() == "web-services"  # the default
    dialog.environment_combo.setCurrentIndex(dialog.environment_combo.findData("accme-production"))
    dialog.route_combo.setCurrentIndex(dialog.route_combo.findData("upload-files"))
    dialog.environment_combo.setCurrentIndex(dialog.environment_combo.findData("accme-sandbox"))
    assert dialog.route_combo.currentData() == "web-services"  # each environment has its own
    dialog.environment_combo.setCurrentIndex(dialog.environment_combo.findData("accme-production"))
    assert dialog.route_combo.currentData() == "upload-files"
    QTest.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)

    loaded = AppSettings.load()
    assert loaded.route("accme-production") == "upload-files"
    assert loaded.route("accme-sandbox") == loaded.route("local") == "web-services"
    again = SettingsDialog(ctx)
    qtbot.addWidget(again)
    assert again.selected_environment() == "accme-production" and again.route_combo.currentData() == "upload-files"
