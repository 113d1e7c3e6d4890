"""When two learner records are "the same record" in PARS's eyes.

PARS matches an Excel Delete row to the record it deletes by content: "the same information as what
was entered into PARS originally, but with a record action of Delete". An XML Delete must carry the
original creditID *and* the same completion fields. The comparison is validation's own (the one
behind 605), so the batch importer, the sandbox and validation can never disagree about it.
"""

from __future__ import annotations

from app.pars.domain import Completion
from app.pars.validation import record_key

Fingerprint = tuple[object, ...]


def fingerprint(completion: Completion) -> Fingerprint:
    """A hashable summary that is equal for two records PARS would consider the same completion
    (creditID, action and permission are not part of it)."""
    return record_key(completion)


def same_record(a: Completion, b: Completion) -> bool:
    return fingerprint(a) == fingerprint(b)
