"""Search keys: names and IDs folded once, when a row is written, so lookups are plain index seeks.

A coordinator types "muller" for Müller, "darcy" for D'Arcy and "12345" for a license stored as
"0012345". Folding in the query (lower(), upper()) would make every index useless, so each row keeps
its folded keys in indexed columns and the query folds only what was typed.
"""

from __future__ import annotations

import unicodedata
from typing import Any

# Letters that Unicode does not decompose into a base letter plus marks.
_UNDECOMPOSED = str.maketrans({
    "ø": "o", "Ø": "o", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ł": "l", "Ł": "l",
    "đ": "d", "Đ": "d", "ð": "d", "Ð": "d", "þ": "th", "Þ": "th", "ı": "i", "ß": "ss",
})

KEY_LENGTH = 200


def name_key(text: str | None) -> str:
    """Lower-case letters and digits only, accents dropped: 'D’Arcy-Müller' -> 'darcymuller'."""
    if not text:
        return ""
    if not text.isascii():  # most names are plain ASCII: no decomposition needed
        decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSED))
        text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return "".join(filter(str.isalnum, text.casefold()))[:KEY_LENGTH]


def id_key(text: str | None) -> str:
    """Upper-case letters and digits, leading zeros dropped: ' 0012345 ' -> '12345', 'l-00-7' -> 'L007'."""
    if not text:
        return ""
    kept = "".join(ch for ch in unicodedata.normalize("NFKC", text) if ch.isalnum()).upper()
    return (kept.lstrip("0") or ("0" if kept else ""))[:KEY_LENGTH]


def prefix_bounds(key: str) -> tuple[str, str]:
    """[low, high) of every key starting with `key`: a range an ordinary B-tree index answers."""
    return key, key[:-1] + chr(ord(key[-1]) + 1)


def _from_parameter(source: str, fold):  # noqa: ANN001, ANN202 - a column default factory
    """A column default that folds another column of the same INSERT (ORM and executemany alike)."""

    def default(context: Any) -> str | None:
        value = context.get_current_parameters().get(source)
        return fold(value) if value is not None else None

    return default


def name_key_default(source: str):  # noqa: ANN201
    return _from_parameter(source, name_key)


def id_key_default(source: str):  # noqa: ANN201
    return _from_parameter(source, id_key)


def name_words(typed: str) -> list[str]:
    """The folded words of a name filter, each to be matched as the start of a first or last name."""
    words = (name_key(word) for word in typed.replace(",", " ").split())
    return [word for word in words if word]
