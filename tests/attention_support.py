"""A store whose records sit on both sides of the PARS deadlines, for the attention-list tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import update

from app.models import CompletionRow, OutboxRow, Store
from app.pars.domain import BoardPart, Status
from app.services import records
from tests.learner_support import add_activity, completion, store_record

DECEMBER_20 = date(2026, 12, 20)


@dataclass
class Scene:
    activity_id: int
    cme_activity_id: int
    ids: dict[str, int]

    def credit_ids(self, store: Store, *names: str) -> set[str]:
        with store.session() as s:
            return {s.get(CompletionRow, self.ids[n]).credit_id for n in names}


def abim(points: str = "8") -> list[BoardPart]:
    return [BoardPart("ABIM", "123456", Decimal(points), {"Medical Knowledge": None})]


def build_scene(store: Store) -> Scene:
    """An ABIM activity of 2026 whose credit claim date is 12-31-2026, and a CME-only one:
    - late: Queued MOC record completed 11-10-2026 (30 days passed on 12-10)
    - near: Rejected by the board, completed 11-25-2026, not corrected (30 days end 12-25)
    - draft: Draft without permission, completed 12-15-2026
    - done: Accepted, completed 11-01-2026 (PARS has it: no deadline concerns it)
    - fixed: Rejected 11-02-2026 but already corrected by a resubmission (fix, Queued 12-18-2026)
    - asked: Submitted on 12-01-2026, no board answer since
    - failing: Queued CME record completed 12-12-2026 whose last two sends failed
    - leaving: Accepted then deleted locally, the delete still queued (completed 03-02-2026)
    """
    activity = add_activity(store, start=date(2026, 1, 5), end=date(2026, 10, 2))  # claim date 12-31-2026
    cme_only = add_activity(store, accme_id="223456789", title="Grand Rounds 2026", start=date(2026, 1, 5),
                            end=date(2026, 12, 31), boards=())
    ids = {
        "late": store_record(store, activity, completion("Lee", "Late", completed=date(2026, 11, 10), boards=abim())),
        "near": store_record(store, activity, completion("Nia", "Near", completed=date(2026, 11, 25), boards=abim()),
                             status=Status.REJECTED, code=665, message="Diplomate name does not match"),
        "draft": store_record(store, activity, completion("Dov", "Draft", completed=date(2026, 12, 15), boards=abim(),
                                                          permission=False)),
        "done": store_record(store, activity, completion("Ann", "Done", completed=date(2026, 11, 1), boards=abim()),
                             status=Status.ACCEPTED),
        "fixed": store_record(store, activity, completion("Fay", "Fixed", completed=date(2026, 11, 2), boards=abim()),
                              status=Status.REJECTED, code=664, message="Date of birth does not match"),
        "asked": store_record(store, activity, completion("Ash", "Asked", completed=date(2026, 11, 30), boards=abim()),
                              status=Status.SUBMITTED),
        "failing": store_record(store, cme_only, completion("Fox", "Failing", completed=date(2026, 12, 12), boards=[])),
        "leaving": store_record(store, cme_only, completion("Leo", "Leaving", completed=date(2026, 3, 2), boards=[]),
                                status=Status.ACCEPTED),
    }
    with store.transaction() as s:
        fixed = s.get(CompletionRow, ids["fixed"])
        corrected = completion("Fay", "Fixed", completed=date(2026, 12, 18), boards=abim())
        ids["fix"] = records.store_completion(s, corrected, fixed.activity, source="user", replaces=fixed).id
        records.request_delete(s, s.get(CompletionRow, ids["leaving"]))
        s.execute(update(CompletionRow).where(CompletionRow.id == ids["asked"])
                  .values(updated_at=datetime(2026, 12, 1, 15, 0)))
        s.execute(update(OutboxRow).where(OutboxRow.completion_id == ids["failing"])
                  .values(attempts=2, last_error="PARS unreachable: connection refused"))
    return Scene(activity, cme_only, ids)
