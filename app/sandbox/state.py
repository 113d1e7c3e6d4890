"""What the sandbox PARS knows and decides: activities, learner records, and the boards' answers.

Every learner record is validated with `app.pars.validation`, exactly as ParsDesk validates it
before sending, so the sandbox and the app cannot disagree about a rule. What only PARS or a board
can decide (661, 664, 665, 709, 718) comes from the seeded registry (`app.sandbox.registry`).

Lifecycle (docs/sandbox.md):
- Add: validation issues -> Rejected with the first code, nothing stored (the creditID is still
  counted as received); a record going to a board or a collaborating state board -> Submitted,
  and the board's verdict is fixed now and revealed once `board_delay` seconds have passed; any
  other record -> Accepted at once.
- The same creditID with the same content again -> the stored record's status (an idempotent
  replay; nothing new is stored); with different content -> validation reports 603.
- Delete of Accepted -> Delete Submitted -> Deleted after the board delay (Deleted at once when
  no board processed it); of a board-Rejected record -> Deleted; of a Submitted record -> refused
  with 998 (status stays Submitted); of an unknown creditID or with other fields -> 605.
  A refused delete reports the record's current status (NotFound if none) with the code.

State lives in SQLite (its own tables, not the app's schema) behind one lock, so the threaded
HTTP server can call it from any thread. Time comes from an injectable clock; `advance(seconds)`
moves the sandbox's time forward so tests never sleep.
"""

from __future__ import annotations

import dataclasses
import json
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from lxml import etree

from app.pars import catalog, xml_codec
from app.pars.activities_json import activity_from_json, activity_to_json
from app.pars.domain import (
    Activity,
    Completion,
    History,
    Issue,
    Learner,
    PriorCompletion,
    RecordAction,
)
from app.pars.matching import same_record
from app.pars.protocol import (
    STATUS_ACCEPTED,
    STATUS_DELETE_SUBMITTED,
    STATUS_DELETED,
    STATUS_NOT_FOUND,
    STATUS_REJECTED,
    STATUS_SUBMITTED,
    MatchResult,
    RecordResult,
    parse_xml,
)
from app.pars.validation import (
    delete_refusal,
    history_from_priors,
    prior_from_completion,
    record_action,
    validate_batch,
)
from app.paths import ensure_private_file
from app.sandbox.registry import Registry, RegistryPerson
from app.wording import plural

REFUSED_WHILE_SUBMITTED_CODE = 998
_STATE_TABLES = frozenset({"activities", "records"})


def _check_state_file(path: Path) -> None:
    """An existing --state file must be a sandbox state: anything else is refused and left as it is."""
    if path.is_dir():
        raise ValueError(f"the sandbox state {path} is a directory; give a file (for example {path / 'sandbox.sqlite3'})")
    if not path.exists() or path.stat().st_size == 0:
        if not path.parent.is_dir():
            raise ValueError(f"the sandbox state's folder {path.parent} does not exist")
        return
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            connection.close()
    except sqlite3.Error:
        tables = set()
    if not _STATE_TABLES <= tables:
        raise ValueError(f"{path} is not a sandbox state file; the sandbox leaves it as it is")
# Records that no longer use up a learner's points for an activity.
_NOT_COUNTING = frozenset({STATUS_REJECTED, STATUS_DELETED, STATUS_DELETE_SUBMITTED})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS activities (
    activity_id TEXT PRIMARY KEY,
    provider_id TEXT NOT NULL,
    body TEXT NOT NULL                -- activities JSON (app.pars.activities_json)
);
CREATE TABLE IF NOT EXISTS records (
    credit_id TEXT PRIMARY KEY,
    activity_id TEXT,
    status TEXT NOT NULL,
    code INTEGER,
    message TEXT,
    received INTEGER NOT NULL,        -- how many Add requests carried it (a double send shows as 2)
    deletes_received INTEGER NOT NULL DEFAULT 0,  -- how many Delete requests named it
    stored INTEGER NOT NULL,          -- 0: PARS rejected it at once and kept nothing
    report TEXT,                      -- the ActivityReport as last sent (stored records only)
    board_processed INTEGER NOT NULL DEFAULT 0,
    pending_status TEXT,              -- the board's verdict, revealed at due_at
    pending_code INTEGER,
    pending_message TEXT,
    due_at REAL
);
"""


class UploadRefused(ValueError):
    """An uploaded file PARS would not process at all (unreadable, wrong type); str() says why."""


class ActivityNotFound(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class SandboxRecord:
    credit_id: str
    activity_id: str | None
    status: str
    code: int | None
    message: str | None
    received: int
    deletes_received: int

    def as_json(self) -> dict[str, object]:
        return dataclasses.asdict(self)


class _Clock:
    """Wall-clock time plus an offset that `advance` moves forward."""

    def __init__(self, base: Callable[[], float]) -> None:
        self._base = base
        self._offset = 0.0

    def __call__(self) -> float:
        return self._base() + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds


class SandboxState:
    def __init__(
        self,
        *,
        registry: Registry,
        board_delay: float = 5.0,
        activities: Iterable[Activity] = (),
        path: Path | str | None = None,
        clock: Callable[[], float] = time.time,
        provider_id: str = "1234567",
        id_seed: str = "sandbox",
    ) -> None:
        self.registry = registry
        self.board_delay = board_delay
        self.provider_id = provider_id
        self.clock = _Clock(clock)
        self._lock = threading.RLock()
        self._ids = random.Random(id_seed)
        if path is not None:
            _check_state_file(Path(path))
            ensure_private_file(Path(path))  # the sandbox keeps learners' identities too
        try:
            self._db = sqlite3.connect(":memory:" if path is None else str(path), check_same_thread=False)
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise ValueError(f"the sandbox state {path} cannot be used: {exc}") from None
        # Parsed stored records, kept in memory so validating a batch does not re-parse all of them.
        self._completions: dict[str, Completion] = {}
        # ... and what each tells validation about later records (the same for every batch)
        self._priors: dict[str, PriorCompletion] = {}
        for credit_id, report in self._db.execute("SELECT credit_id, report FROM records WHERE stored = 1"):
            self._remember(credit_id, xml_codec.parse_report(parse_xml(report.encode("utf-8"))))
        for activity in activities:
            self.preload_activity(activity)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.clock.advance(seconds)

    def today(self) -> date:
        return date.fromtimestamp(self.clock())

    # ------------------------------------------------------------ activities

    def preload_activity(self, activity: Activity) -> str:
        """Store an activity as PARS already has it (from --activities); it must carry its ID."""
        if not activity.activity_id:
            raise ValueError(f"activity {activity.title!r} has no ACCME activity ID to preload")
        with self._lock, self._db:
            self._write_activity(activity)
        return activity.activity_id

    def save_activity(self, activity: Activity) -> str:
        """SaveActivity: register under a fresh 9-digit ID, or update one PARS has (else 690)."""
        with self._lock, self._db:
            if activity.activity_id is None:
                activity = dataclasses.replace(activity, activity_id=self._fresh_activity_id())
            elif self.activity(activity.activity_id) is None:
                raise ActivityNotFound(activity.activity_id)
            self._write_activity(activity)
            assert activity.activity_id is not None
            return activity.activity_id

    def _write_activity(self, activity: Activity) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO activities (activity_id, provider_id, body) VALUES (?, ?, ?)",
            (activity.activity_id, self.provider_id, json.dumps(activity_to_json(activity))),
        )

    def _fresh_activity_id(self) -> str:
        while True:
            candidate = str(self._ids.randrange(100_000_000, 1_000_000_000))
            if not self._db.execute("SELECT 1 FROM activities WHERE activity_id = ?", (candidate,)).fetchone():
                return candidate

    def activity(self, activity_id: str | None) -> Activity | None:
        if not activity_id:
            return None
        with self._lock:
            row = self._db.execute("SELECT body FROM activities WHERE activity_id = ?", (activity_id,)).fetchone()
        return activity_from_json(json.loads(row[0])) if row else None

    def activities(self) -> list[Activity]:
        with self._lock:
            rows = self._db.execute("SELECT body FROM activities ORDER BY activity_id").fetchall()
        return [activity_from_json(json.loads(body)) for (body,) in rows]

    # ------------------------------------------------------------ learner records

    def process_upload(self, data: bytes, name: str) -> tuple[bytes, int, int]:
        """The website's batch upload: every record of an .xlsx or .xml learner file goes through the same
        validation and storage as SaveLearnerActivity. Returns PARS's rejection workbook (the file's
        original columns plus Error Code and Error Description, rejected rows only), the number of
        records and the number rejected."""
        import io
        import tempfile

        from app.pars.batch import BatchFileError, load_batch
        from app.pars.excel import F_ERROR_DESCRIPTION, write_rejections
        from app.pars.matching import fingerprint

        suffix = Path(name).suffix.lower()
        if suffix not in (".xlsx", ".xml"):
            raise UploadRefused("PARS takes .xlsx or .xml learner files (name the file in ?name=).")
        with tempfile.TemporaryDirectory(prefix="pars-upload-") as folder:
            path = Path(folder) / f"upload{suffix}"
            path.write_bytes(data)
            try:
                batch = load_batch(path)
            except BatchFileError as exc:
                raise UploadRefused(str(exc)) from None
        completions = [dataclasses.replace(record.completion) for record in batch.records]
        with self._lock:
            by_content = {fingerprint(stored): credit_id for credit_id, stored in self._completions.items()}
            for index, completion in enumerate(completions):
                if (completion.credit_id or "").strip():
                    continue
                if record_action(completion.action) is RecordAction.DELETE:
                    # The Excel template has no Credit ID: a delete names its record by content.
                    completion.credit_id = by_content.get(fingerprint(completion))
                else:
                    completion.credit_id = f"ccid:{self.provider_id}:web-{self._ids.getrandbits(64):016x}{index}"
            reports = [xml_codec.render_report(completion, self.provider_id) for completion in completions]
            results = self.save_records(reports)
        rows = [
            (record.values, result.code or 999, result.message or "Rejected")
            for record, result in zip(batch.records, results)
            if result.status == STATUS_REJECTED or result.code is not None
        ]
        buffer = io.BytesIO()
        write_rejections(buffer, batch.headers, rows, message_header=F_ERROR_DESCRIPTION)
        return buffer.getvalue(), len(completions), len(rows)

    def save_records(
        self, reports: list[etree._Element], completions: list[Completion] | None = None
    ) -> list[RecordResult]:
        """SaveLearnerActivity: each ActivityReport in order; one result per report. `completions`:
        the records already read from the reports (parse_report), when the caller read them."""
        if completions is not None and len(completions) != len(reports):
            raise ValueError("one completion per report is needed")
        with self._lock, self._db:
            self._settle()
            if completions is None:
                completions = [xml_codec.parse_report(report) for report in reports]
            wanted = {completion.activity_id for completion in completions if completion.activity_id}
            activities = {
                activity_id: activity
                for activity_id in wanted
                if (activity := self.activity(activity_id)) is not None
            }
            # One pass of PARS's rules over the batch, against every record stored before it.
            verdicts = validate_batch(completions, activities, self._history(), self.today())
            return [
                self._save_one(completion, report, issues)
                for completion, report, issues in zip(completions, reports, verdicts, strict=True)
            ]

    def _save_one(self, completion: Completion, report: etree._Element, issues: list[Issue]) -> RecordResult:
        credit_id = (completion.credit_id or "").strip()
        action = record_action(completion.action)
        if credit_id:
            # first seen: a row that PARS holds nothing under yet; either way the request is counted
            deleting = action is RecordAction.DELETE
            self._db.execute(
                "INSERT INTO records (credit_id, activity_id, status, received, deletes_received, stored) "
                "VALUES (?, ?, ?, ?, ?, 0) ON CONFLICT (credit_id) DO UPDATE SET "
                "received = received + excluded.received, deletes_received = deletes_received + excluded.deletes_received",
                (credit_id, completion.activity_id, STATUS_NOT_FOUND, int(not deleting), int(deleting)),
            )
        if action is RecordAction.DELETE:
            return self._delete(credit_id, issues)
        if action is RecordAction.ADD:
            return self._add(completion, credit_id, report, issues)
        # No or an unknown action: validation named it (601/602); nothing is stored.
        return self._reject_at_once(credit_id, issues)

    def _add(
        self, completion: Completion, credit_id: str, report: etree._Element, issues: list[Issue]
    ) -> RecordResult:
        stored = self._completions.get(credit_id)
        if stored is not None and same_record(stored, completion):
            return self._result(credit_id)  # the same record sent again (a replay): nothing new
        if not issues:
            issues = self._registry_match_issues(completion)
        if issues:
            # A different record under a stored creditID gets 603 and leaves the stored one alone.
            return self._reject_at_once(credit_id, issues, keep_stored=stored is not None)

        status, code, message, processed = self._board_verdict(completion)
        xml_text = etree.tostring(report, encoding="unicode")
        if processed:
            self._db.execute(
                "UPDATE records SET activity_id = ?, status = ?, code = NULL, message = NULL, stored = 1, report = ?, "
                "board_processed = 1, pending_status = ?, pending_code = ?, pending_message = ?, due_at = ? "
                "WHERE credit_id = ?",
                (completion.activity_id, STATUS_SUBMITTED, xml_text, status, code, message,
                 self.clock() + self.board_delay, credit_id),
            )
        else:
            self._db.execute(
                "UPDATE records SET activity_id = ?, status = ?, code = NULL, message = NULL, stored = 1, report = ?, "
                "board_processed = 0, pending_status = NULL WHERE credit_id = ?",
                (completion.activity_id, STATUS_ACCEPTED, xml_text, credit_id),
            )
        self._remember(credit_id, completion)
        # what _result would read back from the row just written
        return RecordResult(credit_id, STATUS_SUBMITTED if processed else STATUS_ACCEPTED, None, None)

    def _remember(self, credit_id: str, completion: Completion) -> None:
        self._completions[credit_id] = completion
        self._priors[credit_id] = prior_from_completion(completion)

    def _delete(self, credit_id: str, issues: list[Issue]) -> RecordResult:
        if issues:  # 605 unknown creditID or other fields, 706 deadline passed, ...
            return self._refuse(credit_id, issues[0].code, "; ".join(issue.message for issue in issues))
        if credit_id not in self._completions:  # validation checks this (605); kept as a guard
            return self._refuse(credit_id, 605, catalog.error(605).message)
        status, board_processed = self._db.execute(
            "SELECT status, board_processed FROM records WHERE credit_id = ?", (credit_id,)
        ).fetchone()
        if status in (STATUS_DELETE_SUBMITTED, STATUS_DELETED):
            return self._result(credit_id)  # the same delete again
        refusal = delete_refusal(status)
        if refusal is not None:
            return self._refuse(credit_id, REFUSED_WHILE_SUBMITTED_CODE, refusal)
        if status == STATUS_ACCEPTED and board_processed:
            self._db.execute(
                "UPDATE records SET status = ?, code = NULL, message = NULL, pending_status = ?, "
                "pending_code = NULL, pending_message = NULL, due_at = ? WHERE credit_id = ?",
                (STATUS_DELETE_SUBMITTED, STATUS_DELETED, self.clock() + self.board_delay, credit_id),
            )
        else:  # nothing went to a board (or the board rejected it): gone at once
            self._db.execute(
                "UPDATE records SET status = ?, code = NULL, message = NULL, pending_status = NULL WHERE credit_id = ?",
                (STATUS_DELETED, credit_id),
            )
        return self._result(credit_id)

    def _refuse(self, credit_id: str, code: int, message: str) -> RecordResult:
        current = self._current_status(credit_id)
        return RecordResult(credit_id, current, code, message)

    def _current_status(self, credit_id: str) -> str:
        if credit_id not in self._completions:
            return STATUS_NOT_FOUND
        row = self._db.execute("SELECT status FROM records WHERE credit_id = ?", (credit_id,)).fetchone()
        return row[0] if row else STATUS_NOT_FOUND

    def _reject_at_once(self, credit_id: str, issues: list[Issue], *, keep_stored: bool = False) -> RecordResult:
        code, message = issues[0].code, "; ".join(issue.message for issue in issues)
        if credit_id and not keep_stored:
            # Remembered only for `received` counting and /_sandbox/records: PARS stores nothing.
            self._db.execute(
                "UPDATE records SET status = ?, code = ?, message = ?, stored = 0, report = NULL, "
                "pending_status = NULL WHERE credit_id = ?",
                (STATUS_REJECTED, code, message, credit_id),
            )
        return RecordResult(credit_id, STATUS_REJECTED, code, message)

    def _history(self) -> History:
        rows = self._db.execute("SELECT credit_id, status FROM records WHERE stored = 1").fetchall()
        return history_from_priors(
            (
                self._priors[credit_id]
                if status not in _NOT_COUNTING
                else dataclasses.replace(self._priors[credit_id], counts=False),
                self._completions[credit_id],
            )
            for credit_id, status in rows
        )

    # ------------------------------------------------------------ what PARS and the boards decide

    def _registry_match_issues(self, completion: Completion) -> list[Issue]:
        """718: a board that does not need a board ID, and name + DOB fit several diplomates or none."""
        issues = []
        for part in completion.boards:
            if part.board_id:
                continue
            candidates = self.registry.diplomates_named(part.board, completion.learner)
            if len(candidates) != 1:
                detail = "several diplomates" if candidates else "no diplomate"
                issues.append(
                    Issue(718, "Certifying Board ID",
                          f"{catalog.error(718).message}: {detail} of {part.board} match; add the board ID")
                )
        return issues

    def _board_verdict(self, completion: Completion) -> tuple[str, int | None, str | None, bool]:
        """(final status, code, message, processed by a board?) — decided now, revealed after the delay."""
        processed = False
        for part in completion.boards:
            processed = True
            person = (
                self.registry.diplomate(part.board, part.board_id)
                if part.board_id
                else self.registry.diplomates_named(part.board, completion.learner)[0]
            )
            verdict = _compare(person, completion.learner, f"{part.board} diplomate ID", part.board)
            if verdict is not None:
                return STATUS_REJECTED, verdict[0], verdict[1], True
            assert person is not None  # _compare returned 661 otherwise
            if person.reported_elsewhere:
                return STATUS_REJECTED, 709, f"{catalog.error(709).message} ({part.board})", True
        state = catalog.state_code(completion.learner.licensing_state)
        state_info = catalog.state(state)
        if (
            completion.cme is not None
            and state is not None
            and state_info is not None
            and state_info.pars_primary_source
            and state in self.registry.licensed_states()
            and completion.learner.license_id
        ):
            processed = True
            person = self.registry.licensee(state, completion.learner.license_id)
            verdict = _compare(person, completion.learner, f"{state} license", f"{state} medical board")
            if verdict is not None:
                return STATUS_REJECTED, verdict[0], verdict[1], True
        return STATUS_ACCEPTED, None, None, processed

    def match_learner(self, learner: Learner, board: str | None, board_id: str | None) -> MatchResult:
        """GetLearnerMatch: unique (full identity for pre-fill), ambiguous (718) or none."""
        board_code = catalog.board_code(board) or board if board else None
        state = catalog.state_code(learner.licensing_state) or learner.licensing_state
        query = dataclasses.replace(learner, licensing_state=state)
        found = self.registry.match(query, board_code, board_id)
        if len(found) == 1:
            person = found[0]
            return MatchResult("unique", person.as_learner(), person.board_ids(), None, "One learner matches")
        if found:
            return MatchResult(
                "ambiguous", None, {}, 718,
                f"{catalog.error(718).message}: {plural(len(found), 'learner')} match; add a board ID or license",
            )
        if board_code and board_id:
            return MatchResult("none", None, {}, 661, catalog.error(661).message)
        return MatchResult("none", None, {}, None, "No learner matches the information given")

    # ------------------------------------------------------------ status

    def _settle(self) -> None:
        """Reveal every board verdict whose time has come."""
        self._db.execute(
            "UPDATE records SET status = pending_status, code = pending_code, message = pending_message, "
            "pending_status = NULL, pending_code = NULL, pending_message = NULL "
            "WHERE pending_status IS NOT NULL AND due_at <= ?",
            (self.clock(),),
        )

    def _result(self, credit_id: str) -> RecordResult:
        row = self._db.execute(
            "SELECT status, code, message, stored FROM records WHERE credit_id = ?", (credit_id,)
        ).fetchone()
        if row is None or not row[3]:
            return RecordResult(credit_id, STATUS_NOT_FOUND, None, None)
        return RecordResult(credit_id, row[0], row[1], row[2])

    def status_by_credit_ids(self, credit_ids: list[str]) -> list[RecordResult]:
        with self._lock, self._db:
            self._settle()
            return [self._result(credit_id) for credit_id in credit_ids]

    def status_by_learner(self, learner: Learner, activity_id: str | None) -> list[RecordResult]:
        """Every stored record of the learner (every identity field given must agree)."""
        with self._lock, self._db:
            self._settle()
            return [
                self._result(credit_id)
                for credit_id, completion in sorted(self._completions.items())
                if (activity_id is None or completion.activity_id == activity_id)
                and _same_learner(learner, completion.learner)
            ]

    def stored_completion(self, credit_id: str) -> Completion | None:
        """The record stored under this creditID exactly as it was received (learner identity
        included), or None: lets tests check what ParsDesk really sent."""
        with self._lock:
            stored = self._completions.get(credit_id)
        return dataclasses.replace(stored) if stored is not None else None

    def records(self) -> list[SandboxRecord]:
        """Every creditID ever received (also those PARS rejected at once), for tests and the demo."""
        with self._lock, self._db:
            self._settle()
            rows = self._db.execute(
                "SELECT credit_id, activity_id, status, code, message, received, deletes_received FROM records ORDER BY rowid"
            ).fetchall()
        return [SandboxRecord(*row) for row in rows]


def _fold(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def _same_learner(query: Learner, learner: Learner) -> bool:
    pairs = (
        (query.first_name, learner.first_name),
        (query.last_name, learner.last_name),
        (query.birth_date, learner.birth_date),
        (query.licensing_state, learner.licensing_state),
        (query.license_id, learner.license_id),
    )
    return all(_fold(wanted) == _fold(have) for wanted, have in pairs if wanted)


def _compare(
    person: RegistryPerson | None, learner: Learner, id_label: str, who: str
) -> tuple[int, str] | None:
    """The board's or state board's objection to a learner, or None when its record agrees."""
    if person is None:
        return 661, f"{catalog.error(661).message} ({id_label} not in the {who} records)"
    if learner.birth_date and _fold(learner.birth_date).replace("-", "/") != _fold(person.birth_date):
        return 664, f"{catalog.error(664).message} ({who})"
    if _fold(learner.last_name) != _fold(person.last_name) or _fold(learner.first_name) != _fold(person.first_name):
        return 665, f"{catalog.error(665).message} ({who})"
    return None
