"""The PARS sandbox: a local HTTP server speaking ParsDesk's PARS protocol (docs/sandbox.md)."""

from app.sandbox.server import SandboxServer

__all__ = ["SandboxServer"]
