"""How ParsDesk words counts in messages, for every layer (no Qt, no ORM).

    plural(1, "record")              -> "1 record"
    plural(1200, "activity")         -> "1,200 activities"
    plural(2, "learner record")      -> "2 learner records"
    plural(0, "was", "were", show_count=False) -> "were"

ParsDesk writes US English spelling throughout (license, not the British spelling).
"""

from __future__ import annotations


def plural_form(singular: str) -> str:
    """The regular English plural of the last word: activity → activities, box → boxes."""
    head, _, word = singular.rpartition(" ")
    lower = word.lower()
    if lower.endswith("y") and len(lower) > 1 and lower[-2] not in "aeiou":
        word = word[:-1] + "ies"
    elif lower.endswith(("s", "x", "z", "ch", "sh")):
        word = word + "es"
    else:
        word = word + "s"
    return f"{head} {word}" if head else word


def plural(count: int, singular: str, plural_word: str | None = None, *, show_count: bool = True) -> str:
    """`count` with the noun in the right number: "1 record", "0 records", "2,500 records"."""
    noun = singular if count == 1 else (plural_word or plural_form(singular))
    return f"{count:,} {noun}" if show_count else noun
