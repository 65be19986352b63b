"""Typed configuration: one dataclass per part of the system, YAML in and out.

A run is fully described by a `Config`. Presets live in `sketchcolor/configs/*.yaml`
(the repository's `configs/` points there) and any field can be overridden with a
dotted `key=value` string, as `sketchcolor train --set train.lr=1e-4` does.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import SketchcolorError

PRESET_DIR = Path(__file__).parent / "configs"
# Options with a fixed set of values, checked when a config is built (architecture names,
# activations and norms are checked by the model registry instead).
CHOICES = {
    ("data", "sketch_side"): ("auto", "left", "right"),
    ("loss", "gan_mode"): ("bce", "wgan-gp", "lsgan"),
    ("generator", "output"): ("image", "flat"),
    ("train", "trainer"): ("paired", "cyclegan"),
    ("eval", "metric"): ("ssim_mean", "ssim_luma_mean", "psnr_mean", "l1_mean", "ciede2000_mean", "fid", "kid"),
}

# Numeric ranges, checked when a config is built, so that `--set train.batch_size=0` is one error
# line rather than a crash deep in the loader. Counts and sizes: a least value (None: unset is fine).
AT_LEAST = {
    ("data", "size"): 16, ("data", "load_size"): 16, ("data", "val_count"): 0, ("data", "color_val_count"): 0,
    ("data", "grid_count"): 0, ("data", "num_workers"): 0,
    ("generator", "ngf"): 1, ("generator", "depth"): 1, ("generator", "residual_from"): 0,
    ("generator", "blocks"): 0, ("generator", "in_channels"): 1, ("generator", "out_channels"): 1,
    ("discriminator", "ndf"): 1, ("discriminator", "n_layers"): 1, ("discriminator", "in_channels"): 1,
    ("train", "epochs"): 0, ("train", "lr_decay_epochs"): 0, ("train", "image_pool"): 0, ("train", "batch_size"): 1,
    ("train", "seed"): 0, ("train", "max_steps"): 0, ("train", "save_every_steps"): 0, ("train", "log_every_steps"): 1,
    ("eval", "every"): 0, ("eval", "size"): 16, ("eval", "limit"): 1, ("eval", "hints"): 0,
    ("hints", "max_count"): 0, ("hints", "mean_count"): 0, ("hints", "spread"): 0, ("hints", "jitter"): 0,
    ("loss", "l1_weight"): 0, ("loss", "l1_power"): 0, ("loss", "tv_weight"): 0, ("loss", "tv_power"): 0,
    ("loss", "gp_weight"): 0, ("loss", "cycle_weight"): 0, ("loss", "identity_weight"): 0,
}
POSITIVE = {("train", "lr")}  # above zero
FRACTIONS = {  # in [0, 1]
    ("data", "line_jitter"), ("data", "paper_jitter"), ("data", "redraw_pairs"), ("generator", "dropout"),
    ("train", "beta1"), ("train", "beta2"), ("hints", "none_share"), ("hints", "stroke_share"),
    ("hints", "radius_min"), ("hints", "radius_max"), ("hints", "stroke_min"), ("hints", "stroke_max"),
}


@dataclass
class DataConfig:
    size: int = 256  # side of the square training images (the paper: 256)
    load_size: int | None = None  # resize to this, then random-crop `size` (None: no crop jitter)
    sketch_side: str = "auto"  # which half of a side-by-side pair is the sketch: auto|left|right
    flip: bool = False  # random horizontal flip of the pair
    scale_jitter: bool = False  # crop a random side between size and load_size, resized to size
    line_jitter: float = 0.0  # probability of thicker or thinner sketch lines
    paper_jitter: float = 0.0  # probability of paper tone, grain and pencil-light lines on the sketch
    # Share of training pairs whose sketch is drawn afresh from their colors in a random line
    # style (as --colors sets are), so a few pages are not learned with only one line style.
    redraw_pairs: float = 0.0
    val_count: int = 8  # pairs held out of train/ for sample grids when there is no val/
    color_val_count: int = 300  # images a color-only set (--colors) holds out by file when it has no val/
    grid_count: int = 8  # validation pairs shown in each epoch's sample grid
    num_workers: int = 2  # DataLoader worker processes (0: load in the training process)
    cache_dir: str | None = None  # decoded-pair cache; None: $XDG_CACHE_HOME/sketchcolor


@dataclass
class GeneratorConfig:
    name: str = "resunet"  # registered generator architecture
    ngf: int = 64  # channels of the first encoder stage (doubling up to ngf*8)
    depth: int = 8  # stride-2 convolutions down; the paper's 8 fits 256 px inputs
    activation: str = "mish"  # mish (eq. 4) | relu | leaky_relu | swish
    encoder_activation: str | None = None  # None: same as activation; pix2pix: leaky_relu
    norm: str = "batch"  # batch | instance | none
    residual: bool = True  # residual units (identity shortcuts) inside the stages
    residual_from: int = 4  # first encoder level (0-based) that gets a residual unit
    dropout: float = 0.5  # dropout in the first three decoder stages, as pix2pix
    blocks: int = 9  # residual blocks of the `resnet` (CycleGAN) generator; 9 at 256 px
    in_channels: int = 1  # a gray sketch in
    out_channels: int = 3  # RGB out
    # image: the network paints the whole page (the paper). flat: it paints the color layer under
    # the lines, and its page is that layer with the sketch multiplied over: what `--lines keep`
    # gives a user, so the losses and the discriminator judge exactly that.
    output: str = "image"
    # Color hints (hints.py) as 4 more input channels: RGB x mask, and the mask. All zero
    # without hints, so the weights they feed do not change a page colorized without them.
    hints: bool = False


@dataclass
class DiscriminatorConfig:
    name: str = "resnet3"  # resnet3 (the paper's 3 conv layers + residual) | patchgan (pix2pix)
    ndf: int = 64  # channels of the first layer
    n_layers: int = 3  # stride-2 convolution layers
    activation: str = "mish"
    norm: str = "instance"  # batch norm would couple samples and break the per-sample gradient penalty
    residual: bool = True
    in_channels: int = 4  # sketch + color for a conditional D; CycleGAN's see one image (3 or 1)


@dataclass
class LossConfig:
    gan_mode: str = "bce"  # bce (eq. 6, 10-11) | wgan-gp (eq. 13) | lsgan
    l1_weight: float = 100.0  # lambda of eq. 5
    l1_power: float = 2.0  # eq. 5 squares the mean L1; pix2pix uses 1
    tv_weight: float = 100.0  # lambda of eq. 5 on the total-variation term
    tv_power: float = 2.0
    gp_weight: float = 10.0  # lambda of eq. 12; 0 disables the gradient penalty
    cycle_weight: float = 10.0  # CycleGAN: weight of each cycle-consistency L1 (train.trainer: cyclegan)
    identity_weight: float = 0.5  # CycleGAN: identity L1, as a fraction of cycle_weight
    # Hint-capable generators: an extra L1 (this weight, not squared) over the pixels whose true
    # color lies within hint_color_distance (RGB in [-1, 1]) of a color hinted on their page,
    # anywhere on it: the pixels a hint says something about, so following it pays (0: off).
    hint_l1_weight: float = 0.0
    hint_color_distance: float = 0.15


@dataclass
class TrainConfig:
    trainer: str = "paired"  # paired: pix2pix/paper (sketch and its colors); cyclegan: unpaired domains
    epochs: int = 300
    lr_decay_epochs: int = 0  # decay the learning rate linearly to 0 over the last N epochs
    image_pool: int = 0  # CycleGAN: Ds also see up to N earlier generated images (Shrivastava et al.)
    batch_size: int = 100
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    seed: int = 0
    max_steps: int | None = None  # stop after this many optimizer steps (None: run all epochs)
    save_every_steps: int = 500  # also checkpoint mid-epoch every N steps (0: only per epoch)
    log_every_steps: int = 10  # TensorBoard scalar interval
    amp: bool = True  # mixed precision on CUDA (bf16, else fp16 with a grad scaler)
    amp_on_cpu: bool = False  # bf16 autocast on the CPU too: faster, not bit-exact (measured: benchmarks/README.md)
    # torch.compile the networks' training forwards (not the gradient penalty's: compiled graphs
    # have no double backward). Not bit-exact with eager; measured in benchmarks/README.md.
    compile: bool = False
    sync_batchnorm: bool = False  # under torchrun: batch-norm statistics over the global batch
    keep_epochs: list[int] = field(default_factory=list)  # also keep the generator after these epochs
    # (0: before training) in epochs/epoch_NNNN/, for `compare --epochs` grids over training
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    # Fine-tuning: start the generator from a model directory or run (the discriminator and the
    # optimizers start anew). The model's generator section must equal this config's.
    init_from: str | None = None
    # Exponential moving average of the generator's weights (0: off). The averaged generator is
    # the one validated, sampled and saved: the last steps' noise cancels out (as in StyleGAN's
    # G_ema); 1 / (1 - decay) steps is about the span averaged.
    ema_decay: float = 0.0


@dataclass
class HintConfig:
    """Color hints for a generator with generator.hints: how training draws them from the true
    colors (hints.simulate_hints: ideepcolor's and PaintsChainer's recipes, in fractions of the
    image's side so they hold at any training size), and how the network's input spreads them."""

    # How far (a fraction of the working size) each hint's color is spread through the paper
    # around it, up to the lines, in the hint channels (hints.spread_hints; 0: the dots alone).
    # Part of the model's input: training and colorizing use the model's own value.
    spread: float = 0.1

    none_share: float = 0.4  # samples with no hints at all (PaintsChainer: 40%)
    mean_count: float = 8.0  # mean number of marks when there are any (geometric, ideepcolor's p = 1/8)
    max_count: int = 32
    stroke_share: float = 0.3  # marks that are short strokes rather than dots
    radius_min: float = 0.004  # dot radius range
    radius_max: float = 0.016
    stroke_min: float = 0.03  # stroke length range
    stroke_max: float = 0.12
    jitter: float = 4.0  # standard deviation of the color jitter, in 8-bit levels


@dataclass
class EvalConfig:
    every: int = 1  # evaluate the validation split every N epochs (0: never)
    metric: str = "ssim_mean"  # which metric picks the `best` generator
    size: int | None = None  # scored size of validation pages (None: 256, what `evaluate` scores at)
    limit: int | None = None  # evaluate at most this many pairs (None: all)
    fid_weights: str | None = None  # FID Inception weights file (None: env var or torch hub cache)
    hints: int = 0  # hints per validation page, drawn from its true colors (a hint-capable generator)


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    hints: HintConfig = field(default_factory=HintConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "Config":
        config = _build(cls, raw, "")
        _check_ranges(config)
        for (section, name), allowed in CHOICES.items():
            value = getattr(getattr(config, section), name)
            if value not in allowed:
                raise SketchcolorError(f"config {section}.{name} must be one of {', '.join(allowed)}, not {value!r}")
        if config.generator.output == "flat" and config.train.trainer != "paired":
            raise SketchcolorError("config generator.output=flat needs train.trainer=paired (CycleGAN's generators paint whole images)")
        stride = 2**config.generator.depth
        if config.generator.name == "resunet" and config.data.size % stride:
            raise SketchcolorError(f"config data.size {config.data.size} must be a multiple of {stride}: "
                                   f"the U-Net halves it generator.depth={config.generator.depth} times")
        if not 0 <= config.train.ema_decay < 1:
            raise SketchcolorError(f"config train.ema_decay must be in [0, 1), not {config.train.ema_decay}")
        return config

    def with_overrides(self, overrides: list[str]) -> "Config":
        """Apply `section.key=value` strings; values are parsed as YAML scalars."""
        raw = self.to_dict()
        for item in overrides:
            key, sep, text = item.partition("=")
            parts = key.strip().split(".")
            if not sep or len(parts) != 2:
                raise SketchcolorError(f"override {item!r} is not of the form section.key=value")
            section, name = parts
            if section not in raw or name not in raw[section]:
                raise SketchcolorError(f"unknown config key {key!r}")
            raw[section][name] = yaml.safe_load(text)
        return Config.from_dict(raw)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))


def preset_names() -> list[str]:
    """Names of the bundled presets (`configs/*.yaml`), as `load_config` accepts them."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_config(name_or_path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Load a preset by name (`paper`, `tiny`...) or a YAML file, then apply overrides."""
    if name_or_path is None:
        config = Config()
    else:
        path = Path(name_or_path)
        if not path.exists() and (PRESET_DIR / f"{name_or_path}.yaml").exists():
            path = PRESET_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            raise SketchcolorError(f"config {name_or_path} not found (presets: {', '.join(preset_names())})")
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            raise SketchcolorError(f"config {path} is not valid YAML: {err}".splitlines()[0]) from None
        try:
            config = Config.from_dict(raw)
        except SketchcolorError as err:
            raise SketchcolorError(f"{path}: {err}") from None
    return config.with_overrides(overrides or [])


def _build(cls: type, raw: Any, where: str) -> Any:
    """Build dataclass `cls` from a dict, rejecting unknown keys and wrong types by name."""
    if not isinstance(raw, dict):
        raise SketchcolorError(f"config {where or 'root'} must be a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(raw) - known
    if unknown:
        raise SketchcolorError(f"unknown config key(s) {sorted(unknown)} in {where or 'root'}")
    values = {}
    for name, value in raw.items():
        key = f"{where}.{name}" if where else name
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            values[name] = _build(hint, value, key)
        else:
            values[name] = _coerce(value, hint, key)
    return cls(**values)


def _check_ranges(config: Config) -> None:
    """Refuse numbers outside AT_LEAST, POSITIVE and FRACTIONS by key (NaN fails every test)."""
    def value_of(key: tuple[str, str]):
        return getattr(getattr(config, key[0]), key[1])

    for key, least in AT_LEAST.items():
        value = value_of(key)
        if value is not None and not value >= least:
            raise SketchcolorError(f"config {'.'.join(key)} must be at least {least}, not {value}")
    for key in POSITIVE:
        if not value_of(key) > 0:
            raise SketchcolorError(f"config {'.'.join(key)} must be above 0, not {value_of(key)}")
    for key in FRACTIONS:
        if not 0 <= value_of(key) <= 1:
            raise SketchcolorError(f"config {'.'.join(key)} must be from 0 to 1, not {value_of(key)}")


def _coerce(value: Any, hint: Any, key: str) -> Any:
    allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None and type(None) in allowed:
        return None
    for kind in allowed:
        if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if kind is float and isinstance(value, str):  # YAML 1.1 reads "1e-3" as a string
            try:
                return float(value)
            except ValueError:
                pass
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind in (str, bool) and isinstance(value, kind):
            return value
        if typing.get_origin(kind) is list and isinstance(value, list):
            (item,) = typing.get_args(kind)
            return [_coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    names = " or ".join(getattr(k, "__name__", str(k)) for k in allowed)
    raise SketchcolorError(f"config {key} must be {names}, got {value!r}")
