"""Write the results tables of benchmarks/README.md from benchmarks/results/*.json.

    python benchmarks/tables.py           # rewrite the tables in place
    python benchmarks/tables.py --check   # exit 1 when the README's tables differ from the JSON

Each table sits between `<!-- tables:begin NAME -->` and `<!-- tables:end NAME -->` in the
README; the prose around the markers is hand-written and quotes no figure, so that a new
results file cannot leave a stale number behind (`tests/test_benchmark_docs.py` runs --check).
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial
from pathlib import Path
from typing import Any, Callable, NamedTuple

from sketchcolor.atomic import atomic_write_text

HERE = Path(__file__).parent
PRESETS = ("pix2pix", "paper")  # the CPU table's columns: what benchmarks/run.sh measures
SIZE = 256


class CpuKind(NamedTuple):
    """A kind of CPU we measured on: results/cpu-<name>-<preset>-<size>.json, and the issue's
    figures for the reference pix2pix code on it (None: not given; the same run's eager fp32
    of our pix2pix stands in, the same network in plain eager PyTorch)."""

    name: str
    label: str
    reference_eager_ms: float | None
    reference_best_ms: float | None
    reference_train: float


KINDS = (
    CpuKind("avx512-bf16", "AMD EPYC with AVX-512 and native bf16 (AVX512-BF16)", 120.0, 38.0, 1.7),
    CpuKind("avx2", "AMD EPYC with AVX2 + FMA only (bf16 emulated)", None, None, 0.82),
)
INFER_TARGET = 4.0  # pix2pix batch 1: this many times faster than the reference's eager
PAPER_TARGET = 1.5  # the paper preset's fastest latency: at most this many times pix2pix's
TRAIN_TARGET = 2.0  # pix2pix training (its faster mode): this many times the reference's
AUTO_TOLERANCE = 1.10  # `--backend auto` within 10% of the fastest measured
VARIANTS = {  # `details[].name` -> row label, in table order
    "torch-eager-fp32": "eager fp32",
    "torch-eager-bf16": "eager bf16 (CPU autocast)",
    "onnxruntime-fp32": "ONNX Runtime fp32",
    "torch-compile-fp32": "torch.compile fp32",
    "torch-compile-bf16": "torch.compile bf16",
    "torch-compile-frozen-fp32": "torch.compile + freezing, fp32",
    "torch-compile-frozen-bf16": "torch.compile + freezing, bf16",
}


def table(header: list[str], rows: list[list[str]]) -> str:
    def line(cells: list[str]) -> str:
        return "|" + "|".join(f" {cell} " if cell else " " for cell in cells) + "|\n"

    return line(header) + "|" + "---|" * len(header) + "\n" + "".join(map(line, rows))


def sci(value: float) -> str:
    """A max-abs-diff as the README writes it: 0, or 5.3e-3."""
    return "0" if value == 0 else f"{value:.1e}".replace("e-0", "e-")


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def variant(result: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((d for d in result["details"] if d["name"] == name and d.get("ok")), None)


def missing(result: dict[str, Any], name: str) -> str:
    """Why a variant has no figure: skipped (bf16 where emulated), failed, or not measured (--quick)."""
    if "bf16" in name and result.get("skipped", {}).get("bf16"):
        return "skipped (emulated)"
    return "failed" if any(d["name"] == name for d in result["details"]) else "not measured"


def latency_table(runs: dict[str, dict[str, Any]]) -> str:
    """Batch-1 latency of every variant; bold: `infer_backend`, the fastest within 1e-2 of fp32."""
    rows = []
    for name, label in VARIANTS.items():
        cells, diffs = [], []
        for result in runs.values():
            record = variant(result, name)
            cell = missing(result, name) if record is None else f"{record['latency_ms_bs1']:.1f} ms"
            cells.append(f"**{cell}**" if name == result["infer_backend"] else cell)
            diffs.append("-" if record is None else sci(record["max_abs_diff"]))
        rows.append([label, *cells, " / ".join(diffs)])
    header = [f"batch 1, {SIZE} px", *runs, f"max \\|diff\\| from eager fp32 ({' / '.join(runs)})"]
    return table(header, rows)


def summary_table(runs: dict[str, dict[str, Any]], kind: CpuKind) -> str:
    """Per preset figures beside the reference's, with each target and whether it is met."""
    pix, paper = runs["pix2pix"], runs["paper"]
    fastest = {preset: variant(r, r["infer_backend"]) for preset, r in runs.items()}
    train = {p: (r["train_images_per_s_bs4_fp32"], r.get("train_images_per_s_bs4_bf16")) for p, r in runs.items()}
    paper_ratio = paper["infer_ms_bs1"] / pix["infer_ms_bs1"]
    pix_best_train = max(v for v in train["pix2pix"] if v)
    eager_ms = kind.reference_eager_ms or variant(pix, "torch-eager-fp32")["latency_ms_bs1"]
    eager_source = f"{eager_ms:.0f} ms" + ("" if kind.reference_eager_ms else " (our pix2pix eager fp32, this run)")

    def row(label: str, cell: Callable[[str], str], reference: str = "", target: str = "") -> list[str]:
        return [label, *(cell(p) for p in runs), reference, target]

    rows = [
        row(f"generator GFLOP (batch 1, {SIZE} px)", lambda p: f"{runs[p]['g_gflop']:.2f}"),
        row("same-run matmul peak fp32 / bf16 (GFLOP/s)",
            lambda p: f"{runs[p]['matmul_gflops_fp32']:.0f} / {runs[p]['matmul_gflops_bf16']:.1f}"),
        row("eager fp32, batch 1", lambda p: f"{variant(runs[p], 'torch-eager-fp32')['latency_ms_bs1']:.1f} ms",
            eager_source),
        row("fastest (bold above), batch 1", lambda p: f"{runs[p]['infer_ms_bs1']:.1f} ms",
            f"{kind.reference_best_ms:.0f} ms" if kind.reference_best_ms else "",
            f"pix2pix ≤ {eager_ms / INFER_TARGET:.1f} ms ({INFER_TARGET:g}x the reference's eager): "
            + verdict(pix["infer_ms_bs1"] * INFER_TARGET <= eager_ms)),
        row("the same, x faster than the reference's eager", lambda p: f"{eager_ms / runs[p]['infer_ms_bs1']:.2f}x"),
        row("the same, relative to pix2pix's", lambda p: f"{runs[p]['infer_ms_bs1'] / pix['infer_ms_bs1']:.2f}x", "",
            f"paper ≤ {PAPER_TARGET:g}x: {verdict(paper_ratio <= PAPER_TARGET)}"),
        row("the same, GFLOP/s and fraction of the same-precision peak",
            lambda p: f"{fastest[p]['gflops_bs1']:.0f}, {fastest[p]['fraction_of_peak_bs1']:.0%}"),
        row("batch-8 throughput, fastest", lambda p: f"{fastest[p]['images_per_s_bs8']:.1f} img/s"),
        *auto_rows(runs, row),
        row("training, batch 4, fp32 (the default)", lambda p: f"{train[p][0]:.2f} img/s", f"{kind.reference_train:g} img/s"),
        row("training, batch 4, bf16 autocast + channels_last (`train.amp_on_cpu`)",
            lambda p: "skipped: bf16 emulated" if train[p][1] is None else f"{train[p][1]:.2f} img/s", "",
            f"pix2pix ≥ {kind.reference_train * TRAIN_TARGET:.2f} img/s ({TRAIN_TARGET:g}x the reference): "
            + verdict(pix_best_train >= kind.reference_train * TRAIN_TARGET)),
        row("training, bf16 / fp32", lambda p: "-" if train[p][1] is None else f"{train[p][1] / train[p][0]:.2f}x"),
        row("training fp32: GFLOP per step, GFLOP/s and fraction of the fp32 peak", lambda p: train_peak(runs[p])),
        row("loader (x training fp32)",
            lambda p: f"{runs[p]['loader_images_per_s']:.0f} img/s ({runs[p]['loader_images_per_s'] / train[p][0]:.0f}x)"),
        row("machine", lambda p: f"{runs[p]['machine']['cpu']}, {', '.join(runs[p]['machine'].get('cpu_flags', [])) or 'flags not recorded'}, "
            f"{runs[p]['machine']['threads']} threads, torch {runs[p]['machine']['torch']}"),
    ]
    return table(["", *runs, "reference pix2pix", "target"], rows)


def train_peak(run: dict[str, Any]) -> str:
    if run.get("train_gflop_bs4") is None:
        return "not counted" if "train_gflop_bs4" in run else "not measured"
    gflops = run["train_gflop_bs4"] * run["train_images_per_s_bs4_fp32"] / 4
    return f"{run['train_gflop_bs4']:.0f}, {gflops:.0f}, {gflops / run['matmul_gflops_fp32']:.0%}"


def auto_rows(runs: dict[str, dict[str, Any]], row: Callable) -> list[list[str]]:
    """`--backend auto` at batch 1, measured from scratch: for a stream of sketches (a server),
    its choice's latency against the fastest variant's; for one sketch, where set-up counts,
    its choice and each candidate's job time by its own measurement."""
    def stream(preset: str) -> str:
        auto = runs[preset].get("auto", {}).get("stream")
        if auto is None:
            return "not measured"
        return f"{auto['choice']}: {auto['vs_fastest']:.2f}x the fastest ({auto['choose_s']:.0f} s to choose)"

    def one(preset: str) -> str:
        auto = runs[preset].get("auto", {}).get("one_sketch")
        if auto is None:
            return "not measured"
        jobs = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in auto.get("job_s", {}).items())
        return f"{auto['choice']}" + (f" (jobs: {jobs})" if jobs else "")

    measured = [r["auto"]["stream"]["vs_fastest"] for r in runs.values() if "stream" in r.get("auto", {})]
    target = (f"≤ {AUTO_TOLERANCE:.2f}x: " + verdict(max(measured) <= AUTO_TOLERANCE)) if measured else ""
    return [row("`--backend auto`, a stream of sketches at batch 1 (a server)", stream, "", target),
            row("`--backend auto`, one sketch (set-up counts)", one)]


def cpu_tables(results: Path, kind: CpuKind) -> str:
    runs = {p: json.loads((results / f"cpu-{kind.name}-{p}-{SIZE}.json").read_text()) for p in PRESETS}
    return latency_table(runs) + "\n" + summary_table(runs, kind)


def colorize_table(results: Path) -> str:
    """`colorize` end to end (the `colorize` key, bundled model): pages/s per backend, and ms per page per stage."""
    rows = []
    for kind in KINDS:
        path = results / f"cpu-{kind.name}-pix2pix-{SIZE}.json"
        pages = json.loads(path.read_text()).get("colorize")
        if pages is None:
            rows.append([kind.label, "not measured", "", "", ""])
            continue
        runs = pages["backends"]
        best_job = max(run["job_pages_per_s"] for run in runs.values())
        for backend, run in runs.items():
            vs = best_job / run["job_pages_per_s"]
            rows.append([kind.label, f"`{backend}` ({run['runs']})", f"{run['pages_per_s']:.2f}",
                         f"{run['job_pages_per_s']:.2f}", f"{vs:.2f}x"])
        if "first_auto_s" in pages:
            rows.append([kind.label, f"the first job's one-time cost (`auto` measuring, ONNX export): "
                         f"{pages['first_auto_s']:.1f} s", "", "", ""])
        stages = ", ".join(f"{stage} {ms:.0f}" for stage, ms in pages["stage_ms"].items())
        rows.append([kind.label, f"ms per page, one stage after another: {stages} "
                     f"(sum {sum(pages['stage_ms'].values()):.0f})", "", "", ""])
    header = ["CPU", "backend (what ran)", "pages/s, run", "pages/s, job with set-up", "slower than the best job"]
    return table(header, rows)


def large_page_table(results: Path) -> str:
    rows = []
    for path in sorted(results.glob("large-page-*.json")):
        page = json.loads(path.read_text())
        for run in page["runs"]:
            size = run.get("output_size")
            kind = " screen-toned" if page.get("tone") else ""
            rows.append([f"{page['width']}x{page['height']}{kind}", f"`{run['detail']}`",
                         "failed" if run["returncode"] else f"{run['wall_s']:.2f} s", f"{run['peak_rss_mb']:.0f} MB",
                         "-" if size is None else f"{size[0]}x{size[1]}",
                         {True: "yes", False: "**no**"}.get(run.get("lines_kept"), "-")])
    return table(["page", "`--detail`", "wall time", "peak RSS", "output", "lines kept"], rows)


TRAIN_MODES = ("fp32", "bf16", "fp32_compiled", "bf16_compiled")


def training_table(results: Path) -> str:
    """Training images/s of every benchmarked preset and size, in each mode that was measured."""
    rows = []
    for kind in KINDS:
        for path in sorted(results.glob(f"cpu-{kind.name}-*.json")):
            run = json.loads(path.read_text())
            fp32 = run["train_images_per_s_bs4_fp32"]
            cells = [f"{speed:.2f} ({speed / fp32:.2f}x)" if (speed := run.get(f"train_images_per_s_bs4_{mode}"))
                     else "-" for mode in TRAIN_MODES]
            rows.append([kind.name, f"`{run['preset']}`", f"{run['size']} px", *cells])
    modes = (f"{mode.replace('_', ' ')} img/s (x fp32)" for mode in TRAIN_MODES)
    return table(["CPU", "preset", "size", *modes], rows)


def int8_table(results: Path) -> str:
    """benchmarks/int8_check.py: ONNX Runtime int8 against fp32 (and eager torch), per CPU kind measured."""
    rows = []
    for path in sorted(results.glob("int8-*.json")):
        check = json.loads(path.read_text())
        kind = path.stem.removeprefix("int8-")
        for batch, times in check["latency_ms"].items():
            rows.append([kind, batch.replace("_", " "), *(f"{times[name]:.1f} ms" for name in
                                                         ("torch_eager_fp32", "onnxruntime_fp32", "onnxruntime_int8")),
                         f"{times['onnxruntime_fp32'] / times['onnxruntime_int8']:.2f}x"])
        moved = check["outputs_vs_fp32"]
        rows.append([kind, f"int8 colors against fp32 on {moved['sketches']} OpenMoji val sketches: max "
                     f"{moved['max_abs']:.3f}, mean {moved['mean_abs']:.4f} (of 2), SSIM mean {moved['ssim_mean']:.4f}, "
                     f"min {moved['ssim_min']:.4f}", "", "", "", ""])
    return table(["CPU", "batch", "eager torch fp32", "ONNX Runtime fp32", "ONNX Runtime int8", "int8 speed-up"], rows)


BLOCKS: dict[str, Callable[[Path], str]] = {
    **{f"cpu-{kind.name}": partial(cpu_tables, kind=kind) for kind in KINDS},
    "colorize": colorize_table, "int8": int8_table, "training": training_table, "large-page": large_page_table}


def render(readme: str, results: Path) -> str:
    """`readme` with every marked block replaced by the table generated from `results`."""
    for name, make in BLOCKS.items():
        begin, end = f"<!-- tables:begin {name} -->", f"<!-- tables:end {name} -->"
        head, found_begin, rest = readme.partition(begin)
        _, found_end, tail = rest.partition(end)
        if not (found_begin and found_end):
            raise SystemExit(f"error: no {begin} ... {end} markers in the README")
        readme = f"{head}{begin}\n{make(results)}{end}{tail}"
    return readme


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="Only compare; exit 1 when the tables are stale.")
    parser.add_argument("--readme", type=Path, default=HERE / "README.md")
    parser.add_argument("--results", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    text = args.readme.read_text()
    fresh = render(text, args.results)
    if args.check:
        if fresh != text:
            print(f"error: the tables in {args.readme} differ from {args.results}/*.json; "
                  f"run python benchmarks/tables.py to regenerate them", file=sys.stderr)
            return 1
    elif fresh != text:
        atomic_write_text(args.readme, fresh)
        print(f"wrote {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
