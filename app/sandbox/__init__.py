"""The PARS sandbox: a local HTTP server speaking ParsDesk's PARS protocol (docs/sandbox.md).

`SandboxServer` runs it in this process (tests, `parsdesk demo`, `parsdesk sandbox` itself);
`app.sandbox.process.LocalSandboxProcess` runs it as a child process (the desktop app's local
environment). The server is imported when first named, so the app, which only starts the child,
never loads Werkzeug for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.sandbox.server import SandboxServer

__all__ = ["SandboxServer"]


def __getattr__(name: str) -> Any:
    if name == "SandboxServer":
        from app.sandbox.server import SandboxServer

        return SandboxServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
