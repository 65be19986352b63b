"""The user study store: blind randomisation, one answer per sketch, and Table 3's arithmetic."""

import csv
import math
import sqlite3
import subprocess
import threading
from contextlib import closing
from datetime import datetime, timedelta

import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from sketchcolor.checkpoint import save_model
from sketchcolor.cli import main
from sketchcolor.metrics import mean_ci
from sketchcolor.errors import SketchcolorError
from sketchcolor.models import build_generator
from sketchcolor.serve import Settings, create_app
from sketchcolor.serve.settings import StudyLimits
from sketchcolor.serve.study import (
    CRITERIA, AlreadyAnswered, InvalidAnswer, Screening, StudyStore, UnknownParticipant, build_study,
    flag_participant, format_table, study_results, write_report, write_study,
)
from sketchcolor.serve.study_api import Quota

METHODS = ("ours", "pix2pix", "cyclegan")


@pytest.fixture
def db(tmp_path):
    """A study of 4 sketches x 3 methods with distinguishable flat images."""
    sketches = {f"s{i}.png": Image.new("RGB", (8, 8), (i * 40,) * 3) for i in range(4)}
    results = {m: [Image.new("RGB", (8, 8), (k * 80, i * 40, 0)) for i in range(4)] for k, m in enumerate(METHODS)}
    path = tmp_path / "study.sqlite"
    write_study(path, sketches, results, {m: f"runs/{m}" for m in METHODS})
    return path


def answer_all(store, participant, scores=(3, 3, 3), pick_first=True):
    while (item := store.next_item(participant)) is not None:
        ratings = {token: dict(zip(CRITERIA, scores)) for token in item["images"]}
        store.save_answer(participant, item["item"], ratings, item["images"][0] if pick_first else None)


def pace(db, participant, seconds):
    """Space a participant's answers `seconds` apart from the session's start, as a person's
    would be (in a test the store stamps them milliseconds apart)."""
    with closing(sqlite3.connect(db)) as conn, conn:
        start = datetime.fromisoformat(conn.execute("SELECT created FROM participants WHERE id = ?",
                                                    (participant,)).fetchone()[0])
        items = [row[0] for row in conn.execute("SELECT item_id FROM answers WHERE participant_id = ? "
                                                "ORDER BY created", (participant,))]
        for k, item in enumerate(items, start=1):
            conn.execute("UPDATE answers SET created = ? WHERE participant_id = ? AND item_id = ?",
                         ((start + timedelta(seconds=k * seconds)).isoformat(), participant, item))


def test_items_are_blind_and_ordered_per_participant(db, tmp_path, tiny_config):
    store = StudyStore(db)
    shown: dict[int, set] = {}  # item -> the orders its results were shown in
    first_items = set()
    for _ in range(12):
        participant = store.add_participant()
        first_items.add(store.next_item(participant)["item"])
        while (item := store.next_item(participant)) is not None:
            assert item == store.next_item(participant)  # a reload shows the same thing
            shown.setdefault(item["item"], set()).add(tuple(item["images"]))
            store.save_answer(participant, item["item"], {t: {c: 3 for c in CRITERIA} for t in item["images"]})
    assert len(shown) == 4 and len(first_items) > 1  # sketches come in each person's own order ...
    for orders in shown.values():
        assert len({frozenset(order) for order in orders}) == 1 and len(orders) > 1  # ... and so do results
    model = save_model(tmp_path / "m", build_generator(tiny_config.generator), tiny_config)
    app = create_app(Settings(backend="torch", model=str(model), study_db=db))
    with TestClient(app) as client:
        participant = client.post("/api/study/participants").json()["participant"]
        page = client.get(f"/api/study/participants/{participant}/next")
        text = page.text.lower()
        assert page.status_code == 200 and not any(m in text or f"runs/{m}" in text for m in METHODS)
        image = client.get(page.json()["images"][0]["src"])
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
        assert client.get("/api/study/participants/nobody/next").status_code == 404
        item = page.json()
        answers = f"/api/study/participants/{participant}/answers"
        ratings = {image["token"]: {c: 5 for c in CRITERIA} for image in item["images"]}
        wrong = {token: {**scores, "naturalness": 9} for token, scores in ratings.items()}
        assert client.post(answers, json={"item": item["item"], "ratings": wrong}).status_code == 422
        assert client.post(answers, json={"item": item["item"], "ratings": ratings}).status_code == 201
        again = client.post(answers, json={"item": item["item"], "ratings": ratings})
        assert again.status_code == 409 and "already" in again.json()["error"]
        following = client.get(f"/api/study/participants/{participant}/next").json()
        assert following["answered"] == 1 and following["item"] != item["item"]


def test_a_sketch_cannot_be_rated_twice(db):
    store = StudyStore(db)
    participant = store.add_participant()
    item = store.next_item(participant)
    ratings = {token: {c: 4 for c in CRITERIA} for token in item["images"]}
    store.save_answer(participant, item["item"], ratings)
    with pytest.raises(AlreadyAnswered):
        store.save_answer(participant, item["item"], ratings)
    assert store.next_item(participant)["item"] != item["item"]
    # Two tabs sending the same answer at once: exactly one is stored.
    other, outcomes = store.add_participant(), []
    item = store.next_item(other)
    ratings = {token: {c: 2 for c in CRITERIA} for token in item["images"]}

    def send():
        try:
            store.save_answer(other, item["item"], ratings)
            outcomes.append("saved")
        except AlreadyAnswered:
            outcomes.append("refused")

    threads = [threading.Thread(target=send) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(outcomes) == ["refused"] * 3 + ["saved"]
    results, summary = study_results(db)
    assert summary["answers"] == 2 and all(r.criteria["naturalness"].n == 2 for r in results)


def test_incomplete_or_foreign_answers_are_refused(db):
    store = StudyStore(db)
    participant = store.add_participant()
    item = store.next_item(participant)
    tokens = item["images"]
    full = {token: {c: 3 for c in CRITERIA} for token in tokens}
    other = next(i for i in range(1, 5) if i != item["item"])
    bad = [
        {tokens[0]: full[tokens[0]]},  # not every result rated
        {**full, tokens[0]: {"naturalness": 3, "saturation": 3}},  # a criterion missing
        {**full, tokens[0]: {c: 6 for c in CRITERIA}},  # out of range
        {**full, tokens[0]: {c: True for c in CRITERIA}},  # not a number
    ]
    for ratings in bad:
        with pytest.raises(InvalidAnswer):
            store.save_answer(participant, item["item"], ratings)
    with pytest.raises(InvalidAnswer):
        store.save_answer(participant, other, full)  # these tokens belong to another sketch
    with pytest.raises(InvalidAnswer):
        store.save_answer(participant, item["item"], full, most_natural="not-a-token")
    with pytest.raises(UnknownParticipant):
        store.save_answer("nobody", item["item"], full)
    assert store.summary()["answers"] == 0  # nothing half-written
    store.save_answer(participant, item["item"], full, most_natural=tokens[1])
    assert store.summary()["answers"] == 1


def test_mean_ci_matches_hand_computation():
    estimate = mean_ci([1, 2, 3, 4, 5])
    half = 2.7764451051977987 * math.sqrt(2.5) / math.sqrt(5)  # t(0.975, 4) * sd / sqrt(n)
    assert estimate.n == 5 and estimate.mean == 3
    assert estimate.low == pytest.approx(3 - half, abs=1e-9) and estimate.high == pytest.approx(3 + half, abs=1e-9)
    assert math.isnan(mean_ci([4]).low) and mean_ci([4]).mean == 4
    assert mean_ci([]).n == 0 and math.isnan(mean_ci([]).mean)
    assert mean_ci([3, 3, 3]).low == mean_ci([3, 3, 3]).high == 3


def test_report_aggregates_per_method_and_criterion(db, tmp_path):
    store = StudyStore(db)
    # Two participants; each rates every result of every sketch. The method of each token
    # is read from the database, which the page never sees.
    with sqlite3.connect(db) as conn:
        method_of = dict(conn.execute("SELECT token, name FROM images JOIN methods ON methods.id = method_id"))
    wanted = {"ours": (5, 4, 3), "pix2pix": (2, 2, 2), "cyclegan": (1, 5, 4)}
    for person in range(2):
        participant = store.add_participant()
        while (item := store.next_item(participant)) is not None:
            ratings = {t: dict(zip(CRITERIA, [s + (person if method_of[t] == "pix2pix" else 0)
                                              for s in wanted[method_of[t]]])) for t in item["images"]}
            pick = next(t for t in item["images"] if method_of[t] == ("ours" if item["item"] != 1 else "cyclegan"))
            store.save_answer(participant, item["item"], ratings, pick)
    results, summary = study_results(db)
    by_name = {r.method: r for r in results}
    assert [r.method for r in results] == list(METHODS) and summary["participants"] == 2
    ours = by_name["ours"].criteria
    assert (ours["naturalness"].mean, ours["saturation"].mean, ours["colorfulness"].mean) == (5, 4, 3)
    assert ours["naturalness"].n == 8 and ours["naturalness"].low == ours["naturalness"].high == 5
    pix = by_name["pix2pix"].criteria["naturalness"]  # 4 ratings of 2 and 4 of 3
    assert pix.mean == pytest.approx(2.5) and pix == mean_ci([2] * 4 + [3] * 4)
    assert (by_name["ours"].picks, by_name["cyclegan"].picks, by_name["pix2pix"].picks) == (6, 2, 0)
    assert by_name["ours"].pick_share == pytest.approx(0.75) and by_name["pix2pix"].pick_share == 0

    csv_path, md_path, flagged_path = write_report(results, summary, tmp_path / "report")
    rows = {row["method"]: row for row in csv.DictReader(csv_path.open())}
    assert float(rows["pix2pix"]["naturalness_mean"]) == pytest.approx(2.5)
    assert float(rows["pix2pix"]["naturalness_ci95_low"]) == pytest.approx(pix.low, abs=1e-4)
    assert rows["ours"]["colorfulness_n"] == "8" and float(rows["ours"]["most_natural_share"]) == 0.75
    table = md_path.read_text()
    assert "| ours | 5.00 [5.00, 5.00] (n=8)" in table and "75% (6/8)" in table
    assert format_table(results, summary) in table


def test_create_and_report_from_the_command_line(tmp_path, tiny_config, capsys):
    models = {}
    for seed, name in enumerate(("a", "b")):
        torch.manual_seed(seed)
        models[name] = save_model(tmp_path / name, build_generator(tiny_config.generator), tiny_config)
    sketches = tmp_path / "sketches"
    sketches.mkdir()
    for i in range(5):
        Image.new("L", (40 + i, 30), 255).save(sketches / f"{i}.png")
    db = tmp_path / "study.sqlite"
    def run(*args):  # the console script, in this process (a subprocess would re-import torch)
        try:
            main([str(arg) for arg in args])
            code = 0
        except SystemExit as exit_:
            code = exit_.code
        captured = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, captured.out, captured.err)

    made = run("study", "create", "--sketches", sketches, "--method", f"ours={models['a']}",
               "--method", f"base={models['b']}", "--db", db, "--n", 3)
    assert made.returncode == 0, made.stderr
    assert "3 sketches x 2 methods" in made.stdout
    assert StudyStore(db).summary() == {"items": 3, "methods": 2, "participants": 0, "answers": 0,
                                        "criteria": list(CRITERIA), "scores": [1, 5]}
    again = run("study", "create", "--sketches", sketches, "--method", f"ours={models['a']}", "--db", db)
    assert again.returncode == 1 and "already exists" in again.stderr and "Traceback" not in again.stderr
    store = StudyStore(db)
    person = store.add_participant()
    answer_all(store, person, scores=(4, 2, 5))
    pace(db, person, seconds=20)  # a person takes seconds per sketch; the two scripts below take none
    for _ in range(2):
        answer_all(store, store.add_participant(), scores=(1, 1, 1))
    report = run("study", "report", "--db", db, "--out", tmp_path / "out")
    assert report.returncode == 0, report.stderr
    assert "| ours | 4.00 [4.00, 4.00] (n=3) | 2.00 [2.00, 2.00] (n=3) | 5.00 [5.00, 5.00] (n=3)" in report.stdout
    assert ("2 participants flagged as suspicious (too fast: 2, one score for everything: 2; see flagged.csv); "
            "2 excluded from this table.") in report.stdout
    assert "1 participants, 3 answered sketches of 3" in report.stdout
    assert all((tmp_path / "out" / name).is_file() for name in ("table3.csv", "table3.md", "flagged.csv"))
    kept = run("study", "report", "--db", db, "--out", tmp_path / "kept", "--keep-flagged")
    assert "| ours | 2.00 [" in kept.stdout and "(n=9)" in kept.stdout and "included in this table" in kept.stdout


def test_a_study_needs_methods_sketches_and_a_new_file(tmp_path, db):
    with pytest.raises(SketchcolorError, match="already exists"):
        build_study(db, tmp_path, {"a": None})
    with pytest.raises(SketchcolorError, match="no images"):
        build_study(tmp_path / "new.sqlite", tmp_path / "empty", {"a": None})
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all" * 10)
    with pytest.raises(SketchcolorError, match="not a sketchcolor study"):
        StudyStore(tmp_path / "junk.sqlite")
    assert not (tmp_path / "new.sqlite").exists()


def study_client(model_dir, db, client=("10.0.0.1", 50000), **limits) -> TestClient:
    """The API of a server running the study `db`, seen from the address `client`."""
    app = create_app(Settings(backend="torch", model=str(model_dir), study_db=db, study_limits=StudyLimits(**limits)))
    return TestClient(app, client=client)


def test_item_ids_beyond_sqlite_integers_are_404_or_422(db, model_dir):
    store = StudyStore(db)
    participant = store.add_participant()
    item = store.next_item(participant)
    full = {token: {c: 3 for c in CRITERIA} for token in item["images"]}
    assert store.sketch(2**63) is None and store.sketch(-1) is None
    with pytest.raises(InvalidAnswer, match="no such sketch"):
        store.save_answer(participant, 2**64, full)  # SQLite would overflow binding it
    with study_client(model_dir, db) as client:
        for path in ("/api/study/sketches/99999999999999999999999", f"/api/study/sketches/{2**63}",
                     "/api/study/sketches/0"):
            reply = client.get(path)
            assert reply.status_code == 404 and reply.json()["error"] == "no such sketch", path
        answers = f"/api/study/participants/{participant}/answers"
        for bad in (1e30, 2**63, 10**30, -5):
            reply = client.post(answers, json={"item": bad, "ratings": full})
            assert reply.status_code == 422 and reply.json()["error"].startswith("invalid request: item"), bad
        assert client.post(answers, json={"item": item["item"], "ratings": full}).status_code == 201


def test_new_participants_and_answers_are_limited_per_client_and_in_all(db, model_dir):
    with study_client(model_dir, db, participants_per_client=2, participants_total=3, answers_per_client=1,
                      max_body_bytes=2048) as first:
        second = TestClient(first.app, client=("10.0.0.2", 50000))
        start = lambda client: client.post("/api/study/participants")  # noqa: E731
        assert [start(first).status_code for _ in range(2)] == [201, 201]
        refused = start(first)  # this address has started its 2 this hour ...
        assert refused.status_code == 429 and "too many new participants" in refused.json()["error"]
        assert 3590 <= int(refused.headers["retry-after"]) <= 3600
        participant = start(second).json()["participant"]  # ... another may, until 3 in all
        assert start(second).status_code == 429
        item = first.get(f"/api/study/participants/{participant}/next").json()
        answers = f"/api/study/participants/{participant}/answers"
        huge = {"item": item["item"], "ratings": {"x" * 3000: {}}}
        too_large = second.post(answers, json=huge)
        assert too_large.status_code == 413 and "2 KB" in too_large.json()["error"]
        ratings = {image["token"]: {c: 4 for c in CRITERIA} for image in item["images"]}
        assert second.post(answers, json={"item": item["item"], "ratings": ratings}).status_code == 201
        again = second.post(answers, json={"item": item["item"], "ratings": ratings})
        assert again.status_code == 429 and again.headers["retry-after"]  # answers count per address too
    assert StudyStore(db).summary()["participants"] == 3


def test_the_quota_window_slides():
    now = [0.0]
    quota = Quota(per_client=2, total=3, period_s=100, clock=lambda: now[0])
    assert quota.take("a") == 0
    now[0] = 30
    assert quota.take("a") == 0 and quota.take("a") == 70  # a's 2 are used; the first frees at 100
    now[0] = 40
    assert quota.take("b") == 0 and quota.take("c") == 60  # everyone's 3 are used; the oldest frees at 100
    now[0] = 100
    assert quota.take("a") == 0 and quota.take("a") == 30  # a's first left the window, its second frees at 130
    assert quota.take("c") == 30  # everyone's 3 are a's two and b's


def test_the_report_flags_scripted_and_careless_participants(db, tmp_path):
    start = datetime(2026, 5, 1, 12, 0)
    at = lambda *seconds: [start + timedelta(seconds=s) for s in seconds]  # noqa: E731
    assert flag_participant("person", start, at(12, 30, 41, 70), [3, 4, 2, 5]) is None
    assert flag_participant("nobody yet", start, [], []) is None
    bot = flag_participant("bot", start, at(1, 2, 3.5, 4), [3, 4, 2, 5])
    assert bot.reasons == ("too fast",) and bot.median_seconds == 1 and bot.answers == 4
    lazy = flag_participant("lazy", start, at(10, 20), [5] * 18)
    assert lazy.reasons == ("one score for everything",) and lazy.scores_used == 1
    assert flag_participant("one answer", start, at(10), [5] * 9) is None  # too little to tell
    assert flag_participant("x", start, at(1, 2), [3, 3], Screening(min_seconds_per_sketch=0.5)).reasons == (
        "one score for everything",)

    store = StudyStore(db)
    person = store.add_participant()
    answer_all(store, person, scores=(5, 4, 3))
    pace(db, person, seconds=15)
    for _ in range(3):
        answer_all(store, store.add_participant(), scores=(1, 2, 1))  # instant
    results, summary = study_results(db)
    assert [flag.reasons for flag in summary["flagged"]] == [("too fast",)] * 3 and summary["excluded"] == 0
    assert summary["participants"] == 4 and results[0].criteria["naturalness"].n == 16
    results, summary = study_results(db, exclude_flagged=True)
    assert summary["participants"] == 1 and summary["answers"] == 4 and summary["excluded"] == 3
    assert {c: e.mean for c, e in results[0].criteria.items()} == {"naturalness": 5, "saturation": 4, "colorfulness": 3}
    assert sum(r.picks for r in results) == 4
    table = format_table(results, summary)
    assert "1 participants, 4 answered sketches" in table and "3 participants flagged" in table
    _, _, flagged = write_report(results, summary, tmp_path / "report")
    rows = list(csv.DictReader(flagged.open()))
    assert len(rows) == 3 and {row["reasons"] for row in rows} == {"too fast"} and rows[0]["excluded"] == "1"
    assert person not in {row["participant"] for row in rows}
