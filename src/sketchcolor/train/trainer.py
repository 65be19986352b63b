"""The GAN training loop: `d_step` and `g_step` alternate on each batch; `fit` adds epochs,
logging, sample grids and checkpoints that resume to exactly the same next steps.

Run folder layout:
    config.yaml          the resolved config
    latest/              model directory of the newest generator (loadable by `colorize`)
    state/               resumable training state (D, optimizers, counters, RNG)
    samples/epoch_NNNN.png
    tb/  log.jsonl       TensorBoard events and the same scalars as JSON lines
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time
from pathlib import Path

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader
from tqdm import tqdm

from .. import losses
from ..checkpoint import load_model, load_state, resolve_model_dir, save_model, save_state
from ..compose import render
from ..config import Config
from ..data import DataSource, EpochSampler, train_val_sets
from ..device import resolve_device
from ..models import build_discriminator, build_generator
from ..errors import SketchcolorError
from .distributed import any_rank, average_gradients, broadcast_state, init_distributed
from .validation import Validator
from .visuals import ScalarLog, sample_grid, save_grid

log = logging.getLogger("sketchcolor")


class Trainer:
    def __init__(self, config: Config, run_dir: str | Path, data: str | Path | list[DataSource] | None = None) -> None:
        self.config, self.run_dir = config, Path(run_dir)
        self.device = resolve_device(config.train.device)
        self.dist = init_distributed(self.device.type)
        if self.device.type == "cuda" and self.dist.enabled:
            self.device = torch.device("cuda", self.dist.local_rank)
        # Mixed precision: on CUDA by default; on the CPU only when asked (bf16 there).
        on_cuda = self.device.type == "cuda"
        self.use_amp = config.train.amp and (on_cuda or config.train.amp_on_cpu)
        self.amp_dtype = torch.float16 if on_cuda and not torch.cuda.is_bf16_supported() else torch.bfloat16
        # channels_last: tensor cores on CUDA; on the CPU it speeds oneDNN's bf16 kernels (~10%).
        self.layout = torch.channels_last if on_cuda or self.use_amp else torch.contiguous_format
        self.generator, self.discriminator = self._build_networks()
        if config.train.init_from:
            self._start_generator_from(config.train.init_from)
        self.ema = self._average_of(self.generator)
        self.g_opt = self._adam(self.generator)
        self.d_opt = self._adam(self.discriminator)
        # A grad scaler only matters for fp16; bf16 has fp32's exponent range.
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp and self.amp_dtype == torch.float16)
        self.epoch = self.epoch_step = self.step = 0
        self.best: float | None = None  # best validation value of eval.metric so far
        self._stop_signal: int | None = None
        if data is not None:  # one folder, or several sources mixed (validation from the first)
            self.train_set, self.val_set = train_val_sets(data, config.data, config.train.seed)

    def _build_networks(self) -> tuple[torch.nn.Module, torch.nn.Module]:
        config = self.config
        torch.manual_seed(config.train.seed)  # the same initial weights on every rank
        networks = [build_generator(config.generator), build_discriminator(config.discriminator)]
        if self.dist.enabled:
            if config.train.sync_batchnorm:
                networks = [torch.nn.SyncBatchNorm.convert_sync_batchnorm(n) for n in networks]
            # Dropout masks and penalty mixing weights must differ between ranks.
            torch.manual_seed(config.train.seed * 1_009 + self.dist.rank)
        if self.device.type == "cuda":  # autotuned conv kernels
            torch.backends.cudnn.benchmark = True
        networks = [n.to(memory_format=self.layout) for n in networks]
        return networks[0].to(self.device), networks[1].to(self.device)

    def _start_generator_from(self, model: str) -> None:
        """Fine-tune: the generator's weights from a model directory or run folder."""
        source, source_config, _ = load_model(resolve_model_dir(model))
        if source_config.generator != self.config.generator:
            raise SketchcolorError(f"train.init_from {model}: its generator ({source_config.generator}) "
                                   f"differs from this config's ({self.config.generator})")
        self.generator.load_state_dict(source.state_dict())
        log.info("generator starts from %s", model)

    def _average_of(self, generator: torch.nn.Module) -> AveragedModel | None:
        decay = self.config.train.ema_decay
        if decay == 0:
            return None
        # use_buffers: batch-norm statistics are averaged too, so they fit the averaged weights.
        return AveragedModel(generator, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)

    @property
    def shipped_generator(self) -> torch.nn.Module:
        """The generator that is validated, sampled and saved: the averaged one when train.ema_decay is set."""
        return self.ema.module if self.ema is not None else self.generator

    def _adam(self, module: torch.nn.Module) -> torch.optim.Adam:
        t = self.config.train
        return torch.optim.Adam(module.parameters(), lr=t.lr, betas=(t.beta1, t.beta2))

    def _autocast(self):
        if not self.use_amp:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    # --- one optimisation step ---------------------------------------------------------
    def d_step(self, sketch: torch.Tensor, color: torch.Tensor, fake: torch.Tensor) -> losses.LossTerms:
        """Update D on real and (detached) generated colors, eq. 9-12."""
        cfg = self.config.loss
        with self._autocast():
            real_logits = self.discriminator(sketch, color).float()
            fake_logits = self.discriminator(sketch, fake.detach()).float()
        penalty = torch.zeros((), device=self.device)
        if cfg.gp_weight > 0:  # in fp32: the penalty's second-order gradients are fragile in half precision
            penalty = losses.gradient_penalty(lambda c: self.discriminator(sketch, c), color, fake.float())
        terms = losses.discriminator_loss(real_logits, fake_logits, penalty, cfg)
        self._update(self.discriminator, self.d_opt, terms.total)
        return terms

    def g_step(self, sketch: torch.Tensor, color: torch.Tensor, fake: torch.Tensor,
               painted: torch.Tensor) -> losses.LossTerms:
        """Update G against the just-updated D, eq. 5-8 (D's weights are frozen meanwhile).
        `fake` is the page, `painted` what the generator produced (the same tensor unless it
        paints under the lines)."""
        self.discriminator.requires_grad_(False)
        with self._autocast():
            fake_logits = self.discriminator(sketch, fake).float()
        terms = losses.generator_loss(fake_logits, fake.float(), color, self.config.loss, painted=painted.float())
        self._update(self.generator, self.g_opt, terms.total)
        self.discriminator.requires_grad_(True)
        return terms

    def _update(self, module: torch.nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.dist.enabled:
            average_gradients(module, self.dist.world_size)
        self.scaler.step(optimizer)

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        sketch = batch["sketch"].to(self.device, non_blocking=True, memory_format=self.layout)
        color = batch["color"].to(self.device, non_blocking=True, memory_format=self.layout)
        with self._autocast():
            painted = self.generator(sketch)
            fake = render(painted, sketch, self.config.generator.output)
        d_terms = self.d_step(sketch, color, fake)
        g_terms = self.g_step(sketch, color, fake, painted)
        self.scaler.update()
        if self.dist.enabled and not self.config.train.sync_batchnorm:
            # As DDP does: rank 0's batch-norm statistics are everyone's.
            broadcast_state(self.generator, parameters=False)
            broadcast_state(self.discriminator, parameters=False)
        if self.ema is not None:
            self.ema.update_parameters(self.generator)
        self.step += 1
        scalars = {f"d/{k}": v for k, v in d_terms.scalars().items()}
        scalars.update({f"g/{k}": v for k, v in g_terms.scalars().items()})
        return scalars

    # --- the loop ----------------------------------------------------------------------
    def loader(self) -> tuple[DataLoader, EpochSampler]:
        world = self.dist.world_size
        if self.config.train.batch_size % world:
            raise SketchcolorError(f"train.batch_size {self.config.train.batch_size} is not divisible by {world} processes")
        # train.batch_size is the global batch: each process takes its share.
        batch = min(self.config.train.batch_size, len(self.train_set)) // world
        sampler = EpochSampler(len(self.train_set), seed=self.config.train.seed, rank=self.dist.rank, world_size=world)
        loader = DataLoader(
            self.train_set,
            batch_size=batch,
            sampler=sampler,
            drop_last=True,
            num_workers=self.config.data.num_workers,
            pin_memory=self.device.type == "cuda",
            # Its own generator: a DataLoader draws a seed per epoch, which must not come
            # from the global RNG whose state a resumed run restores mid-stream.
            generator=torch.Generator(),
        )
        return loader, sampler

    def fit(self) -> None:
        """Train until `train.epochs` (or `train.max_steps`), a signal, or the end."""
        if self.dist.is_main:  # only rank 0 writes logs, grids and checkpoints
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self.config.save(self.run_dir / "config.yaml")
            self.scalar_log = ScalarLog(self.run_dir, resume_step=self.step if self.step else None)
            self.validator = Validator(self.config, self.run_dir, self.device)
            self.validator.best = self.best
        loader, sampler = self.loader()
        if self.step == 0:
            self._keep_epoch()  # epoch 0: the untrained generator, if asked for
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            while self.epoch < self.config.train.epochs and not self._should_stop():
                self._set_learning_rate()
                sampler.set_epoch(self.epoch, start=self.epoch_step * loader.batch_size)
                self.run_epoch(loader)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if self.dist.is_main:
                self.scalar_log.close()

    def run_epoch(self, loader: DataLoader) -> None:
        total = self.config.train.epochs
        bar = tqdm(loader, desc=f"epoch {self.epoch + 1}/{total}", initial=self.epoch_step,
                   total=self.epoch_step + len(loader), leave=False, dynamic_ncols=True,
                   disable=not self.dist.is_main)
        sums: dict[str, float] = {}
        started, seen, steps = time.perf_counter(), 0, 0
        for batch in bar:
            scalars = self.train_step(batch)
            self.epoch_step += 1
            steps += 1
            seen += batch["sketch"].shape[0]
            scalars["images_per_s"] = seen / (time.perf_counter() - started)
            for key, value in scalars.items():
                sums[key] = sums.get(key, 0.0) + value
            bar.set_postfix(g=f"{scalars['g/total']:.3f}", d=f"{scalars['d/total']:.3f}")
            if self.dist.is_main and self.step % self.config.train.log_every_steps == 0:
                self.scalar_log.scalars(self.step, scalars)
            if self.config.train.save_every_steps and self.step % self.config.train.save_every_steps == 0:
                self.save()
            if self._should_stop():
                self.save()
                return
        bar.close()
        self._end_epoch({k: v / max(1, steps) for k, v in sums.items()})

    def _end_epoch(self, means: dict[str, float]) -> None:
        self.epoch += 1
        self.epoch_step = 0
        if not self.dist.is_main:
            return
        grid = self.sample_grid()
        save_grid(grid, self.run_dir / "samples" / f"epoch_{self.epoch:04d}.png")
        self.scalar_log.image("samples", grid, self.step)
        summary = ", ".join(f"{k}={v:.4g}" for k, v in means.items() if k in ("g/gan", "g/l1", "g/tv", "d/total", "images_per_s"))
        if self.validator.due(self.epoch):
            metrics = self.validator(self.shipped_generator, self.val_set, self.epoch, self.step)
            self.best = self.validator.best
            self.scalar_log.scalars(self.step, {f"eval/{k}": v for k, v in metrics.items() if v is not None})
            summary += f", val {self.config.eval.metric}={metrics.get(self.config.eval.metric)}"
        tqdm.write(f"epoch {self.epoch}/{self.config.train.epochs} step {self.step}: {summary}")
        self.save()
        self._keep_epoch()

    def _keep_epoch(self) -> None:
        if self.dist.is_main and self.epoch in self.config.train.keep_epochs:
            save_model(self.run_dir / "epochs" / f"epoch_{self.epoch:04d}", self.shipped_generator, self.config,
                       epoch=self.epoch, step=self.step)

    def sample_grid(self) -> torch.Tensor:
        count = min(self.config.data.grid_count, len(self.val_set))
        pairs = [self.val_set[i] for i in range(count)]
        sketches = torch.stack([p["sketch"] for p in pairs]).to(self.device)
        colors = torch.stack([p["color"] for p in pairs]).to(self.device)
        return sample_grid(self.shipped_generator, sketches, colors, self.config.generator.output)

    def _set_learning_rate(self) -> None:
        """pix2pix/CycleGAN's schedule: constant, then linear to 0 over the last lr_decay_epochs.
        A function of the epoch alone, so a resumed run gets the same rates."""
        t = self.config.train
        decayed = max(0, self.epoch + t.lr_decay_epochs - t.epochs + 1) if t.lr_decay_epochs else 0
        lr = t.lr * (1 - decayed / (t.lr_decay_epochs + 1))
        for optimizer in (self.g_opt, self.d_opt):
            for group in optimizer.param_groups:
                group["lr"] = lr

    def _should_stop(self) -> bool:
        max_steps = self.config.train.max_steps
        signalled = self._stop_signal is not None
        if self.dist.enabled:
            signalled = any_rank(signalled, self.device)
        return signalled or (max_steps is not None and self.step >= max_steps)

    def _on_signal(self, signum: int, frame) -> None:
        if self._stop_signal is not None:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self._stop_signal = signum
        tqdm.write(f"signal {signum}: saving after this step; run again with --resume to continue")

    # --- checkpoints -------------------------------------------------------------------
    def _stateful(self) -> dict:
        parts = {"generator": self.generator, "discriminator": self.discriminator,
                 "g_opt": self.g_opt, "d_opt": self.d_opt}
        if self.scaler.is_enabled():
            parts["scaler"] = self.scaler
        if self.ema is not None:
            parts["ema"] = self.ema
        return parts

    def save(self) -> None:
        """Write the generator (latest/) and the resumable state (state/); rank 0 only."""
        if not self.dist.is_main:
            return
        save_model(self.run_dir / "latest", self.shipped_generator, self.config, epoch=self.epoch, step=self.step)
        counters = {"epoch": self.epoch, "epoch_step": self.epoch_step, "step": self.step, "best": self.best}
        save_state(self.run_dir / "state", self._stateful(), counters)

    def resume(self) -> bool:
        """Continue from run_dir/state if it exists; returns whether it did."""
        if not (self.run_dir / "state" / "state.json").exists():
            return False
        counters = load_state(self.run_dir / "state", self._stateful(), self.device)
        self.epoch, self.epoch_step, self.step = counters["epoch"], counters["epoch_step"], counters["step"]
        self.best = counters.get("best")
        if self.dist.enabled:  # the saved RNG state is rank 0's: give each rank its own stream again
            torch.manual_seed(self.config.train.seed * 1_009 + self.dist.rank + 7_919 * self.step)
        log.info("resumed %s at epoch %d, step %d", self.run_dir, self.epoch, self.step)
        return True
