"""Large-page check of `sketchcolor colorize`: time and peak memory on a drawn page of any size.

Draws a line-art page (our own random strokes, nothing third-party) of --width x --height,
runs the real CLI on it in a child process for each --detail mode and prints one JSON
object per mode: wall seconds, the child's peak resident memory (ru_maxrss), the output's
size, and whether every ink pixel of the drawn lines is at least as dark in the output (lines
kept). `--tone` lays screentone over the left half of the page first (a manga page, so the
descreening that `--clean` does is timed too).

    python benchmarks/large_page.py --width 6000 --height 6000 --json benchmarks/results/large-page-6000.json
    python benchmarks/large_page.py --tone --json benchmarks/results/large-page-6000-tone.json

The exit code is 1 when a run fails, loses a line, or exceeds --max-rss-mb (default 4096).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from sketchcolor.compose import lines_intact
from sketchcolor.data.restyle import halftone

Image.MAX_IMAGE_PIXELS = None  # our own page, as large as asked


def draw_page(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    stroke = max(1, min(width, height) // 800)
    for _ in range(60):
        x, y = rng.integers(0, width), rng.integers(0, height)
        radius = int(rng.integers(min(width, height) // 40, min(width, height) // 6))
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], outline=0, width=stroke)
    for _ in range(40):
        points = [tuple(int(v) for v in rng.integers(0, [width, height])) for _ in range(2)]
        draw.line(points, fill=int(rng.integers(0, 120)), width=stroke)
    return page


def with_tone(page: Image.Image, pitch: int = 10, cover: float = 0.3) -> Image.Image:
    """The page with a screentone (dots `pitch` px apart, covering `cover`) under the lines of its
    left half, drawn in bands of whole grid rows so the supersampled dots never take the whole
    page in memory and run on across the bands."""
    lines = np.asarray(page, dtype=np.float32) / 255
    toned = lines.copy()
    half, band = page.width // 2, 50 * pitch
    for top in range(0, page.height, band):
        rows = min(band, page.height - top)
        dots = halftone((half, rows), pitch=float(pitch), cover=cover, angle=0.0)
        toned[top : top + rows, :half] = np.minimum(lines[top : top + rows, :half], dots)
    return Image.fromarray((toned * 255).round().astype(np.uint8), mode="L")


def run_mode(page_path: Path, out_dir: Path, detail: str, extra: list[str], lines_path: Path) -> dict:
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = subprocess.run([sys.executable, "-m", "sketchcolor", "colorize", str(page_path), "-o", str(out_dir),
                             "--detail", detail, *extra], capture_output=True, text=True)
    wall = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    record = {"detail": detail, "returncode": result.returncode, "wall_s": round(wall, 2),
              # ru_maxrss of children is the largest child so far: valid because larger runs come later
              "peak_rss_mb": round(max(peak_kb, before) / 1024, 1)}
    if result.returncode != 0:
        record["stderr"] = result.stderr.strip().splitlines()[-1:]
        return record
    with Image.open(lines_path) as sketch, Image.open(out_dir / f"{page_path.stem}.png") as colored:
        record["output_size"] = list(colored.size)
        record["lines_kept"] = lines_intact(sketch, colored)
    return record


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=6000)
    parser.add_argument("--height", type=int, default=6000)
    parser.add_argument("--detail", nargs="+", default=["whole", "tiles"])
    parser.add_argument("--max-rss-mb", type=float, default=4096)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--tone", action="store_true", help="screentone over the left half of the page")
    args, extra = parser.parse_known_args()
    with tempfile.TemporaryDirectory() as tmp:
        page_path, lines_path = Path(tmp) / "page.png", Path(tmp) / "lines.png"
        drawn = draw_page(args.width, args.height)
        drawn.save(lines_path)
        (with_tone(drawn) if args.tone else drawn).save(page_path)
        runs = [run_mode(page_path, Path(tmp) / detail, detail, extra, lines_path) for detail in args.detail]
    report = {"width": args.width, "height": args.height, "tone": args.tone, "max_rss_mb": args.max_rss_mb,
              "runs": runs}
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    ok = all(r["returncode"] == 0 and r.get("lines_kept") and r["peak_rss_mb"] <= args.max_rss_mb for r in runs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
