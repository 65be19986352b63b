"""The blind user study of the paper's Table 3: a SQLite store and the report maths.

The database file is the study: the sketches, every method's result for each, the
participants and their answers. A participant sees each sketch with the methods' results
in an order drawn from their anonymous id (stable across reloads, different between
people), identified only by random image tokens, and answers one sketch at a time: the
answer (1-5 on each criterion for every result, and optionally the most natural one) is
stored in one transaction, and a second answer to the same sketch is refused.
"""

from __future__ import annotations

import csv
import math
import os
import random
import secrets
import sqlite3
import statistics
from collections import Counter
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from PIL import Image

from ..metrics import Estimate, mean_ci
from ..errors import SketchcolorError
from ..imageio import list_images, png_bytes, read_image
from ..inference import Colorizer
from ..page import shrink

CRITERIA = ("naturalness", "saturation", "colorfulness")  # the paper's Table 3 columns
SCORES = range(1, 6)
FORMAT = "sketchcolor-study/1"
STUDY_MAX_SIDE = 768  # larger sketches are shrunk to this before every method colorizes them
MAX_ROW_ID = 2**63 - 1  # SQLite's largest integer: a larger id is no row (binding it would overflow)

SCHEMA = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE methods (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, source TEXT NOT NULL);
CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, sketch BLOB NOT NULL);
CREATE TABLE images (
    token TEXT PRIMARY KEY,  -- random: what the page sees instead of the method
    item_id INTEGER NOT NULL REFERENCES items(id),
    method_id INTEGER NOT NULL REFERENCES methods(id),
    png BLOB NOT NULL,
    UNIQUE (item_id, method_id));
CREATE TABLE participants (id TEXT PRIMARY KEY, created TEXT NOT NULL);
CREATE TABLE answers (
    participant_id TEXT NOT NULL REFERENCES participants(id),
    item_id INTEGER NOT NULL REFERENCES items(id),
    pick_method_id INTEGER REFERENCES methods(id),  -- "most natural"; NULL when none was picked
    created TEXT NOT NULL,
    PRIMARY KEY (participant_id, item_id));  -- one answer per participant and sketch
CREATE TABLE ratings (
    participant_id TEXT NOT NULL,
    item_id INTEGER NOT NULL,
    method_id INTEGER NOT NULL REFERENCES methods(id),
    criterion TEXT NOT NULL CHECK (criterion IN ({", ".join(f"'{c}'" for c in CRITERIA)})),
    score INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    PRIMARY KEY (participant_id, item_id, method_id, criterion),
    FOREIGN KEY (participant_id, item_id) REFERENCES answers(participant_id, item_id));
"""


class UnknownParticipant(SketchcolorError):
    """No participant has this id."""


class AlreadyAnswered(SketchcolorError):
    """The participant has already rated this sketch."""


class InvalidAnswer(SketchcolorError):
    """An answer that does not rate exactly this sketch's results on every criterion."""


def _now() -> str:
    # Milliseconds: the report measures how long each answer took (older studies stored seconds).
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def write_study(db: Path, sketches: Mapping[str, Image.Image], results: Mapping[str, Sequence[Image.Image]],
                sources: Mapping[str, str]) -> None:
    """Write a new study: `results[method][i]` is that method's result for the i-th sketch.

    Built beside `db` and moved into place, so a failed build leaves nothing behind.
    """
    if db.exists():
        raise SketchcolorError(f"{db} already exists; a study is never overwritten")
    db.parent.mkdir(parents=True, exist_ok=True)
    partial = db.with_name(db.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        with closing(sqlite3.connect(partial)) as conn, conn:
            conn.executescript(SCHEMA)
            conn.executemany("INSERT INTO meta VALUES (?, ?)",
                             [("format", FORMAT), ("created", _now()), ("criteria", ",".join(CRITERIA))])
            for method_id, method in enumerate(results, start=1):
                conn.execute("INSERT INTO methods VALUES (?, ?, ?)", (method_id, method, sources[method]))
            for item_id, (name, sketch) in enumerate(sketches.items(), start=1):
                conn.execute("INSERT INTO items VALUES (?, ?, ?)", (item_id, name, png_bytes(sketch)))
                for method_id, images in enumerate(results.values(), start=1):
                    conn.execute("INSERT INTO images VALUES (?, ?, ?, ?)",
                                 (secrets.token_hex(8), item_id, method_id, png_bytes(images[item_id - 1])))
        os.replace(partial, db)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def build_study(db: Path, sketch_dir: Path, methods: Mapping[str, str | None], *, n: int = 30, seed: int = 0,
                device: str = "auto") -> tuple[int, list[str]]:
    """Pick `n` readable sketches of `sketch_dir` (seeded), colorize them with every method (a
    run folder or model directory; None: the bundled model) and write the study to `db`.
    Returns (sketches in the study, messages for the unreadable files met and passed over)."""
    if db.exists():
        raise SketchcolorError(f"{db} already exists; a study is never overwritten")
    if not methods or n < 1:
        raise SketchcolorError("a study needs at least one method and one sketch")
    paths = list_images(sketch_dir) if sketch_dir.is_dir() else []
    if not paths:
        raise SketchcolorError(f"no images in {sketch_dir}")
    sketches, unreadable = _readable_sketches(paths, n, seed)
    if not sketches:
        raise SketchcolorError(f"none of the images in {sketch_dir} could be read")
    results = {}
    for name, source in methods.items():
        colorizer = Colorizer.from_pretrained(source, device=device)
        results[name] = colorizer(list(sketches.values()))
    write_study(db, sketches, results, {name: source or "bundled" for name, source in methods.items()})
    return len(sketches), unreadable


def _readable_sketches(paths: list[Path], n: int, seed: int) -> tuple[dict[str, Image.Image], list[str]]:
    """The first `n` readable files in a seeded shuffle of `paths` (sorted by name), each shrunk
    for the study's screen (more pixels only cost time); and why the unreadable ones were passed over."""
    order = random.Random(seed).sample(paths, len(paths))
    sketches: dict[str, Image.Image] = {}
    unreadable: list[str] = []
    for path in order:
        if len(sketches) == n:
            break
        try:
            sketches[path.name] = shrink(read_image(path), STUDY_MAX_SIDE)
        except SketchcolorError as err:
            unreadable.append(str(err))
    return dict(sorted(sketches.items())), unreadable


class StudyStore:
    """Participants and answers of one study database; safe to use from many threads
    (each call opens its own connection; SQLite serialises the writes)."""

    def __init__(self, db: str | Path):
        self.db = Path(db)
        if not self.db.is_file():  # sqlite3 would silently create an empty database
            raise SketchcolorError(f"study database {self.db} does not exist")
        try:
            with self._connect() as conn:
                row = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        except sqlite3.DatabaseError:
            row = None
        if row is None or row[0] != FORMAT:
            raise SketchcolorError(f"{self.db} is not a sketchcolor study database")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # Autocommit: each write below is one statement or an explicit transaction.
        conn = sqlite3.connect(self.db, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            yield conn
        finally:
            conn.close()

    def summary(self) -> dict:
        with self._connect() as conn:
            count = lambda table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: E731
            return {"items": count("items"), "methods": count("methods"), "participants": count("participants"),
                    "answers": count("answers"), "criteria": list(CRITERIA), "scores": [SCORES[0], SCORES[-1]]}

    def add_participant(self) -> str:
        participant = secrets.token_urlsafe(12)
        with self._connect() as conn:
            conn.execute("INSERT INTO participants VALUES (?, ?)", (participant, _now()))
        return participant

    def next_item(self, participant: str) -> dict | None:
        """The participant's next unanswered sketch, with its results in the participant's
        own order and with no method names; None when every sketch is answered."""
        with self._connect() as conn:
            self._check_participant(conn, participant)
            items = [row[0] for row in conn.execute("SELECT id FROM items ORDER BY id")]
            done = {row[0] for row in conn.execute("SELECT item_id FROM answers WHERE participant_id = ?",
                                                   (participant,))}
            random.Random(participant).shuffle(items)
            pending = [item for item in items if item not in done]
            if not pending:
                return None
            tokens = [row[0] for row in conn.execute("SELECT token FROM images WHERE item_id = ? ORDER BY token",
                                                     (pending[0],))]
        random.Random(f"{participant}/{pending[0]}").shuffle(tokens)
        return {"item": pending[0], "images": tokens, "answered": len(done), "total": len(items)}

    def save_answer(self, participant: str, item: int, ratings: Mapping[str, Mapping[str, int]],
                    most_natural: str | None = None) -> None:
        """Store one sketch's answer: `ratings[token][criterion]` in 1-5 for each of its results."""
        with self._connect() as conn:
            self._check_participant(conn, participant)
            methods = dict(conn.execute("SELECT token, method_id FROM images WHERE item_id = ?", (item,)).fetchall()
                           if _row_id(item) else [])
            _validate(methods, ratings, most_natural)
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("INSERT INTO answers VALUES (?, ?, ?, ?)",
                             (participant, item, methods.get(most_natural), _now()))
            except sqlite3.IntegrityError:
                conn.execute("ROLLBACK")
                raise AlreadyAnswered(f"sketch {item} is already answered") from None
            conn.executemany("INSERT INTO ratings VALUES (?, ?, ?, ?, ?)",
                             [(participant, item, methods[token], criterion, score)
                              for token, scores in ratings.items() for criterion, score in scores.items()])
            conn.execute("COMMIT")

    def image(self, token: str) -> bytes | None:
        with self._connect() as conn:
            row = conn.execute("SELECT png FROM images WHERE token = ?", (token,)).fetchone()
        return row and row[0]

    def sketch(self, item: int) -> bytes | None:
        if not _row_id(item):
            return None
        with self._connect() as conn:
            row = conn.execute("SELECT sketch FROM items WHERE id = ?", (item,)).fetchone()
        return row and row[0]

    @staticmethod
    def _check_participant(conn: sqlite3.Connection, participant: str) -> None:
        if conn.execute("SELECT 1 FROM participants WHERE id = ?", (participant,)).fetchone() is None:
            raise UnknownParticipant("unknown participant; start a new session")


def _row_id(item: int) -> bool:
    """Whether `item` could be a row id at all (SQLite refuses to bind a larger integer)."""
    return isinstance(item, int) and 0 < item <= MAX_ROW_ID


def _validate(methods: Mapping[str, int], ratings: Mapping[str, Mapping[str, int]], most_natural: str | None) -> None:
    if not methods:
        raise InvalidAnswer("no such sketch")
    if set(ratings) != set(methods):
        raise InvalidAnswer("rate every result of this sketch, and only those")
    for scores in ratings.values():
        if set(scores) != set(CRITERIA):
            raise InvalidAnswer(f"rate each result on {', '.join(CRITERIA)}")
        if any(isinstance(s, bool) or not isinstance(s, int) or s not in SCORES for s in scores.values()):
            raise InvalidAnswer("scores are whole numbers from 1 to 5")
    if most_natural is not None and most_natural not in methods:
        raise InvalidAnswer("the most natural result must be one of this sketch's results")


# --- the report (Table 3) ---------------------------------------------------------------


@dataclass(frozen=True)
class MethodResult:
    method: str
    criteria: dict[str, Estimate]
    picks: int  # how often it was chosen as the most natural
    pick_share: float  # picks / all answers that chose one (nan when none did)


@dataclass(frozen=True)
class Screening:
    """When the report flags a participant as not a person looking at the results."""

    min_seconds_per_sketch: float = 3.0  # median time per answer below this: too fast to look at the images
    same_score_min_answers: int = 2  # one score for every rating over at least this many sketches


@dataclass(frozen=True)
class Flag:
    """A suspicious participant: what they did and why it is suspicious."""

    participant: str
    answers: int
    median_seconds: float  # per answered sketch, counted from the session's start
    scores_used: int  # distinct scores among all their ratings
    reasons: tuple[str, ...]  # "too fast", "one score for everything"


def flag_participant(participant: str, started: datetime, answered: Sequence[datetime], scores: Sequence[int],
                     screening: Screening = Screening()) -> Flag | None:
    """A Flag if this participant's answers (their times, all their scores) look scripted or careless."""
    if not answered:
        return None
    times = [started, *sorted(answered)]
    seconds = statistics.median((b - a).total_seconds() for a, b in zip(times, times[1:]))
    reasons = []
    if seconds < screening.min_seconds_per_sketch:
        reasons.append("too fast")
    if len(set(scores)) == 1 and len(answered) >= screening.same_score_min_answers:
        reasons.append("one score for everything")
    return Flag(participant, len(answered), seconds, len(set(scores)), tuple(reasons)) if reasons else None


def screen_participants(conn: sqlite3.Connection, screening: Screening = Screening()) -> list[Flag]:
    """The flags of every suspicious participant of a study."""
    answered: dict[str, list[datetime]] = {}
    scores: dict[str, list[int]] = {}
    for participant, created in conn.execute("SELECT participant_id, created FROM answers"):
        answered.setdefault(participant, []).append(datetime.fromisoformat(created))
    for participant, score in conn.execute("SELECT participant_id, score FROM ratings"):
        scores.setdefault(participant, []).append(score)
    flags = (flag_participant(participant, datetime.fromisoformat(created), answered.get(participant, []),
                              scores.get(participant, []), screening)
             for participant, created in conn.execute("SELECT id, created FROM participants ORDER BY created"))
    return [flag for flag in flags if flag]


def study_results(db: str | Path, *, exclude_flagged: bool = False,
                  screening: Screening = Screening()) -> tuple[list[MethodResult], dict]:
    """Table 3 from a study database, and its summary: participants and answers counted, the
    suspicious participants flagged (`summary["flagged"]`) and, with `exclude_flagged`, left out."""
    store = StudyStore(db)
    summary = store.summary()
    with store._connect() as conn:
        flags = screen_participants(conn, screening)
        left_out = {flag.participant for flag in flags} if exclude_flagged else set()
        methods = conn.execute("SELECT id, name FROM methods ORDER BY id").fetchall()
        scores: dict[tuple[int, str], list[int]] = {}
        for participant, method_id, criterion, score in conn.execute(
                "SELECT participant_id, method_id, criterion, score FROM ratings"):
            if participant not in left_out:
                scores.setdefault((method_id, criterion), []).append(score)
        picks = Counter(method_id for participant, method_id in conn.execute(
            "SELECT participant_id, pick_method_id FROM answers WHERE pick_method_id IS NOT NULL")
            if participant not in left_out)
    total = sum(picks.values())
    results = [MethodResult(name, {c: mean_ci(scores.get((method_id, c), [])) for c in CRITERIA},
                            picks[method_id], picks[method_id] / total if total else math.nan)
               for method_id, name in methods]
    summary.update(participants=summary["participants"] - len(left_out), flagged=flags, excluded=len(left_out),
                   answers=summary["answers"] - sum(flag.answers for flag in flags if flag.participant in left_out))
    return results, summary


def format_table(results: Sequence[MethodResult], summary: dict) -> str:
    """Table 3 as Markdown: mean [95% CI] (n) per criterion, and the most-natural share."""
    def cell(e: Estimate) -> str:
        if e.n == 0:
            return "–"
        interval = "" if math.isnan(e.low) else f" [{e.low:.2f}, {e.high:.2f}]"
        return f"{e.mean:.2f}{interval} (n={e.n})"

    total = sum(r.picks for r in results)
    lines = ["| method | " + " | ".join(CRITERIA) + " | most natural |",
             "|---|" + "---|" * (len(CRITERIA) + 1)]
    for r in results:
        share = "–" if math.isnan(r.pick_share) else f"{100 * r.pick_share:.0f}% ({r.picks}/{total})"
        lines.append(f"| {r.method} | " + " | ".join(cell(r.criteria[c]) for c in CRITERIA) + f" | {share} |")
    lines += ["", f"{summary['participants']} participants, {summary['answers']} answered sketches of "
              f"{summary['items']}; scores 1-5, mean [95% t-interval over individual ratings] (n ratings)."]
    flags = summary.get("flagged", [])
    if flags:
        reasons = Counter(reason for flag in flags for reason in flag.reasons)
        where = (f"{summary['excluded']} excluded from this table" if summary.get("excluded")
                 else "included in this table")
        lines.append(f"{len(flags)} participants flagged as suspicious ("
                     + ", ".join(f"{reason}: {n}" for reason, n in reasons.items()) + f"; see flagged.csv); {where}.")
    return "\n".join(lines)


def write_report(results: Sequence[MethodResult], summary: dict, out_dir: Path) -> tuple[Path, Path, Path]:
    """Write OUT/table3.csv (one row per method, plain numbers), OUT/table3.md and
    OUT/flagged.csv (the suspicious participants, one row each)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, md_path, flagged_path = out_dir / "table3.csv", out_dir / "table3.md", out_dir / "flagged.csv"
    header = ["method"] + [f"{c}_{k}" for c in CRITERIA for k in ("mean", "ci95_low", "ci95_high", "n")]
    with open(csv_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header + ["most_natural_share", "most_natural_picks"])
        for r in results:
            row: list = [r.method]
            for criterion in CRITERIA:
                e = r.criteria[criterion]
                row += [_number(e.mean), _number(e.low), _number(e.high), e.n]
            writer.writerow(row + [_number(r.pick_share), r.picks])
    with open(flagged_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["participant", "answers", "median_seconds_per_sketch", "scores_used", "reasons", "excluded"])
        for flag in summary.get("flagged", []):
            writer.writerow([flag.participant, flag.answers, f"{flag.median_seconds:.2f}", flag.scores_used,
                             "; ".join(flag.reasons), int(bool(summary.get("excluded")))])
    md_path.write_text("# User study (Table 3)\n\n" + format_table(results, summary) + "\n")
    return csv_path, md_path, flagged_path


def _number(x: float) -> str:
    return "" if math.isnan(x) else f"{x:.4f}"
