"""Model directories and training states: safetensors + JSON, each folder written atomically.

A model directory (`config.json` + `generator.safetensors`) describes itself: loading it
rebuilds the generator with no other flag. A training state adds everything needed to
continue bit-for-bit: the discriminator, both optimizers, counters and RNG states.
Nothing here unpickles: tensors come from safetensors, everything else from JSON.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from .atomic import FILE_MODE, atomic_directory, recover_directory
from .config import Config
from .errors import SketchcolorError
from .models import build_generator

MODEL_FORMAT = "sketchcolor-generator/1"  # config.json's "format": bump when the layout changes
STATE_FORMAT = "sketchcolor-train-state/1"  # state.json's "format", likewise
WEIGHTS_FILE = "generator.safetensors"
CONFIG_FILE = "config.json"
STATE_TENSORS, STATE_JSON = "state.safetensors", "state.json"
DEFAULT_MODEL = Path(__file__).parent / "weights" / "default"  # the bundled model, installed with the package
RUN_GENERATORS = ("best", "latest")  # a run folder's model directories, in the order one is loaded


def save_model(directory: str | Path, generator: nn.Module, config: Config, *, half: bool = False, **info: Any) -> Path:
    """Write `generator` and the config that rebuilds it; `info` (e.g. epoch) goes into config.json.

    `half` stores floating-point weights as float16 (half the size; loading converts back).
    """
    generator = getattr(generator, "module", generator)  # unwrap DDP / compiled wrappers
    state = generator.state_dict()
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    meta = {"format": MODEL_FORMAT, "config": config.to_dict(), "info": info}
    _write_folder(Path(directory), WEIGHTS_FILE, state, CONFIG_FILE, json.dumps(meta, indent=2))
    return Path(directory)


def load_model(directory: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, Config, dict]:
    """Rebuild the generator of a model directory; returns (generator in eval mode, config, info)."""
    directory = Path(directory)
    if not (directory / CONFIG_FILE).is_file() or not (directory / WEIGHTS_FILE).is_file():
        raise SketchcolorError(f"{directory} is not a model directory (needs {CONFIG_FILE} and {WEIGHTS_FILE})")
    meta, state = _read_folder(directory, WEIGHTS_FILE, CONFIG_FILE, MODEL_FORMAT, device)
    if "config" not in meta:
        raise SketchcolorError(f"{directory}: {CONFIG_FILE} holds no config; not a sketchcolor model directory")
    try:
        config = Config.from_dict(meta["config"])
        generator = build_generator(config.generator)
    except SketchcolorError as err:
        raise SketchcolorError(f"{directory}: {CONFIG_FILE} holds a config this version cannot build ({err})") from None
    # Weights may be stored in half precision to keep the bundled model small.
    load_weights(generator, {k: v.float() if v.is_floating_point() else v for k, v in state.items()},
                 f"{directory}: {WEIGHTS_FILE} does not fit the generator {CONFIG_FILE} describes")
    return generator.to(device).eval(), config, meta.get("info", {})


def load_weights(module: nn.Module | Any, state: dict[str, Any], mismatch: str) -> None:
    """`module.load_state_dict(state)`, with a mismatch (missing, unexpected or differently shaped
    tensors: weights of another architecture) as one SketchcolorError: `mismatch` + the first difference."""
    try:
        module.load_state_dict(state)
    except (RuntimeError, KeyError, ValueError) as err:
        detail = next((line.strip() for line in str(err).splitlines()[1:] if line.strip()), str(err))
        raise SketchcolorError(f"{mismatch} ({detail.rstrip('.')})") from None


def _write_folder(directory: Path, tensors_file: str, tensors: dict[str, torch.Tensor], json_file: str, text: str) -> None:
    """Safetensors + JSON as one folder, replaced whole: new tensors never sit beside old JSON."""
    try:
        with atomic_directory(directory, owned=(tensors_file, json_file)) as tmp:
            save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp / tensors_file))
            # safetensors creates its files private (0600); give them the mode of every other output.
            os.chmod(tmp / tensors_file, FILE_MODE)
            (tmp / json_file).write_text(text)
    except (SafetensorError, OSError) as err:  # a full disk, most likely
        kept = "the previous one is kept whole" if directory.exists() else "nothing was written"
        raise SketchcolorError(f"{directory}: could not be written ({_reason(err)}); {kept}") from None


def _reason(err: Exception) -> str:
    """An OS error's own words (\"No space left on device\"), not the library's wrapping."""
    text = getattr(err, "strerror", None) or str(err)
    return text.rsplit("I/O error: ", 1)[-1]


def _read_folder(directory: Path, tensors_file: str, json_file: str, expected: str,
                 device: str | torch.device = "cpu") -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """What `_write_folder` wrote, once its JSON says a format this version reads."""
    meta = _read_meta(directory, json_file, expected)
    try:
        return meta, load_file(str(directory / tensors_file), device=str(device))
    except (SafetensorError, OSError) as err:
        raise SketchcolorError(f"{directory}: unreadable {tensors_file} ({err})") from None


def _read_meta(directory: Path, json_file: str, expected: str) -> dict[str, Any]:
    try:
        meta = json.loads((directory / json_file).read_text())
    except (json.JSONDecodeError, OSError) as err:
        raise SketchcolorError(f"{directory}: unreadable {json_file} ({err})") from None
    if not isinstance(meta, dict):
        raise SketchcolorError(f"{directory}: {json_file} is not a sketchcolor file")
    check_format(meta.get("format"), expected, directory)
    return meta


def model_info(directory: str | Path) -> dict:
    """The `info` a model directory's config.json records (epoch, step, ...), without loading its weights."""
    return _read_meta(Path(directory), CONFIG_FILE, MODEL_FORMAT).get("info", {})


def check_format(found: str | None, expected: str, where: Path) -> None:
    """Refuse a file this version cannot read. None (no "format" field) is a file from before the
    field existed; its layout is the first one's, so it is read as such."""
    if found is None or found == expected:
        return
    kind, _, version = str(found).rpartition("/")
    our_kind, _, our_version = expected.rpartition("/")
    if kind == our_kind and version.isdigit() and int(version) > int(our_version):
        raise SketchcolorError(f"{where} was written by a newer sketchcolor (format {found}); "
                               f"this version reads {expected}: upgrade sketchcolor to load it")
    raise SketchcolorError(f"{where} has format {found!r}, which this version does not read (it reads {expected})")


def resolve_model_dir(path: str | Path | None) -> Path:
    """None -> the bundled model; a run folder -> its best generator (by validation), else
    its latest; anything else is taken as a model directory."""
    if path is None:
        if not DEFAULT_MODEL.is_dir():
            raise SketchcolorError(f"the bundled model is missing from {DEFAULT_MODEL}; reinstall sketchcolor")
        return DEFAULT_MODEL
    path = Path(path)
    if not path.exists():
        raise SketchcolorError(f"model {path} does not exist")
    if not (path / CONFIG_FILE).exists():
        for candidate in RUN_GENERATORS:
            if (path / candidate / CONFIG_FILE).exists():
                return path / candidate
    return path


def run_folder(model_dir: Path) -> Path:
    """The run a best/ or latest/ generator belongs to; any other model directory itself."""
    return model_dir.parent if model_dir.name in RUN_GENERATORS else model_dir


def model_label(model_dir: Path) -> str:
    """A run's name for its best/ or latest/ generator, else the directory's own name."""
    return run_folder(model_dir).name


def save_state(directory: str | Path, modules: dict[str, Any], counters: dict[str, Any]) -> None:
    """Write a resumable training state: modules/optimizers by name, counters and RNG states,
    as one folder that replaces the previous state whole (see `atomic_directory`)."""
    tensors: dict[str, torch.Tensor] = {"rng/torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for index, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda{index}"] = state
    plain: dict[str, Any] = {"format": STATE_FORMAT, "counters": counters, "python_rng": _jsonable(random.getstate())}
    plain["numpy_rng"] = _jsonable(np.random.get_state())
    for name, obj in modules.items():
        flat, rest = _flatten(obj.state_dict())
        tensors.update({f"{name}/{key}": value for key, value in flat.items()})
        plain[name] = rest
    _write_folder(Path(directory), STATE_TENSORS, tensors, STATE_JSON, json.dumps(plain))


def has_state(directory: str | Path) -> bool:
    """Whether `directory` holds a training state to resume (after finishing an interrupted save)."""
    recover_directory(directory)
    return (Path(directory) / STATE_JSON).is_file()


def load_state(directory: str | Path, modules: dict[str, Any], device: str | torch.device) -> dict[str, Any]:
    """Restore what `save_state` wrote into `modules`; returns the counters."""
    directory = Path(directory)
    plain, tensors = _read_folder(directory, STATE_TENSORS, STATE_JSON, STATE_FORMAT)
    missing = [name for name in (*modules, "counters", "python_rng", "numpy_rng") if name not in plain]
    if missing:
        raise SketchcolorError(f"{directory}: the training state lacks {', '.join(missing)}; "
                               "was it saved with another train.trainer, train.ema_decay or train.amp?")
    for name, obj in modules.items():
        prefix = f"{name}/"
        flat = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        state = _unflatten(flat, plain[name])
        if isinstance(obj, nn.Module):
            state = {k: v.to(device) for k, v in state.items()}
        load_weights(obj, state, f"{directory}: the saved {name} does not fit this run's config "
                                 "(was the run started with other generator or discriminator settings?)")
    torch.set_rng_state(tensors["rng/torch"])
    cuda_states = [tensors[k] for k in sorted(tensors) if k.startswith("rng/cuda")]
    if cuda_states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda_states)
    random.setstate(_tupled(plain["python_rng"]))
    kind, keys, pos, has_gauss, gauss = plain["numpy_rng"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, gauss))
    return plain["counters"]


def _flatten(state: Any, prefix: str = "") -> tuple[dict[str, torch.Tensor], Any]:
    """Split a nested state dict into {dotted key: tensor} and a JSON skeleton with markers."""
    if isinstance(state, torch.Tensor):
        return {prefix: state}, {"__tensor__": prefix}
    if isinstance(state, dict):
        flat, skeleton = {}, {}
        for key, value in state.items():
            sub_flat, skeleton[str(key)] = _flatten(value, f"{prefix}.{key}" if prefix else str(key))
            flat.update(sub_flat)
        return flat, {"__dict__": skeleton, "__intkeys__": all(isinstance(k, int) for k in state)}
    if isinstance(state, (list, tuple)):
        parts = [_flatten(v, f"{prefix}.{i}") for i, v in enumerate(state)]
        return {k: v for p in parts for k, v in p[0].items()}, {"__list__": [p[1] for p in parts]}
    return {}, state


def _unflatten(flat: dict[str, torch.Tensor], skeleton: Any) -> Any:
    if isinstance(skeleton, dict) and "__tensor__" in skeleton:
        return flat[skeleton["__tensor__"]]
    if isinstance(skeleton, dict) and "__dict__" in skeleton:
        cast = int if skeleton["__intkeys__"] and skeleton["__dict__"] else str
        return {cast(k): _unflatten(flat, v) for k, v in skeleton["__dict__"].items()}
    if isinstance(skeleton, dict) and "__list__" in skeleton:
        return [_unflatten(flat, v) for v in skeleton["__list__"]]
    return skeleton


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    return value


def _tupled(value: Any) -> Any:
    return tuple(_tupled(v) for v in value) if isinstance(value, list) else value
