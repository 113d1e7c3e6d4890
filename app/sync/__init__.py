"""Sending the outbox to PARS and following records until the boards answer. The engine is plain
Python (no Qt); `app.sync.worker` runs it in a QThread for the desktop app."""
