"""Kill-and-resume soak of `sketchcolor train`: SIGKILL a run at random moments, resume it each
time, and check that nothing a kill can reach is lost or torn.

Trains the tiny preset (fp32, single process, so results are bit-exact) once without
interruption, then again with --kills SIGKILLs: some at a random step, some while a checkpoint
folder is being written (the moment its temporary folder appears). After every kill it checks
the run folder (every model and state folder loads whole; every other file parses, apart from a
torn last line of a JSON-lines log, which the resume drops) and resumes. At the end the run's
weights, optimizer states and RNG streams must equal the uninterrupted run's exactly. Prints
(and with --json writes) one JSON object:

  kills                  one entry per kill: kind, the last step logged before it, the step the
                         resume started from, steps lost, whether the folder was whole
  resumes_ok             every resume started from a saved state (or, before the first save, anew)
  max_steps_lost         the most steps any kill cost; must be at most save_every_steps
  final_equal            the final state equals the uninterrupted run's, tensor for tensor
  log_steps_once         log.jsonl logs every training step once, in order
  passed                 all of the above

    python benchmarks/kill_resume.py --kills 20 --steps 240 --save-every 8 --json benchmarks/results/kill-resume.json

Exit code 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

from sketchcolor.checkpoint import STATE_TENSORS, WEIGHTS_FILE
from sketchcolor.config import load_config

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT_FOLDERS = ("latest", "best", "state")


def train_command(data: Path, run: Path, steps: int, save_every: int) -> list[str]:
    sets = [f"train.max_steps={steps}", f"train.save_every_steps={save_every}", "train.epochs=1000",
            "data.num_workers=0", "train.log_every_steps=1", "eval.every=1"]
    return [sys.executable, "-m", "sketchcolor", "train", "--config", "tiny", "--data", str(data), "--out", str(run),
            "--resume", *[arg for item in sets for arg in ("--set", item)]]


def start(command: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SKETCHCOLOR_FID_WEIGHTS": "off"}
    return subprocess.Popen(command, stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env)


def last_logged_step(run: Path) -> int:
    """The highest step in log.jsonl (whole lines only): how far the run had got."""
    path = run / "log.jsonl"
    steps = [0]
    if path.exists():
        for line in path.read_text(errors="replace").splitlines():
            try:
                steps.append(int(json.loads(line)["step"]))
            except (ValueError, KeyError, TypeError):
                pass
    return max(steps)


def saved_step(run: Path) -> int:
    state = run / "state" / "state.json"
    return json.loads(state.read_text())["counters"]["step"] if state.exists() else 0


def wait_and_kill(process: subprocess.Popen, run: Path, kind: str, target_step: int, timeout_s: float) -> bool:
    """SIGKILL `process` once it logs `target_step` (random) or once a checkpoint folder is being
    written (during-save); False if it ended first."""
    deadline = time.monotonic() + timeout_s
    while process.poll() is None and time.monotonic() < deadline:
        if kind == "during-save":
            writing = any((run / f".{name}.tmp").exists() or (run / f".{name}.old").exists() for name in CHECKPOINT_FOLDERS)
            if writing and last_logged_step(run) >= target_step:
                break
            time.sleep(0.0005)
        else:
            if last_logged_step(run) >= target_step:
                break
            time.sleep(0.01)
    if process.poll() is not None:
        return False
    process.send_signal(signal.SIGKILL)
    process.wait()
    return True


def folder_problems(run: Path) -> list[str]:
    """Files in the run folder that a reader would find torn (hidden temporary folders aside: they
    are never read, and the next save removes them)."""
    problems = []
    for folder in [run / name for name in CHECKPOINT_FOLDERS] + sorted((run / "epochs").glob("epoch_*")):
        if not folder.exists():
            continue
        for tensors, meta in ((WEIGHTS_FILE, "config.json"), (STATE_TENSORS, "state.json")):
            if (folder / meta).exists() or (folder / tensors).exists():
                try:
                    json.loads((folder / meta).read_text())
                    load_file(str(folder / tensors))
                except Exception as err:  # noqa: BLE001 - any failure to read is the finding
                    problems.append(f"{folder.name}: {type(err).__name__}: {err}")
    for name in ("log.jsonl", "metrics.jsonl"):
        path = run / name
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        for number, line in enumerate(lines[:-1]):  # a torn last line is what a kill leaves; the resume drops it
            try:
                json.loads(line)
            except json.JSONDecodeError:
                problems.append(f"{name} line {number + 1} is torn")
    return problems


def state_tensors(run: Path) -> dict[str, torch.Tensor]:
    return {**load_file(str(run / "state" / STATE_TENSORS)),
            **{f"latest/{k}": v for k, v in load_file(str(run / "latest" / WEIGHTS_FILE)).items()}}


def soak(data: Path, work: Path, kills: int, steps: int, save_every: int, seed: int = 0,
         timeout_s: float = 300.0) -> dict:
    rng = random.Random(seed)
    started = time.monotonic()
    reference, run = work / "reference", work / "killed"
    subprocess.run(train_command(data, reference, steps, save_every), check=True, capture_output=True,
                   env={**os.environ, "OMP_NUM_THREADS": "1", "SKETCHCOLOR_FID_WEIGHTS": "off"})
    records = []
    for index in range(kills):
        resumed_from = saved_step(run) if run.exists() else 0
        kind = "during-save" if index % 2 else "random"
        # Past the resume point, within two checkpoint intervals: every kill costs something.
        target = min(steps - 1, resumed_from + rng.randint(1, 2 * save_every))
        process = start(train_command(data, run, steps, save_every), work / "killed.log")
        if not wait_and_kill(process, run, kind, target, timeout_s):
            records.append({"kind": kind, "killed": False, "exit_code": process.returncode})
            break
        reached = last_logged_step(run)
        problems = folder_problems(run)
        records.append({"kind": kind, "killed": True, "last_logged_step": reached, "resumed_from_step": resumed_from,
                        "saved_step_after_kill": _saved_step_after_recovery(run), "problems": problems})
    finish = start(train_command(data, run, steps, save_every), work / "killed.log")
    finish.wait(timeout=timeout_s * 4)
    for record in records:
        if record.get("killed"):
            record["steps_lost"] = record["last_logged_step"] - record["saved_step_after_kill"]
    mine, theirs = state_tensors(run), state_tensors(reference)
    unequal = sorted(k for k in theirs if k not in mine or not torch.equal(mine[k], theirs[k]))
    records_logged = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    logged = [r["step"] for r in records_logged if "g/total" in r]  # training steps (not epoch-end scores)
    killed = [r for r in records if r.get("killed")]
    result = {
        "kills_asked": kills, "kills_done": len(killed), "steps": steps, "save_every_steps": save_every,
        "config": "tiny, fp32, one process, data.num_workers=0", "kills": records,
        "resumes_ok": finish.returncode == 0 and len(killed) == kills and all(not r["problems"] for r in killed),
        "max_steps_lost": max((r["steps_lost"] for r in killed), default=0),
        "final_equal": not unequal, "unequal_tensors": unequal[:10], "tensors_compared": len(theirs),
        "log_steps_once": logged == sorted(set(logged)) and logged[-1] == steps,
        "wall_s": round(time.monotonic() - started, 1),
    }
    result["passed"] = (result["resumes_ok"] and result["final_equal"] and result["log_steps_once"]
                        and result["max_steps_lost"] <= save_every)
    return result


def _saved_step_after_recovery(run: Path) -> int:
    """The step a resume starts from, as `has_state` sees it (an interrupted folder swap undone)."""
    from sketchcolor.checkpoint import has_state

    return saved_step(run) if has_state(run / "state") else 0


def draw_data(folder: Path, pairs: int) -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import write_pairs  # the tests' own drawn pairs: shapes with outlines

    write_pairs(folder / "train", pairs, size=load_config("tiny").data.size * 2)
    write_pairs(folder / "val", 4, start=1000, size=load_config("tiny").data.size * 2)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--steps", type=int, default=240, help="Steps of the whole run.")
    parser.add_argument("--save-every", type=int, default=8, help="train.save_every_steps: the checkpoint interval.")
    parser.add_argument("--pairs", type=int, default=32, help="Training pairs drawn for the run.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the kill moments.")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sketchcolor-soak-") as work:
        data = draw_data(Path(work) / "data", args.pairs)
        result = soak(data, Path(work), args.kills, args.steps, args.save_every, args.seed)
    report_and_exit(result, args.json)


def report_and_exit(result: dict, json_path: Path | None) -> None:
    """Print the check's JSON (and write it to `json_path`); exit 1 unless it passed."""
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if json_path:
        json_path.write_text(text + "\n")
    sys.exit(0 if result["passed"] else 1)


if __name__ == "__main__":
    main()
