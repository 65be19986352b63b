"""Every command that reads files, run as a user runs it on the malformed-input corpus
(tests/corpus.py): what each item got from each command.

For each command it runs `sketchcolor ...` once over the whole corpus (a model, config or --set
value at a time where a command takes one) and records, per item: `refused` (a line naming it
said why), `done` (an output was written for it), or `silent` (neither: a finding), plus per
run the exit code and whether a traceback was printed. Prints a Markdown table and, with
--json, writes everything:

    python benchmarks/corpus_check.py --json benchmarks/results/corpus-check.json

Exit code 1 when any run printed a traceback, exited 0 despite refusing something, or left an
item silent. Uses a tiny random-weight model: it checks the handling of files, not the network.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from conftest import run_cli as sketchcolor, write_pairs  # noqa: E402  (the tests' drawn pairs)
from corpus import (BAD_OVERRIDES, Item, config_corpus, hint_corpus, image_corpus, model_corpus,  # noqa: E402
                    random_hint_model, sketch)

from sketchcolor.imageio import IMAGE_SUFFIXES  # noqa: E402


def outcome(result: subprocess.CompletedProcess, item: Item, output: Path | None) -> str:
    said = [line for line in result.stderr.splitlines() if item.path.name in line or str(item.path) in line]
    if output is not None and output.exists():
        return "done"
    return "refused" if said else "silent"


def run_record(command: str, result: subprocess.CompletedProcess, items: dict[str, str], *,
               fails_on_refusal: bool = True) -> dict:
    """One run's findings. `fails_on_refusal`: a refused item must make the exit code non-zero
    (training alone warns and trains on: data sets carry unusable pairs, and a finished run is no failure)."""
    refused = any(value == "refused" for value in items.values())
    expected_failure = refused and fails_on_refusal
    return {"command": command, "exit_code": result.returncode, "traceback": "Traceback" in result.stderr,
            "exit_ok": (result.returncode != 0) == expected_failure, "items": items,
            "error_lines": [line for line in result.stderr.splitlines() if line.startswith("error:")][:40]}


def with_pairs(folder: Path, items: list[Item], split: str) -> Path:
    """A data folder whose `split` holds 3 good pairs and every file item (a folder lists images only)."""
    write_pairs(folder / split, 3)
    for item in items:
        if item.uploadable and item.path.suffix.lower() in IMAGE_SUFFIXES:
            shutil.copy(item.path, folder / split / item.path.name)
    return folder


def check_pages(work: Path, model: Path) -> list[dict]:
    items = image_corpus(work / "corpus")
    listed = [item for item in items if item.uploadable and item.path.suffix.lower() in IMAGE_SUFFIXES]
    records = []
    out = work / "colorized"
    result = sketchcolor("colorize", *[item.path for item in items], "-o", out, "--model", model)
    records.append(run_record("colorize FILES", result, {i.name: outcome(result, i, out / f"{i.path.stem}.png") for i in items}))
    for command in ("evaluate", "compare"):
        data = with_pairs(work / f"data-{command}", items, "test")
        args = ["--model", model] if command == "evaluate" else ["sketch", model]
        result = sketchcolor(command, *args, "--data", data, "--out", work / f"report-{command}")
        records.append(run_record(f"{command} (3 good pairs + corpus)", result,
                                  {i.name: outcome(result, i, None) for i in listed}))
    data = with_pairs(work / "data-train", items, "train")
    write_pairs(data / "val", 2, start=50)
    result = sketchcolor("train", "--config", "tiny", "--data", data, "--out", work / "run", "--set", "train.max_steps=1",
                         "--set", f"data.cache_dir={work / 'cache'}")
    records.append(run_record("train (3 good pairs + corpus)", result, {i.name: outcome(result, i, None) for i in listed},
                              fails_on_refusal=False))
    for command in ("sketchify", "split"):
        folder = work / f"in-{command}"
        folder.mkdir()
        for item in listed:
            shutil.copy(item.path, folder / item.path.name)
        out = work / f"out-{command}"
        result = sketchcolor("data", command, folder, "--out", out)
        made = {p.stem.split("_")[0] for p in out.rglob("*.png")} if out.exists() else set()
        records.append(run_record(f"data {command}", result, {
            i.name: "done" if i.path.stem in made else outcome(result, i, None) for i in listed}))
    folder = work / "study-sketches"
    folder.mkdir()
    for item in listed:
        shutil.copy(item.path, folder / item.path.name)
    db = work / "study.db"
    result = sketchcolor("study", "create", "--sketches", folder, "--method", f"m={model}", "--db", db, "--n", len(listed))
    in_study = set()
    if db.exists():
        with closing(sqlite3.connect(db)) as conn:
            in_study = {name for (name,) in conn.execute("SELECT name FROM items")}
    records.append(run_record("study create", result, {
        i.name: "done" if i.path.name in in_study else outcome(result, i, None) for i in listed}))
    return records


def check_hints(work: Path, model: Path) -> dict:
    items = hint_corpus(work / "hints")
    pages = work / "hinted-pages"
    pages.mkdir()
    for item in items:
        sketch().save(pages / f"{item.path.name.split('.')[0]}.png")
    out = work / "hinted"
    result = sketchcolor("colorize", pages, "-o", out, "--model", model, "--hints", work / "hints")
    return run_record("colorize --hints DIR", result, {
        i.name: outcome(result, i, out / f"{i.path.name.split('.')[0]}.png") for i in items})


def check_one_at_a_time(work: Path, model: Path) -> list[dict]:
    """Models, configs and --set values: one run each (a command takes one)."""
    records = []
    page = work / "page.png"
    sketch().save(page)
    for item in model_corpus(work / "models", model):
        for command, args in (("export model", ["export", "model", "--model", item.path, "--out", work / "exported" / item.name]),
                              ("colorize --model", ["colorize", page, "-o", work / "out-model", "--model", item.path])):
            result = sketchcolor(*args)
            records.append(run_record(f"{command} {item.name}", result, {item.name: outcome(result, item, None)}))
    data = with_pairs(work / "data-config", [], "train")
    for item in config_corpus(work / "configs"):
        result = sketchcolor("train", "--config", item.path, "--data", data, "--out", work / "run-config")
        records.append(run_record(f"train --config {item.name}", result, {item.name: outcome(result, item, None)}))
    for override in BAD_OVERRIDES:
        result = sketchcolor("train", "--config", "tiny", "--data", data, "--out", work / "run-set", "--set", override)
        key = override.partition("=")[0]
        said = "refused" if any(key in line for line in result.stderr.splitlines() if line.startswith("error:")) else "silent"
        records.append(run_record(f"train --set {override}", result, {override: said}))
    return records


def markdown(records: list[dict]) -> str:
    lines = ["| command | exit | traceback | refused by name | done | silent |", "|---|---|---|---|---|---|"]
    for record in records:
        counts = {kind: sum(v == kind for v in record["items"].values()) for kind in ("refused", "done", "silent")}
        lines.append(f"| `{record['command']}` | {record['exit_code']} | {'yes' if record['traceback'] else 'no'} | "
                     f"{counts['refused']} | {counts['done']} | {counts['silent']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sketchcolor-corpus-") as folder:
        work = Path(folder)
        model = random_hint_model(work)  # takes hints, so hint files are read, not refused wholesale
        records = [*check_pages(work, model), check_hints(work, model), *check_one_at_a_time(work, model)]
    failures = [r["command"] for r in records
                if r["traceback"] or not r["exit_ok"] or "silent" in r["items"].values()]
    result = {"runs": len(records), "failures": failures, "passed": not failures, "records": records}
    print(markdown(records))
    print(f"\n{len(records)} runs; failures: {failures or 'none'}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    sys.exit(0 if result["passed"] else 1)


if __name__ == "__main__":
    main()
