"""A full disk while training and colorizing, on a real small file system (a tmpfs mounted for
the check: Linux, root): the previous checkpoint must survive whole, the error must say what
happened in one line, and no half-written file may be left.

  train      a tiny run fits its first checkpoint, then a resumed run fills the disk at its next
             save: exit 1, one `error:` line, state/ still the first checkpoint, loadable
  colorize   20 pages into a folder too small for all of them: exit 1, an error line per page
             that did not fit, every PNG written decodes

    sudo python benchmarks/full_disk.py --json benchmarks/results/full-disk.json
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from conftest import run_cli as sketchcolor, write_pairs  # noqa: E402
from corpus import sketch  # noqa: E402
from kill_resume import report_and_exit  # noqa: E402


@contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def errors_of(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.replace("\r", "\n").splitlines() if line.startswith("error:")]


def check_train(work: Path) -> dict:
    data = work / "pairs"
    write_pairs(data / "train", 8, size=64)
    write_pairs(data / "val", 2, start=50, size=64)
    common = ["--config", "tiny", "--data", data, "--set", "data.num_workers=0"]
    # 8 MB holds one checkpoint (state 5.8 MB + latest 1.8 MB) but not a second beside it.
    with small_disk(work / "disk", "8m") as disk:
        run = disk / "run"
        first = sketchcolor("train", *common, "--out", run, "--set", "train.max_steps=2")
        before = (run / "state" / "state.json").read_text() if first.returncode == 0 else None
        second = sketchcolor("train", *common, "--out", run, "--set", "train.max_steps=4", "--resume")
        after = (run / "state" / "state.json").read_text() if (run / "state" / "state.json").exists() else None
        resumed = sketchcolor("export", "model", "--model", run / "latest", "--out", work / "exported")
        leftovers = sorted(p.name for p in run.iterdir() if p.name.startswith("."))
    return {"first_exit": first.returncode, "second_exit": second.returncode, "second_errors": errors_of(second),
            "traceback": "Traceback" in second.stderr, "state_kept": before is not None and before == after,
            "latest_loads": resumed.returncode == 0, "hidden_leftovers": leftovers,
            "passed": (first.returncode == 0 and second.returncode == 1 and len(errors_of(second)) == 1
                       and before == after and resumed.returncode == 0 and "Traceback" not in second.stderr)}


def check_colorize(work: Path) -> dict:
    pages = work / "pages"
    pages.mkdir()
    for index in range(20):
        sketch((512, 512)).save(pages / f"page_{index:02d}.png")
    with small_disk(work / "disk2", "160k") as disk:
        result = sketchcolor("colorize", pages, "-o", disk / "out", "--model", "src/sketchcolor/weights/default")
        written = sorted((disk / "out").glob("*.png"))
        whole = all(_decodes(path) for path in written)
        leftovers = sorted(p.name for p in (disk / "out").iterdir() if p.name.startswith("."))
    errors = errors_of(result)
    return {"exit": result.returncode, "written": len(written), "error_lines": len(errors), "first_error": errors[:1],
            "all_written_decode": whole, "hidden_leftovers": leftovers, "traceback": "Traceback" in result.stderr,
            "passed": (result.returncode == 1 and len(written) + len(errors) == 20 and whole and not leftovers
                       and "Traceback" not in result.stderr)}


def _decodes(path: Path) -> bool:
    try:
        with Image.open(path) as image:
            image.load()
        return True
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sketchcolor-disk-") as folder:
        result = {"train": check_train(Path(folder)), "colorize": check_colorize(Path(folder))}
    result["passed"] = result["train"]["passed"] and result["colorize"]["passed"]
    report_and_exit(result, args.json)


if __name__ == "__main__":
    main()
