"""The PARS sandbox in a process of its own: what the desktop app's local environment runs.

    sandbox = LocalSandboxProcess(board_delay=5, activities=[...], state_path=path).start()
    client = ParsClient(sandbox.url, SANDBOX_DEMO_CREDENTIALS)   # waits (bounded) until it listens
    sandbox.advance(6)                                           # POST /_sandbox/advance
    sandbox.stop()

A real PARS is remote: its work never competes with the window. Run inside the app's process, the
sandbox's request threads took the interpreter lock from the GUI thread while they parsed and
validated a batch, and its parsed copy of every record it was sent made each full garbage collection
longer (docs/sandbox.md). So the app starts `parsdesk sandbox --port 0` as a child process on
loopback, reads the "PARS sandbox on http://127.0.0.1:PORT" line it prints when it listens, and
talks to it over HTTP like any PARS.

`start()` only spawns the process; the first `.url` waits for that line (bounded), so the window
is built while the sandbox starts. A sandbox that cannot start (its state file is not one, Python
cannot run) makes `.url` raise SandboxUnavailableError with the last line the sandbox wrote to
stderr: the app opens anyway and says so where it would reach PARS.

The child ends with the app: `stop()` closes its stdin (it stops at end of input, see
`--exit-on-stdin-eof`), then terminates it, then kills it, each after a bounded wait; when the app
is killed, the operating system closes the app's end of that pipe, so the child stops by itself.

No Qt here: the app, the benches and the tests use it alike.
"""

from __future__ import annotations

import collections
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from app.sandbox.clock import advance_allowed

START_TIMEOUT_S = 60.0  # a cold start on a loaded machine takes a few seconds; never wait forever
STOP_GRACE_S = 3.0  # each of: end of input, terminate
HTTP_TIMEOUT_S = 30.0
STDERR_LINES_KEPT = 20
# How much lower the sandbox's scheduling priority is than the app's (Unix nice; Windows: below
# normal). It stands in for a remote PARS: when the machine is busy, the window gets the CPU first.
SANDBOX_NICE = 10
# what `parsdesk sandbox` prints once it listens; loopback only
READY_LINE = re.compile(r"^PARS sandbox on (http://127\.0\.0\.1:(\d{1,5}))\s")
EXIT_ON_STDIN_EOF = "--exit-on-stdin-eof"


class SandboxUnavailableError(RuntimeError):
    """The sandbox process did not start, or has stopped; the message says why in one sentence."""


def sandbox_command(*arguments: str) -> list[str]:
    """`parsdesk sandbox ARGUMENTS` with the running interpreter (or the frozen app's executable,
    whose entry point is app/__main__.py: its first argument is the command)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "sandbox", *arguments]
    return [sys.executable, "-m", "app", "sandbox", *arguments]


def _child_environment() -> dict[str, str]:
    """This environment, with the folder that holds this `app` package first on the child's path,
    so the child runs the same code as the app (a checkout, a bench adding its root to sys.path)."""
    env = dict(os.environ)
    if not getattr(sys, "frozen", False):
        root = str(Path(__file__).resolve().parent.parent.parent)
        env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("PYTHONIOENCODING", "utf-8")
    return env


class LocalSandboxProcess:
    """A `parsdesk sandbox` child process on a free loopback port (see the module's docstring)."""

    def __init__(
        self,
        *,
        board_delay: float = 5.0,
        seed: str = "demo",
        activities: Iterable[Any] = (),
        state_path: Path | str | None = None,
        start_timeout: float = START_TIMEOUT_S,
        nice: int = SANDBOX_NICE,
    ) -> None:
        if not math.isfinite(board_delay) or board_delay < 0:
            raise ValueError(f"the board delay must be a finite number of seconds, not {board_delay!r}")
        self.board_delay = float(board_delay)
        self.seed = seed
        self.state_path = Path(state_path) if state_path is not None else None
        self.start_timeout = start_timeout
        self.nice = nice
        self._activities = list(activities)
        self._activities_file: Path | None = None
        self._process: subprocess.Popen[str] | None = None
        self._ready = threading.Event()
        self._url: str | None = None
        self._failure: str | None = None  # why it could not be started at all
        self._stderr: collections.deque[str] = collections.deque(maxlen=STDERR_LINES_KEPT)
        self._readers: list[threading.Thread] = []
        self._lock = threading.Lock()

    # ------------------------------------------------------------ lifecycle

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> LocalSandboxProcess:
        """Spawn the process and return at once; `.url` (or `wait_ready()`) waits for it to listen."""
        if self._process is not None or self._failure is not None:
            return self
        arguments = ["--host", "127.0.0.1", "--port", "0", "--board-delay", repr(self.board_delay),
                     "--seed", self.seed, EXIT_ON_STDIN_EOF]
        try:
            if self._activities:
                arguments += ["--activities", str(self._write_activities())]
            if self.state_path is not None:
                arguments += ["--state", str(self.state_path)]
            self._process = subprocess.Popen(
                sandbox_command(*arguments),
                stdin=subprocess.PIPE,  # its end of input is this process ending (see stop())
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                errors="replace",
                env=_child_environment(),
                creationflags=self._creation_flags(),
            )
        except OSError as exc:
            self._remove_activities_file()
            self._failure = f"The built-in PARS sandbox could not be started: {exc.strerror or exc}."
            self._ready.set()
            return self
        self._lower_priority()
        self._readers = [
            threading.Thread(target=self._read_stdout, name="pars-sandbox-stdout", daemon=True),
            threading.Thread(target=self._read_stderr, name="pars-sandbox-stderr", daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        return self

    def _creation_flags(self) -> int:
        flags = getattr(subprocess, "CREATE_NO_WINDOW", 0)  # Windows: no console window
        if self.nice > 0:
            flags |= getattr(subprocess, "BELOW_NORMAL_PRIORITY_CLASS", 0)
        return flags

    def _lower_priority(self) -> None:
        """Unix: the child's nice value, `nice` above the app's. Set from here, right after the
        spawn (a pre-exec hook is unsafe in a process with threads); the child starts its threads
        later, and they inherit it. Nothing depends on it working."""
        if self.nice <= 0 or not hasattr(os, "setpriority") or self._process is None:
            return
        try:
            own = os.getpriority(os.PRIO_PROCESS, 0)
            os.setpriority(os.PRIO_PROCESS, self._process.pid, min(19, own + self.nice))
        except OSError:
            pass

    def _write_activities(self) -> Path:
        """The registered activities for `--activities`: a private temporary file (0600 from
        mkstemp), removed as soon as the sandbox has read it."""
        from app.pars.activities_json import write_activities

        handle, name = tempfile.mkstemp(prefix="parsdesk-sandbox-activities-", suffix=".json")
        os.close(handle)
        self._activities_file = Path(name)
        write_activities(self._activities_file, self._activities)
        return self._activities_file

    def _remove_activities_file(self) -> None:
        path, self._activities_file = self._activities_file, None
        if path is not None:
            try:
                path.unlink()
            except FileNotFoundError:
                pass

    def _read_stdout(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        try:
            for line in self._process.stdout:  # drained to the end: a full pipe would block the child
                if self._url is None:
                    found = READY_LINE.match(line)
                    if found and 0 < int(found.group(2)) <= 65535:
                        self._url = found.group(1)
                        self._remove_activities_file()  # read before it listens
                        self._ready.set()
        except (OSError, ValueError):  # the pipe was closed by stop()
            pass
        finally:
            self._remove_activities_file()
            self._ready.set()  # ended without saying where it listens: wait_ready() says why

    def _read_stderr(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        try:
            for line in self._process.stderr:
                if line.strip():
                    self._stderr.append(line.strip()[:500])
        except (OSError, ValueError):
            pass

    def wait_ready(self, timeout: float | None = None) -> str:
        """The sandbox's URL once it listens; SandboxUnavailableError when it did not start within
        `timeout` (default: start_timeout) or has stopped since."""
        if self._process is None and self._failure is None:
            raise SandboxUnavailableError("The built-in PARS sandbox has not been started.")
        wait = self.start_timeout if timeout is None else timeout
        if not self._ready.wait(wait):
            raise SandboxUnavailableError(
                f"The built-in PARS sandbox did not start within {wait:.0f} seconds{self._last_words()}."
            )
        if self._failure is not None:
            raise SandboxUnavailableError(self._failure)
        assert self._process is not None
        if self._url is None or self._process.poll() is not None:
            self._collect_exit()
            status = self._process.returncode
            verb = "did not start" if self._url is None else "has stopped"
            raise SandboxUnavailableError(
                f"The built-in PARS sandbox {verb} (exit status {status}){self._last_words()}."
            )
        self._remove_activities_file()
        return self._url

    def _collect_exit(self) -> None:
        """Wait (briefly) for the ended child and for its stderr, so its last line is known."""
        assert self._process is not None
        try:
            self._process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            return
        for reader in self._readers:
            reader.join(STOP_GRACE_S)
        self._remove_activities_file()

    def _last_words(self) -> str:
        lines = list(self._stderr)
        if not lines:
            return ""
        last = lines[-1]
        for said in ("parsdesk sandbox: ", "cannot start: "):  # the command's own prefixes
            last = last.removeprefix(said)
        return f": {last.rstrip('.')}"

    @property
    def url(self) -> str:
        return self.wait_ready()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        """End the child: end of input (it closes its state and exits), then terminate, then kill."""
        with self._lock:
            process = self._process
            if process is None:
                self._remove_activities_file()
                return
            if process.poll() is None:
                try:
                    assert process.stdin is not None
                    process.stdin.close()
                except OSError:
                    pass
                try:
                    process.wait(STOP_GRACE_S)
                except subprocess.TimeoutExpired:
                    process.terminate()
                    try:
                        process.wait(STOP_GRACE_S)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
            for reader in self._readers:
                reader.join(STOP_GRACE_S)
            for stream in (process.stdin, process.stdout, process.stderr):
                try:
                    if stream is not None:
                        stream.close()
                except OSError:
                    pass
            self._remove_activities_file()

    def __enter__(self) -> LocalSandboxProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------ test and demo helpers (HTTP)

    def advance(self, seconds: float) -> None:
        """Move the sandbox's clock forward (board answers due by then become visible)."""
        import httpx

        if not advance_allowed(seconds):
            raise ValueError(f"cannot advance the sandbox's clock by {seconds!r} seconds")
        response = httpx.post(f"{self.url}/_sandbox/advance", json={"seconds": seconds}, timeout=HTTP_TIMEOUT_S)
        response.raise_for_status()

    def records(self) -> list[dict[str, object]]:
        """One dict per creditID the sandbox ever received (GET /_sandbox/records)."""
        import httpx

        response = httpx.get(f"{self.url}/_sandbox/records", timeout=HTTP_TIMEOUT_S)
        response.raise_for_status()
        records = json.loads(response.content)
        if not isinstance(records, list):
            raise SandboxUnavailableError("The built-in PARS sandbox answered its records with something else.")
        return records
