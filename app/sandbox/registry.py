"""The sandbox's stand-ins for the certifying boards' diplomate records and state licensee records.

PARS and the boards check a learner against records ParsDesk cannot see: a board ID that does not
exist (661), a birth date (664) or name (665) that does not match it, a completion already
reported to the board another way (709), a name that fits several diplomates when no board ID is
given (718). The sandbox plays those parts with a registry of people built deterministically from a
seed, so a demo or a test can create learners that match (accepted) or mismatch (rejected).

`DEMO_PEOPLE` (seed "demo") is the documented set the demo data uses: the first entries are written
out by hand for stories the demo and tests tell (see docs/sandbox.md), the rest are generated from
`random.Random("demo")`. `DEMO_DIPLOMATES` and `DEMO_LICENSEES` are the same people seen as board
and state records.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from app.pars.domain import Learner
from app.pars.values import npi_check_digit


@dataclass(frozen=True, slots=True)
class RegistryPerson:
    first_name: str
    last_name: str
    birth_date: str  # MM/DD
    state: str  # 2-letter state of licensure
    license_id: str
    npi: str
    boards: tuple[tuple[str, str], ...] = ()  # (board code, diplomate ID)
    # The board already has this person's completions from a non-PARS channel: every record is 709.
    reported_elsewhere: bool = False

    def as_learner(self) -> Learner:
        return Learner(
            first_name=self.first_name,
            last_name=self.last_name,
            birth_date=self.birth_date,
            licensing_state=self.state,
            license_id=self.license_id,
        )

    def board_ids(self) -> dict[str, str]:
        return dict(self.boards)


@dataclass(frozen=True, slots=True)
class Diplomate:
    board: str
    board_id: str
    first_name: str
    last_name: str
    birth_date: str
    reported_elsewhere: bool = False


@dataclass(frozen=True, slots=True)
class Licensee:
    state: str
    license_id: str
    npi: str
    first_name: str
    last_name: str
    birth_date: str


def make_npi(first_nine: str) -> str:
    return first_nine + npi_check_digit(first_nine)


# Hand-written people: each one carries a story the demo data and the tests rely on.
_FIXED_PEOPLE: tuple[RegistryPerson, ...] = (
    # Plain matches: records for them are accepted by their boards.
    RegistryPerson("Avery", "Morgan", "03/14", "MD", "D0048213", make_npi("104821300"),
                   (("ABIM", "100001"),)),
    RegistryPerson("Jordan", "Patel", "07/22", "NC", "2009-01187", make_npi("113458201"),
                   (("ABP", "200014"), ("ABIM", "100002"))),
    RegistryPerson("Riley", "Chen", "11/02", "WA", "MD60311245", make_npi("120034588"),
                   (("ABA", "30000012"),)),
    RegistryPerson("Morgan", "Okafor", "01/30", "CA", "A156789", make_npi("130077321"),
                   (("ABPATH", "400008"),)),
    # Two ABS diplomates with the same name and birth date: without a board ID PARS cannot tell
    # them apart (718); with one, each matches uniquely.
    RegistryPerson("Casey", "Nguyen", "05/09", "OR", "MD178342", make_npi("141129874"),
                   (("ABS", "50101"),)),
    RegistryPerson("Casey", "Nguyen", "05/09", "TX", "Q4471", make_npi("141227001"),
                   (("ABS", "50277"),)),
    # The board already holds this person's completions from elsewhere: 709 for every record.
    RegistryPerson("Quinn", "Delgado", "09/17", "NJ", "25MA08811200", make_npi("152200468"),
                   (("ABIM", "100003"),), reported_elsewhere=True),
    # Licensed in a collaborating state, no board: CME goes to the state board.
    RegistryPerson("Taylor", "Brooks", "12/05", "NC", "2011-00412", make_npi("160034412")),
)

_FIRST_NAMES = (
    "Alex", "Blair", "Cameron", "Dana", "Elliot", "Frances", "Gale", "Harper", "Indira", "Jesse",
    "Kai", "Lena", "Marisol", "Noor", "Owen", "Priya", "Rafael", "Sasha", "Tomas", "Uma", "Vera",
    "Wen", "Yusuf", "Zoe",
)
_LAST_NAMES = (
    "Abbott", "Barros", "Castillo", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ivanova",
    "Jensen", "Kim", "Lindqvist", "Mensah", "Novak", "Ortiz", "Petrov", "Quispe", "Rossi", "Sato",
    "Tanaka", "Usman", "Varga", "Weiss", "Yamada",
)
# States whose boards use PARS as a primary source, plus a few that do not.
_STATES = ("MD", "NC", "WA", "OR", "CA", "NJ", "AK", "NY", "TX", "FL", "OH", "IL")
_BOARD_ID_DIGITS = {
    "ABA": 8, "ABIM": 6, "ABOS": 5, "ABOHNS": 6, "ABPATH": 6, "ABP": 6, "ABPMR": 5, "ABS": 5, "ABTS": 5,
}
_GENERATED_COUNT = 40


def _generate(seed: str, count: int, taken_ids: set[tuple[str, str]]) -> list[RegistryPerson]:
    rng = random.Random(seed)
    people: list[RegistryPerson] = []
    boards = sorted(_BOARD_ID_DIGITS)
    while len(people) < count:
        state = rng.choice(_STATES)
        chosen = rng.sample(boards, rng.choice((0, 1, 1, 1, 2)))
        registrations = []
        for board in chosen:
            digits = _BOARD_ID_DIGITS[board]
            board_id = str(rng.randrange(10 ** (digits - 1), 10**digits))
            if (board, board_id) in taken_ids:
                continue
            taken_ids.add((board, board_id))
            registrations.append((board, board_id))
        people.append(
            RegistryPerson(
                first_name=rng.choice(_FIRST_NAMES),
                last_name=rng.choice(_LAST_NAMES),
                birth_date=f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}",
                state=state,
                license_id=f"{state}{rng.randrange(100000, 999999)}",
                npi=make_npi(str(rng.randrange(100000000, 199999999))),
                boards=tuple(registrations),
                reported_elsewhere=rng.random() < 0.05,
            )
        )
    return people


def build_people(seed: str) -> tuple[RegistryPerson, ...]:
    """The registry for a seed: "demo" = the documented set; "empty" = nobody; else generated."""
    if seed == "empty":
        return ()
    taken = {(board, board_id) for person in _FIXED_PEOPLE for board, board_id in person.boards}
    if seed == "demo":
        return _FIXED_PEOPLE + tuple(_generate("demo", _GENERATED_COUNT, taken))
    return tuple(_generate(seed, _GENERATED_COUNT, set()))


def diplomates_of(people: Iterable[RegistryPerson]) -> tuple[Diplomate, ...]:
    return tuple(
        Diplomate(board, board_id, p.first_name, p.last_name, p.birth_date, p.reported_elsewhere)
        for p in people
        for board, board_id in p.boards
    )


def licensees_of(people: Iterable[RegistryPerson]) -> tuple[Licensee, ...]:
    return tuple(Licensee(p.state, p.license_id, p.npi, p.first_name, p.last_name, p.birth_date) for p in people)


DEMO_PEOPLE: tuple[RegistryPerson, ...] = build_people("demo")
DEMO_DIPLOMATES: tuple[Diplomate, ...] = diplomates_of(DEMO_PEOPLE)
DEMO_LICENSEES: tuple[Licensee, ...] = licensees_of(DEMO_PEOPLE)


def _fold(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def _same_birth_date(a: str | None, b: str | None) -> bool:
    return _fold(a).replace("-", "/") == _fold(b).replace("-", "/")


@dataclass(slots=True)
class Registry:
    """Lookups over the people of one seed, as the boards and state boards would answer them."""

    people: tuple[RegistryPerson, ...]
    _by_board_id: dict[tuple[str, str], RegistryPerson] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_board_id = {
            (board.upper(), board_id.strip().upper()): person
            for person in self.people
            for board, board_id in person.boards
        }

    @classmethod
    def from_seed(cls, seed: str) -> Registry:
        return cls(DEMO_PEOPLE if seed == "demo" else build_people(seed))

    def diplomate(self, board: str, board_id: str) -> RegistryPerson | None:
        return self._by_board_id.get((board.upper(), board_id.strip().upper()))

    def diplomates_named(self, board: str, learner: Learner) -> list[RegistryPerson]:
        """Diplomates of a board with the learner's first and last name (and birth date if given)."""
        return [
            person
            for person in self.people
            if any(code.upper() == board.upper() for code, _ in person.boards)
            and _fold(person.first_name) == _fold(learner.first_name)
            and _fold(person.last_name) == _fold(learner.last_name)
            and (not learner.birth_date or _same_birth_date(person.birth_date, learner.birth_date))
        ]

    def licensed_states(self) -> frozenset[str]:
        return frozenset(person.state for person in self.people)

    def licensee(self, state: str | None, license_id: str) -> RegistryPerson | None:
        """A licensee by state license number, or by NPI (which is national)."""
        wanted = license_id.strip().upper()
        for person in self.people:
            if person.npi == wanted:
                return person
            if person.license_id.upper() == wanted and (state or "").upper() == person.state:
                return person
        return None

    def match(self, learner: Learner, board: str | None, board_id: str | None) -> list[RegistryPerson]:
        """Everyone consistent with the partial identity given (every field given must agree)."""
        found = []
        for person in self.people:
            if learner.first_name and _fold(person.first_name) != _fold(learner.first_name):
                continue
            if learner.last_name and _fold(person.last_name) != _fold(learner.last_name):
                continue
            if learner.birth_date and not _same_birth_date(person.birth_date, learner.birth_date):
                continue
            if learner.license_id:
                wanted = learner.license_id.strip().upper()
                if wanted != person.npi and wanted != person.license_id.upper():
                    continue
            if learner.licensing_state and learner.licensing_state.upper() != person.state:
                continue
            if board:
                ids = {code.upper(): value.upper() for code, value in person.boards}
                if board.upper() not in ids:
                    continue
                if board_id and ids[board.upper()] != board_id.strip().upper():
                    continue
            elif board_id and board_id.strip().upper() not in {value.upper() for _, value in person.boards}:
                continue
            found.append(person)
        return found
