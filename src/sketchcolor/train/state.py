"""What a training run saves and resumes, as one object: the networks, their optimizers, the
grad scaler and the counters. `Trainer` advances a `TrainState`; `save` and `load` write and
read it whole (one folder, replaced atomically: see `checkpoint.save_state`)."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ..checkpoint import load_model, load_state, resolve_model_dir, save_state
from ..config import Config, GeneratorConfig, TrainConfig
from ..errors import SketchcolorError
from ..models import build_discriminator, build_generator
from .distributed import Distributed

log = logging.getLogger("sketchcolor")

COUNTERS = ("epoch", "epoch_step", "step", "best")


@dataclass(kw_only=True, eq=False)
class TrainState:
    """A run's networks, optimizers, scaler and counters: built by `initial_state`, advanced by
    `Trainer`, written and read whole by `save` / `load` (with the RNG streams)."""

    generator: nn.Module
    discriminator: nn.Module
    g_opt: torch.optim.Optimizer
    d_opt: torch.optim.Optimizer
    scaler: torch.amp.GradScaler  # enabled only for fp16 autocast
    ema: AveragedModel | None = None  # the generator's running average, when train.ema_decay > 0
    epoch: int = 0  # epochs finished
    epoch_step: int = 0  # steps taken in the current epoch
    step: int = 0  # steps taken in all
    best: float | None = None  # best validation value of eval.metric so far

    @property
    def shipped_generator(self) -> nn.Module:
        """The generator that is validated, sampled and saved: the averaged one when train.ema_decay is set."""
        return self.ema.module if self.ema is not None else self.generator

    def parts(self) -> dict[str, Any]:
        """The saved modules and optimizers by name (the names prefix their tensors in the file)."""
        parts = {"generator": self.generator, "discriminator": self.discriminator, "g_opt": self.g_opt, "d_opt": self.d_opt}
        if self.scaler.is_enabled():
            parts["scaler"] = self.scaler
        if self.ema is not None:
            parts["ema"] = self.ema
        return parts

    def save(self, directory: str | Path) -> None:
        save_state(directory, self.parts(), {name: getattr(self, name) for name in COUNTERS})

    def load(self, directory: str | Path, device: torch.device) -> None:
        """Overwrite this state (weights, optimizers, counters, RNG streams) with the saved one."""
        counters = load_state(directory, self.parts(), device)
        for name in COUNTERS:
            setattr(self, name, counters.get(name))


def initial_state(config: Config, device: torch.device, dist: Distributed, layout: torch.memory_format,
              *, fp16: bool) -> TrainState:
    """The state a run starts from: fresh (or `train.init_from`) networks, optimizers, zero counters."""
    generator, discriminator = build_networks(config, device, dist, layout)
    if config.train.init_from:
        start_from(generator, config.train.init_from, config.generator)
    return TrainState(generator=generator, discriminator=discriminator, ema=average_of(generator, config.train.ema_decay),
                      g_opt=adam(config.train, generator), d_opt=adam(config.train, discriminator),
                      # A grad scaler only matters for fp16; bf16 has fp32's exponent range.
                      scaler=torch.amp.GradScaler("cuda", enabled=fp16))


def build_networks(config: Config, device: torch.device, dist: Distributed,
                   layout: torch.memory_format) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(config.train.seed)  # the same initial weights on every rank
    networks = [build_generator(config.generator), build_discriminator(config.discriminator)]
    if dist.enabled:
        if config.train.sync_batchnorm:
            networks = [nn.SyncBatchNorm.convert_sync_batchnorm(n) for n in networks]
        # Dropout masks and penalty mixing weights must differ between ranks.
        torch.manual_seed(config.train.seed * 1_009 + dist.rank)
    if device.type == "cuda":  # autotuned conv kernels
        torch.backends.cudnn.benchmark = True
    networks = [n.to(memory_format=layout) for n in networks]
    return networks[0].to(device), networks[1].to(device)


def start_from(generator: nn.Module, model: str, expected: GeneratorConfig) -> None:
    """Fine-tune: the generator's weights from a model directory or run folder."""
    source, source_config, _ = load_model(resolve_model_dir(model))
    gains_hints = expected.hints and not source_config.generator.hints
    if dataclasses.replace(source_config.generator, hints=expected.hints) != expected:
        raise SketchcolorError(f"train.init_from {model}: its generator ({source_config.generator}) "
                               f"differs from this config's ({expected})")
    state = source.state_dict()
    if gains_hints:
        state = with_hint_inputs(state, generator.state_dict())
    generator.load_state_dict(state)
    log.info("generator starts from %s%s", model, " (hint inputs at zero)" if gains_hints else "")


def with_hint_inputs(source: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A hint-less generator's weights for its hint-capable twin: the first layer's weights for
    the new input channels are zero, so with or without hints the twin starts out painting
    exactly what the source paints, and training teaches it to use them."""
    widened = dict(source)
    for name, weight in source.items():
        wanted = target[name].shape
        if weight.shape != wanted:  # only the first convolution's input side differs
            grown = torch.zeros(wanted, dtype=weight.dtype)
            grown[:, : weight.shape[1]] = weight
            widened[name] = grown
    return widened


def average_of(generator: nn.Module, decay: float) -> AveragedModel | None:
    if decay == 0:
        return None
    # use_buffers: batch-norm statistics are averaged too, so they fit the averaged weights.
    return AveragedModel(generator, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def adam(train: TrainConfig, *modules: nn.Module) -> torch.optim.Adam:
    """One Adam over the parameters of `modules`, with the config's rate and betas."""
    params = [p for module in modules for p in module.parameters()]
    return torch.optim.Adam(params, lr=train.lr, betas=(train.beta1, train.beta2))
