"""The Settings dialog: PARS environment and credentials, local sandbox, the office database, data
folder, coordinator name, sync interval.

Passwords go to the OS keyring through `app.pars.credentials.save_credentials` (or to its documented
file fallback when PARSDESK_KEYRING=file); the dialog says which one is in use. Everything else is
saved in `AppSettings` (QSettings). The data folder, the office database and the sandbox's board delay
are read at start-up, so the dialog lists them in `restart_needed` when they changed.

"Office database" takes the PostgreSQL URL every coordinator's ParsDesk shares (docs/office.md); its
password goes to the keyring through `app.models.office_db.save_password`, never into the settings.
"Test connection" connects in a background thread and says what ParsDesk would do with the database.
"""

from __future__ import annotations

import os
import threading

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.models.office_db import OfficeDatabaseError, load_password, parse_office_url, save_password
from app.models.store import probe_office_database
from app.pars.credentials import CredentialStoreError, Credentials, keyring_available, load_credentials, save_credentials
from app.pars.environments import EnvironmentConfigError, environment as load_environment
from app.paths import data_dir
from app.services import records
from app.ui.context import AppContext
from app.ui.settings import (
    ENVIRONMENT_LABELS,
    ROUTE_UPLOAD_FILES,
    ROUTE_WEB_SERVICES,
    environment_label,
    hidden_characters,
    os_user_name,
)

NOTE_STYLE = "color: #555555;"
WARNING_STYLE = "color: #8a5300;"


def password_storage_note() -> tuple[str, bool]:
    """Where a saved password goes, in a sentence, and whether that is a fallback to warn about."""
    if os.environ.get("PARSDESK_KEYRING", "").strip().lower() == "file":
        return (
            "No system keyring in use: passwords are kept in secrets.json in the ParsDesk data folder, "
            "readable only by you (plain text on disk, protected by file permissions only).",
            True,
        )
    if not keyring_available():
        return (
            "No system keyring is available, so a password cannot be saved here. Start ParsDesk with "
            "PARSDESK_PASSWORD set, or with PARSDESK_KEYRING=file to keep it in a file only you can read.",
            True,
        )
    import keyring

    return f"Passwords are kept in the system keyring ({type(keyring.get_keyring()).__name__}).", False


class _ConnectionTest(QObject):
    """Runs probe_office_database off the GUI thread (a connect may take up to its 10 s timeout)."""

    finished = Signal(bool, str)

    def start(self, url: str, password: str | None) -> None:
        def run() -> None:
            try:
                result = probe_office_database(url, password)
                ok, message = result.ok, result.message
            except Exception as exc:  # noqa: BLE001 - reported to the user, not raised in a bare thread
                ok, message = False, f"The test failed: {type(exc).__name__}"
            try:
                self.finished.emit(ok, message)  # queued to the GUI thread
            except RuntimeError:
                pass  # the dialog was closed meanwhile: nobody is waiting for the answer

        threading.Thread(target=run, name="office-db-test", daemon=True).start()


class SettingsDialog(QDialog):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.restart_needed: list[str] = []
        self.setWindowTitle("Settings")
        self.setObjectName("settingsDialog")
        self.resize(680, 820)  # room for every group's notes without clipping
        settings = ctx.settings

        self.environment_combo = QComboBox(self)
        for name, label in ENVIRONMENT_LABELS.items():
            self.environment_combo.addItem(label, name)
        self.environment_note = QLabel(self)
        self.environment_note.setWordWrap(True)
        self.provider_edit = QLineEdit(self)
        self.provider_edit.setPlaceholderText("7-digit ACCME provider ID")
        self.provider_edit.setMaxLength(7)
        self.user_edit = QLineEdit(self)
        self.password_edit = QLineEdit(self)
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_note = QLabel(self)
        self.password_note.setWordWrap(True)
        note, fallback = password_storage_note()
        self.password_note.setText(note)
        self.password_note.setStyleSheet(WARNING_STYLE if fallback else NOTE_STYLE)

        self.route_combo = QComboBox(self)
        self.route_combo.setObjectName("routeCombo")
        self.route_combo.addItem("Web services (ParsDesk syncs with PARS)", ROUTE_WEB_SERVICES)
        self.route_combo.addItem("Upload files on the PARS website", ROUTE_UPLOAD_FILES)
        self.route_combo.setToolTip(
            "ACCME issues web-service credentials only on request. Without them, ParsDesk gathers queued "
            "records into PARS upload files (Batch Upload → Prepare upload for PARS) and takes PARS's "
            "rejection workbook back in."
        )
        pars_box = QGroupBox("PARS", self)
        pars_form = QFormLayout(pars_box)
        pars_form.addRow("Environment:", self.environment_combo)
        pars_form.addRow("", self.environment_note)
        pars_form.addRow("This office reaches PARS by:", self.route_combo)
        pars_form.addRow("Provider ID:", self.provider_edit)
        pars_form.addRow("User:", self.user_edit)
        pars_form.addRow("Password:", self.password_edit)
        pars_form.addRow("", self.password_note)

        self.board_delay_spin = QDoubleSpinBox(self)
        self.board_delay_spin.setRange(0, 3600)
        self.board_delay_spin.setDecimals(1)
        self.board_delay_spin.setSuffix(" s")
        self.board_delay_spin.setToolTip("How long the built-in sandbox's boards take before accepting or rejecting")
        sandbox_box = QGroupBox("Local sandbox", self)
        sandbox_form = QFormLayout(sandbox_box)
        sandbox_form.addRow("Board answer delay:", self.board_delay_spin)

        self.data_folder_edit = QLineEdit(self)
        self.data_folder_edit.setPlaceholderText(str(data_dir()))
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse_data_folder)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.data_folder_edit, 1)
        folder_row.addWidget(browse)
        folder_note = QLabel(
            f"The store is parsdesk.sqlite3 in this folder. Takes effect when ParsDesk is started again.\n"
            f"In use now: {ctx.store.location}",
            self,
        )
        folder_note.setWordWrap(True)
        folder_note.setStyleSheet(NOTE_STYLE)
        self.coordinator_edit = QLineEdit(self)
        self.coordinator_edit.setMaxLength(200)
        self.coordinator_edit.setPlaceholderText(os_user_name())
        self.coordinator_edit.setToolTip("Every change made at this desk carries this name in the records' history")
        self.sync_interval_spin = QSpinBox(self)
        self.sync_interval_spin.setRange(0, 24 * 3600)
        self.sync_interval_spin.setSingleStep(30)
        self.sync_interval_spin.setSuffix(" s")
        self.sync_interval_spin.setSpecialValueText("only when asked (F5)")
        app_box = QGroupBox("This computer", self)
        app_form = QFormLayout(app_box)
        app_form.addRow("Data folder:", folder_row)
        app_form.addRow("", folder_note)
        app_form.addRow("Coordinator name:", self.coordinator_edit)
        app_form.addRow("Background sync every:", self.sync_interval_spin)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        layout = QVBoxLayout(self)
        layout.addWidget(pars_box)
        layout.addWidget(sandbox_box)
        layout.addWidget(self._office_box(ctx))
        layout.addWidget(app_box)
        layout.addStretch(1)
        layout.addWidget(buttons)

        self._routes: dict[str, str] = {}  # choices made in this dialog, per environment
        self.route_combo.currentIndexChanged.connect(
            lambda _i: self._routes.__setitem__(self.selected_environment(), str(self.route_combo.currentData()))
        )
        self.environment_combo.setCurrentIndex(max(0, self.environment_combo.findData(ctx.environment)))
        self.board_delay_spin.setValue(settings.board_delay_s)
        self.data_folder_edit.setText(settings.data_folder)
        self.coordinator_edit.setText(settings.coordinator)
        self.office_url_edit.setText(settings.office_database)
        self._office_url_changed()
        self.sync_interval_spin.setValue(settings.sync_interval_s)
        self._load_account(ctx.environment)
        self.environment_combo.currentIndexChanged.connect(lambda _i: self._environment_changed())
        self._environment_changed()

    # --- helpers ---------------------------------------------------------------------------------
    def selected_environment(self) -> str:
        return str(self.environment_combo.currentData())

    def _load_account(self, environment: str) -> None:
        try:
            creds = load_credentials(environment)
        except CredentialStoreError:
            creds = None
        if creds is not None and environment != "local":
            self.provider_edit.setText(creds.provider_id)
            self.user_edit.setText(creds.user)
        elif environment == self.ctx.settings.environment:
            self.provider_edit.setText(self.ctx.settings.provider_id)
            self.user_edit.setText(self.ctx.settings.user)
        self.password_edit.clear()
        self.password_edit.setPlaceholderText("saved — leave empty to keep it" if creds is not None else "")

    def _environment_changed(self) -> None:
        name = self.selected_environment()
        self.board_delay_spin.setEnabled(name == "local")
        self.route_combo.setCurrentIndex(max(0, self.route_combo.findData(self._routes.get(name, self.ctx.settings.route(name)))))
        self._load_account(name)
        if name == "local":
            text, style = ("The sandbox built into ParsDesk, on this computer. Nothing leaves the machine; "
                           "credentials are optional (the sandbox's demo ones are used)."), NOTE_STYLE
        else:
            try:
                env = load_environment(name)
            except EnvironmentConfigError as exc:
                text, style = str(exc), WARNING_STYLE
            else:
                if env.placeholder:
                    text = (f"{env.base_url} is a placeholder: fill in ACCME's host and paths for this environment "
                            "(document 715) in environments.toml in the ParsDesk data folder before syncing.")
                    style = WARNING_STYLE
                elif name == "accme-production":
                    text, style = f"Records are sent to ACCME's production PARS at {env.base_url}.", WARNING_STYLE
                else:
                    text, style = f"ACCME's test PARS at {env.base_url}.", NOTE_STYLE
        self.environment_note.setText(text)
        self.environment_note.setStyleSheet(style)

    def _office_box(self, ctx: AppContext) -> QGroupBox:
        box = QGroupBox("Office database", self)
        form = QFormLayout(box)
        self.office_url_edit = QLineEdit(self)
        self.office_url_edit.setObjectName("officeDatabaseUrl")
        self.office_url_edit.setMaxLength(2000)
        self.office_url_edit.setPlaceholderText("postgresql://role@host/database — empty: this computer's own store")
        self.office_password_edit = QLineEdit(self)
        self.office_password_edit.setObjectName("officeDatabasePassword")
        self.office_password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.test_connection_button = QPushButton("Test connection", self)
        self.test_connection_button.clicked.connect(self.test_connection)
        self.office_result = QLabel(self)
        self.office_result.setObjectName("officeDatabaseResult")
        self.office_result.setWordWrap(True)
        in_use = f"In use now: {ctx.store.location}" if ctx.store.is_office else "In use now: this computer's own store"
        note = QLabel(
            "Shared by every coordinator's ParsDesk (docs/office.md). TLS is required off this computer; "
            f"the password is kept in the keyring. Takes effect at the next start. {in_use}.",
            self,
        )
        note.setWordWrap(True)
        note.setStyleSheet(NOTE_STYLE)
        password_row = QHBoxLayout()
        password_row.addWidget(self.office_password_edit, 1)
        password_row.addWidget(self.test_connection_button)
        form.addRow("Database URL:", self.office_url_edit)
        form.addRow("Password:", password_row)
        form.addRow("", self.office_result)
        form.addRow("", note)
        self._connection_test = _ConnectionTest(self)
        self._connection_test.finished.connect(self._connection_tested)
        self.office_url_edit.textChanged.connect(lambda _text: self._office_url_changed())
        return box

    def _office_url_changed(self) -> None:
        url = self.office_url_edit.text().strip()
        saved = False
        if url:
            try:
                saved = load_password(parse_office_url(url)) is not None
            except (OfficeDatabaseError, CredentialStoreError):
                saved = False
        self.office_password_edit.setPlaceholderText("saved — leave empty to keep it" if saved else "")
        self.office_password_edit.setEnabled(bool(url))
        self.test_connection_button.setEnabled(bool(url))
        self.office_result.clear()

    def test_connection(self) -> None:
        """Connect with the URL and password as typed (nothing is saved) and say what was found."""
        self.test_connection_button.setEnabled(False)
        self.office_result.setStyleSheet(NOTE_STYLE)
        self.office_result.setText("Connecting…")
        self._connection_test.start(self.office_url_edit.text().strip(), self.office_password_edit.text() or None)

    def _connection_tested(self, ok: bool, message: str) -> None:
        self.test_connection_button.setEnabled(bool(self.office_url_edit.text().strip()))
        self.office_result.setStyleSheet(NOTE_STYLE if ok else WARNING_STYLE)
        self.office_result.setText(("✔ " if ok else "✘ ") + message)

    def _save_office_database(self) -> str | None:
        """Check the URL and keep its password; the URL to save, or None (dialog stays open)."""
        url = self.office_url_edit.text().strip()
        if not url:
            return ""
        try:
            office = parse_office_url(url)
        except OfficeDatabaseError as exc:
            QMessageBox.warning(self, "Settings", f"The office database URL cannot be used.\n\n{exc}")
            return None
        password = self.office_password_edit.text()
        if password:
            try:
                save_password(office, password)
            except CredentialStoreError as exc:
                QMessageBox.warning(self, "Settings", f"The office database password was not saved.\n\n{exc}")
                return None
        return office.display

    def _browse_data_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Data folder", self.data_folder_edit.text() or str(data_dir()))
        if folder:
            self.data_folder_edit.setText(folder)

    # --- saving ----------------------------------------------------------------------------------
    def accept(self) -> None:
        environment = self.selected_environment()
        provider_id = self.provider_edit.text().strip()
        user = self.user_edit.text().strip()
        password = self.password_edit.text()
        if provider_id and not (provider_id.isdigit() and len(provider_id) == 7):
            QMessageBox.warning(self, "Settings", f"Provider ID {provider_id!r} is not ACCME's 7-digit provider ID.")
            return
        if not self._save_password(environment, provider_id, user, password):
            return
        coordinator = self.coordinator_edit.text().strip()
        if hidden_characters(coordinator):
            QMessageBox.warning(self, "Settings", "The coordinator name holds control, bidi or zero-width characters; type it plainly.")
            return
        office_database = self._save_office_database()
        if office_database is None:
            return

        old = self.ctx.settings
        if office_database != old.office_database:
            self.restart_needed.append("the office database")
        if self.data_folder_edit.text().strip() != old.data_folder:
            self.restart_needed.append("the data folder (where the store is kept)")
        if environment == "local" and self.board_delay_spin.value() != old.board_delay_s:
            self.restart_needed.append("the local sandbox's board answer delay")
        if environment == "local" and self.ctx.sandbox is None and self.ctx.environment != "local":
            self.restart_needed.append("switching to the local sandbox (it starts with ParsDesk)")
        demo_stays_local = self.ctx.demo and environment != "local"
        if demo_stays_local:
            self.restart_needed.append(
                f"connecting to {environment_label(environment)}: this store holds demo data, which never "
                "leaves the built-in sandbox; choose another data folder for your real records"
            )

        old.environment = environment
        old.provider_id = provider_id
        old.user = user
        old.board_delay_s = self.board_delay_spin.value()
        old.data_folder = self.data_folder_edit.text().strip()
        old.sync_interval_s = self.sync_interval_spin.value()
        old.office_database = office_database
        old.coordinator = coordinator
        for name, route in self._routes.items():
            old.set_route(name, route)
        old.configured = True
        old.save()
        if provider_id:
            self.ctx.write(records.set_provider_id, provider_id)
        if not demo_stays_local and (environment != "local" or self.ctx.sandbox is not None):
            self.ctx.environment = environment  # the next sync and fetch use it
        self.ctx.actor = old.coordinator_name()
        super().accept()

    def _save_password(self, environment: str, provider_id: str, user: str, password: str) -> bool:
        """Keep the credentials; False (dialog stays open) when they cannot be kept."""
        if not password:
            if environment != "local" and (provider_id or user):
                try:
                    existing = load_credentials(environment)
                except CredentialStoreError:
                    existing = None
                if existing is not None and (existing.provider_id, existing.user) != (provider_id, user) and user:
                    # same password, new provider ID or user name
                    password = existing.password
            if not password:
                return True
        if not (provider_id and user):
            QMessageBox.warning(self, "Settings", "Enter the provider ID and the user that go with the password.")
            return False
        try:
            save_credentials(environment, Credentials(provider_id=provider_id, user=user, password=password))
        except CredentialStoreError as exc:
            QMessageBox.warning(self, "Settings", f"The password was not saved.\n\n{exc}")
            return False
        return True
