"""The user study store: blind randomisation, one answer per sketch, and Table 3's arithmetic."""

import csv
import math
import sqlite3
import subprocess
import threading

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
from sketchcolor.serve.study import (
    CRITERIA, AlreadyAnswered, InvalidAnswer, StudyStore, UnknownParticipant, build_study, format_table,
    study_results, write_report, write_study,
)

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
    app = create_app(Settings(model=str(model), study_db=db))
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

    csv_path, md_path = write_report(results, summary, tmp_path / "report")
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
    answer_all(StudyStore(db), StudyStore(db).add_participant(), scores=(4, 2, 5))
    report = run("study", "report", "--db", db, "--out", tmp_path / "out")
    assert report.returncode == 0, report.stderr
    assert "| ours | 4.00 [4.00, 4.00] (n=3) | 2.00 [2.00, 2.00] (n=3) | 5.00 [5.00, 5.00] (n=3)" in report.stdout
    assert (tmp_path / "out" / "table3.csv").is_file() and (tmp_path / "out" / "table3.md").is_file()


def test_a_study_needs_methods_sketches_and_a_new_file(tmp_path, db):
    with pytest.raises(SketchcolorError, match="already exists"):
        build_study(db, tmp_path, {"a": None})
    with pytest.raises(SketchcolorError, match="no images"):
        build_study(tmp_path / "new.sqlite", tmp_path / "empty", {"a": None})
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all" * 10)
    with pytest.raises(SketchcolorError, match="not a sketchcolor study"):
        StudyStore(tmp_path / "junk.sqlite")
    assert not (tmp_path / "new.sqlite").exists()
