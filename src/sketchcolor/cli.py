"""The `sketchcolor` console script: thin subcommands that parse, build a config and call
the library. Expected failures print one `error:` line and exit 1."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from . import __version__
from .errors import SketchcolorError

log = logging.getLogger("sketchcolor")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sketchcolor")
def cli() -> None:
    """Colorize line-art sketches with a GAN (train, colorize, build datasets)."""


@cli.command()
@click.option("--config", "config_name", default="paper", show_default=True,
              help="Preset name (paper, pix2pix, tiny, ...) or a YAML file.")
@click.option("--data", "data_root", required=True, type=click.Path(path_type=Path),
              help="Folder with train/ (and optionally val/) pairs.")
@click.option("--out", "run_dir", required=True, type=click.Path(path_type=Path), help="Run folder to write.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config value, e.g. train.lr=1e-4.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its latest state.")
def train(config_name: str, data_root: Path, run_dir: Path, overrides: tuple[str, ...], resume: bool) -> None:
    """Train a colorizer on paired sketch/color data."""
    from .config import load_config
    from .train import Trainer

    saved = run_dir / "config.yaml"
    if resume and saved.exists():  # the run's own config wins; --set may still extend it
        config = load_config(saved, list(overrides))
    else:
        config = load_config(config_name, list(overrides))
    trainer = Trainer(config, run_dir, data_root)
    if resume and not trainer.resume():
        log.info("nothing to resume in %s: starting a new run", run_dir)
    trainer.fit()
    click.echo(f"run {run_dir}: epoch {trainer.epoch}, step {trainer.step}; generator in {run_dir / 'latest'}")


@cli.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option("--model", default=None, help="Model directory or run folder (default: the bundled model).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--batch-size", default=4, show_default=True, help="Images colorized together.")
def colorize(inputs: tuple[str, ...], out_dir: Path, model: str | None, device: str, batch_size: int) -> None:
    """Colorize sketches (files, folders or globs) into OUT/<name>.png."""
    from .colorize_files import colorize_paths, expand_inputs
    from .inference import Colorizer

    colorizer = Colorizer.from_pretrained(model, device=device, batch_size=batch_size)
    paths, missing = expand_inputs(inputs)
    for message in missing:
        log.error("%s", message)
    written, failed = colorize_paths(colorizer, paths, out_dir)
    click.echo(f"colorized {written} of {len(paths) + len(missing)} inputs into {out_dir}")
    if failed or missing:
        sys.exit(1)


@cli.group()
def data() -> None:
    """Build training datasets."""


@data.command("openmoji")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path))
@click.option("--size", default=256, show_default=True, help="Side of each rendered half, in pixels.")
@click.option("--package", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="An openmoji .tgz (default: fetch it with `npm pack openmoji`).")
@click.option("--workers", default=2, show_default=True)
def data_openmoji(out_dir: Path, size: int, package: Path | None, workers: int) -> None:
    """Render OpenMoji outline/color pairs (CC BY-SA 4.0) into OUT/{train,val,test}."""
    from .data.openmoji import build_openmoji

    counts = build_openmoji(out_dir, size=size, package=package, workers=workers)
    click.echo(", ".join(f"{name}: {count}" for name, count in counts.items()))


@data.command("sketchify")
@click.argument("input_dir", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path))
@click.option("--size", default=None, type=int, help="Resize so the longer side is this many pixels.")
def data_sketchify(input_dir: Path, out_dir: Path, size: int | None) -> None:
    """Turn a folder of color images into side-by-side pairs with an XDoG line extractor."""
    from .data.sketchify import XDoGParams, sketchify_folder

    if not input_dir.is_dir():
        raise SketchcolorError(f"input folder {input_dir} does not exist")
    counts, skipped = sketchify_folder(input_dir, out_dir, XDoGParams(), size=size)
    if skipped:
        log.warning("skipped %d unreadable files: %s", len(skipped), ", ".join(skipped))
    click.echo(", ".join(f"{name}: {count}" for name, count in counts.items()))


class _Format(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


def main(argv: list[str] | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Format())
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        cli.main(args=argv, prog_name="sketchcolor")
    except SketchcolorError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
