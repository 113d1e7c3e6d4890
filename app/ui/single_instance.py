"""One ParsDesk window per store: a second start on the same store brings the running one forward.

Two windows on one store would each keep their own counts and selections, and a coordinator could
act on stale rows. Starting ParsDesk again on the same store therefore only asks the running app to
come to the front, then exits.

    guard = InstanceGuard(store_location)       # the resolved store path or the database URL
    if not guard.claim():                       # another ParsDesk has this store open
        guard.activate_running()
        return
    guard.activation_requested.connect(window.bring_to_front)

The running app is found by a lock file and a local socket, both named from a hash of the store's
location and the user. The lock file decides which app is first. QLockFile takes over the lock of a
process that no longer runs, so a crash never blocks the next start. The socket only carries the
"come to the front" request. The first app removes a socket file a crashed app left behind before it
listens, and the socket accepts the same user only.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
import os
import tempfile
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)

_ACTIVATE = b"activate\n"
_CONNECT_MS = 2_000


def instance_key(store_location: str) -> str:
    """A name for this user's ParsDesk on this store, safe as a file and socket name."""
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in the environment: the location alone still separates stores
        user = ""
    digest = hashlib.sha256(f"{user}\0{store_location}".encode()).hexdigest()[:32]
    return f"parsdesk-{digest}"


def _lock_folder() -> Path:
    # the user's runtime folder where the platform has one (owner-only on Linux), else the temp folder
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    return Path(runtime) if runtime and Path(runtime).is_dir() else Path(tempfile.gettempdir())


class InstanceGuard(QObject):
    """Claims a store for this process, or reaches the process that has it."""

    activation_requested = Signal()  # another start on this store asked this window to come forward

    def __init__(self, store_location: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.key = instance_key(store_location)
        self.lock_path = _lock_folder() / f"{self.key}.lock"
        self._lock = QLockFile(str(self.lock_path))
        self._lock.setStaleLockTime(0)  # never stale by age: only when its process is gone
        self._server: QLocalServer | None = None

    def claim(self) -> bool:
        """True when this process is now the store's only ParsDesk (it then answers later starts)."""
        if not self._lock.tryLock(0):
            return False
        QLocalServer.removeServer(self.key)  # a socket file left behind by a crashed ParsDesk
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.key):
            # the lock still makes this the only instance; later starts just cannot bring it forward
            log.warning("single instance: cannot listen for later starts (%s)", server.errorString())
            return True
        server.newConnection.connect(self._connected)
        self._server = server
        return True

    def _connected(self) -> None:
        server = self._server
        while server is not None and server.hasPendingConnections():
            socket = server.nextPendingConnection()  # a child of the server until it is read
            socket.readyRead.connect(self._ready)
            if socket.bytesAvailable() >= len(_ACTIVATE):  # arrived before we listened for it
                self._answer(socket)

    def _ready(self) -> None:
        socket = self.sender()
        if isinstance(socket, QLocalSocket):
            self._answer(socket)

    def _answer(self, socket: QLocalSocket) -> None:
        request = bytes(socket.read(len(_ACTIVATE)).data())  # one short request; anything else is ignored
        socket.readyRead.disconnect(self._ready)
        socket.deleteLater()  # the client closes its end; nothing more is read from this one
        if request == _ACTIVATE:
            self.activation_requested.emit()

    def activate_running(self, timeout_ms: int = _CONNECT_MS) -> bool:
        """Ask the ParsDesk that has this store to come to the front. False when it does not answer."""
        socket = QLocalSocket()
        socket.connectToServer(self.key)
        if not socket.waitForConnected(timeout_ms):
            return False
        socket.write(_ACTIVATE)
        sent = socket.waitForBytesWritten(timeout_ms)
        socket.disconnectFromServer()
        if socket.state() != QLocalSocket.LocalSocketState.UnconnectedState:
            socket.waitForDisconnected(timeout_ms)
        return sent

    def release(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._lock.isLocked():
            self._lock.unlock()
