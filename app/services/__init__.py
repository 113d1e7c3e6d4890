"""Use cases over the store: each takes a Session first and never commits (the caller does)."""
