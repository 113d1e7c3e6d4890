"""Which fields of a learner record a PARS error code points at.

When PARS or a board rejects a record, its answer carries a code and a message but no field name
(the board's 665 says "Diplomate name does not match Board record"). The entry form uses this table
to mark the fields a coordinator should look at when correcting a rejected record. Codes raised by
local validation carry their field in the `Issue` itself and need no entry here.
"""

from __future__ import annotations

from app.pars.domain import (
    F_ACTIVITY_ID,
    F_BOARD,
    F_BOARD_ID,
    F_BOARD_POINTS,
    F_CME_CREDITS,
    F_COMPLETION_DATE,
    F_CREDIT_TYPE,
    F_DOB,
    F_FIRST_NAME,
    F_LAST_NAME,
    F_LICENSE_ID,
    F_STATE,
)

FIELDS_BY_CODE: dict[int, tuple[str, ...]] = {
    621: (F_BOARD_ID, F_LICENSE_ID),
    622: (F_FIRST_NAME,),
    623: (F_LAST_NAME,),
    624: (F_DOB,),
    630: (F_ACTIVITY_ID,),
    631: (F_COMPLETION_DATE,),
    632: (F_BOARD_POINTS,),
    661: (F_BOARD_ID,),  # the board does not know the diplomate ID
    664: (F_DOB, F_BOARD_ID),  # DOB differs from the board's record for that ID
    665: (F_FIRST_NAME, F_LAST_NAME, F_BOARD_ID),  # name differs from the board's record for that ID
    670: (F_BOARD,),
    671: (F_COMPLETION_DATE,),
    672: (F_COMPLETION_DATE,),
    673: (F_BOARD_POINTS, F_CME_CREDITS),
    674: (F_BOARD_POINTS, F_CME_CREDITS),
    675: (F_BOARD_POINTS,),
    676: (F_CREDIT_TYPE,),
    677: (F_CME_CREDITS, F_BOARD_POINTS),
    678: (F_CREDIT_TYPE,),
    680: (F_CREDIT_TYPE,),
    681: (F_CREDIT_TYPE,),
    690: (F_ACTIVITY_ID,),
    705: (F_COMPLETION_DATE,),
    709: (F_BOARD,),
    710: (F_BOARD_POINTS,),
    711: (F_BOARD_POINTS,),
    712: (F_LICENSE_ID, F_STATE, F_BOARD_ID),
    713: (F_BOARD,),
    717: (F_COMPLETION_DATE,),
    718: (F_BOARD_ID,),  # several learners matched: add the board ID
}


def fields_for_code(code: int | None) -> tuple[str, ...]:
    """The record fields an error code concerns (empty for general errors such as 998/999)."""
    return FIELDS_BY_CODE.get(code, ()) if code is not None else ()
