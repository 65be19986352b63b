"""The GAN training loop: `d_step` and `g_step` alternate on each batch; `fit` adds epochs,
logging, sample grids and checkpoints that resume to exactly the same next steps. What is
saved and resumed is one `TrainState` (state.py); the `Trainer` only advances it.

Run folder layout:
    config.yaml          the resolved config
    latest/              model directory of the newest generator (loadable by `colorize`)
    state/               resumable training state (G, D, EMA, optimizers, counters, RNG)
                         Each of the two is written whole to a hidden sibling, then renamed in.
    samples/epoch_NNNN.png
    tb/  log.jsonl       TensorBoard events and the same scalars as JSON lines
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from .. import losses
from ..checkpoint import has_state, save_model
from ..compose import render
from ..config import Config
from ..data import DataSource, EpochSampler, train_val_sets
from ..device import resolve_device
from ..errors import SketchcolorError
from ..runtime import native_bf16
from .distributed import any_rank, average_gradients, broadcast_state, init_distributed
from .state import TrainState, initial_state
from .validation import Validator, sample_grid
from .visuals import ScalarLog, save_grid

log = logging.getLogger("sketchcolor")


class Trainer:
    """Advances a `TrainState` (`self.state`) over a dataset: the steps, the epochs, the logs,
    the sample grids and the saves. Everything that is saved and resumed lives in the state."""

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
        if self.use_amp and not on_cuda and not native_bf16(self.device):  # asked for: it runs, with a warning
            log.warning("train.amp_on_cpu: bf16 is emulated on this CPU (no AVX512-BF16 or AMX), about 25x "
                        "slower than fp32; set train.amp_on_cpu=false here")
        # channels_last: tensor cores on CUDA; on the CPU it speeds oneDNN's bf16 kernels (~10%).
        self.layout = torch.channels_last if on_cuda or self.use_amp else torch.contiguous_format
        self.state = self.new_state()
        self.train_set, self.val_sets = None, []
        if data is not None:  # one folder, or several sources mixed (a validation set per source with val/)
            self.train_set, self.val_sets = train_val_sets(data, config.data, config.train.seed,
                                                         config.hints if config.generator.hints else None)
        # Only rank 0 validates and writes; the log is open while `fit` runs.
        self.validator = Validator(config, self.run_dir, self.device) if self.dist.is_main and data is not None else None
        self.scalar_log: ScalarLog | None = None
        self._stop_signal: int | None = None
        self._compiled: dict[int, Callable] = {}

    def new_state(self) -> TrainState:
        """The state a new run starts from (a trainer with more networks extends it)."""
        fp16 = self.use_amp and self.amp_dtype == torch.float16
        return initial_state(self.config, self.device, self.dist, self.layout, fp16=fp16)

    # The run's progress, as the command line reports it.
    @property
    def epoch(self) -> int:
        return self.state.epoch

    @property
    def step(self) -> int:
        return self.state.step

    @property
    def best(self) -> float | None:
        return self.state.best

    def _fast(self, module: torch.nn.Module) -> Callable:
        """`module`'s forward for the training step: compiled when `train.compile` (once per
        module; the module itself, which is saved and validated, stays eager)."""
        if not self.config.train.compile:
            return module
        if id(module) not in self._compiled:
            self._compiled[id(module)] = torch.compile(module)
        return self._compiled[id(module)]

    def _autocast(self):
        if not self.use_amp:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    # --- one optimisation step ---------------------------------------------------------
    def d_step(self, sketch: torch.Tensor, color: torch.Tensor, fake: torch.Tensor) -> losses.LossTerms:
        """Update D on real and (detached) generated colors, eq. 9-12."""
        cfg, discriminator = self.config.loss, self.state.discriminator
        with self._autocast():
            real_logits = self._fast(discriminator)(sketch, color).float()
            fake_logits = self._fast(discriminator)(sketch, fake.detach()).float()
        penalty = torch.zeros((), device=self.device)
        if cfg.gp_weight > 0:  # in fp32: the penalty's second-order gradients are fragile in half precision
            penalty = losses.gradient_penalty(lambda c: discriminator(sketch, c), color, fake.float())
        terms = losses.discriminator_loss(real_logits, fake_logits, penalty, cfg)
        self._update(discriminator, self.state.d_opt, terms.total)
        return terms

    def g_step(self, sketch: torch.Tensor, color: torch.Tensor, fake: torch.Tensor,
               painted: torch.Tensor, hints: torch.Tensor | None = None) -> losses.LossTerms:
        """Update G against the just-updated D, eq. 5-8 (D's weights are frozen meanwhile).
        `fake` is the page, `painted` what the generator produced (the same tensor unless it
        paints under the lines), `hints` the hint channels it was given (for loss.hint_l1_weight)."""
        discriminator = self.state.discriminator
        discriminator.requires_grad_(False)
        with self._autocast():
            fake_logits = self._fast(discriminator)(sketch, fake).float()
        terms = losses.generator_loss(fake_logits, fake.float(), color, self.config.loss, painted=painted.float(),
                                      hints=hints)
        self._update(self.state.generator, self.state.g_opt, terms.total)
        discriminator.requires_grad_(True)
        return terms

    def _update(self, module: torch.nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        self.state.scaler.scale(loss).backward()
        if self.dist.enabled:
            average_gradients(module, self.dist.world_size)
        self.state.scaler.step(optimizer)

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        state = self.state
        sketch = batch["sketch"].to(self.device, non_blocking=True, memory_format=self.layout)
        color = batch["color"].to(self.device, non_blocking=True, memory_format=self.layout)
        given, hints = sketch, None  # what the generator sees: the sketch, and the color hints if it takes them
        if "hints" in batch:
            hints = batch["hints"].to(self.device, non_blocking=True)
            given = torch.cat([sketch, hints], 1).contiguous(memory_format=self.layout)
        with self._autocast():
            painted = self._fast(state.generator)(given)
            fake = render(painted, sketch, self.config.generator.output)
        d_terms = self.d_step(sketch, color, fake)
        g_terms = self.g_step(sketch, color, fake, painted, hints)
        state.scaler.update()
        if self.dist.enabled and not self.config.train.sync_batchnorm:
            # As DDP does: rank 0's batch-norm statistics are everyone's.
            broadcast_state(state.generator, parameters=False)
            broadcast_state(state.discriminator, parameters=False)
        if state.ema is not None:
            state.ema.update_parameters(state.generator)
        state.step += 1
        scalars = {f"d/{k}": v for k, v in d_terms.scalars().items()}
        scalars.update({f"g/{k}": v for k, v in g_terms.scalars().items()})
        return scalars

    # --- the loop ----------------------------------------------------------------------
    def loader(self) -> tuple[DataLoader, EpochSampler]:
        if self.train_set is None:
            raise SketchcolorError("this trainer was made without data: pass data (a folder or sources) to train")
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
        state = self.state
        loader, sampler = self.loader()
        if self.dist.is_main:  # only rank 0 writes logs, grids and checkpoints
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self.config.save(self.run_dir / "config.yaml")
            self.scalar_log = ScalarLog(self.run_dir, start_step=state.step)
            self.validator.best = state.best
        if state.step == 0:
            self._keep_epoch()  # epoch 0: the untrained generator, if asked for
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            while state.epoch < self.config.train.epochs and not self._should_stop():
                self._set_learning_rate()
                sampler.set_epoch(state.epoch, start=state.epoch_step * loader.batch_size)
                self.run_epoch(loader)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if self.scalar_log is not None:
                self.scalar_log.close()
                self.scalar_log = None

    def run_epoch(self, loader: DataLoader) -> None:
        state, total = self.state, self.config.train.epochs
        bar = tqdm(loader, desc=f"epoch {state.epoch + 1}/{total}", initial=state.epoch_step,
                   total=state.epoch_step + len(loader), leave=False, dynamic_ncols=True,
                   disable=not self.dist.is_main)
        sums: dict[str, float] = {}
        started, seen, steps = time.perf_counter(), 0, 0
        for batch in bar:
            scalars = self.train_step(batch)
            state.epoch_step += 1
            steps += 1
            seen += batch["sketch"].shape[0]
            scalars["images_per_s"] = seen / (time.perf_counter() - started)
            for key, value in scalars.items():
                sums[key] = sums.get(key, 0.0) + value
            bar.set_postfix(g=f"{scalars['g/total']:.3f}", d=f"{scalars['d/total']:.3f}")
            if self.scalar_log is not None and state.step % self.config.train.log_every_steps == 0:
                self.scalar_log.scalars(state.step, scalars)
            if self.config.train.save_every_steps and state.step % self.config.train.save_every_steps == 0:
                self.save()
            # A stop on the epoch's last batch ends the epoch first: its grid, validation and
            # kept generator are due, or a budget of whole epochs would never validate the last.
            if self._should_stop() and steps < len(loader):
                self.save()  # mid-epoch: --resume goes on from this step
                return
        bar.close()
        self._end_epoch({k: v / max(1, steps) for k, v in sums.items()})

    def _end_epoch(self, means: dict[str, float]) -> None:
        state = self.state
        state.epoch += 1
        state.epoch_step = 0
        if not self.dist.is_main:
            return
        if self.config.data.grid_count > 0:  # 0: no sample grids
            grid = self.sample_grid()
            save_grid(grid, self.run_dir / "samples" / f"epoch_{state.epoch:04d}.png")
            self.scalar_log.image("samples", grid, state.step)
        summary = ", ".join(f"{k}={v:.4g}" for k, v in means.items() if k in ("g/gan", "g/l1", "g/tv", "d/total", "images_per_s"))
        if self.validator.due(state.epoch):
            metrics = self.validator(state.shipped_generator, self.val_sets, state.epoch, state.step)
            state.best = self.validator.best
            # The means over the validation sets; each set's own scores are in metrics.jsonl.
            scores = {f"eval/{k}": v for k, v in metrics.items() if isinstance(v, (int, float))}
            self.scalar_log.scalars(state.step, scores)
            summary += f", val {self.config.eval.metric}={metrics.get(self.config.eval.metric)}"
        tqdm.write(f"epoch {state.epoch}/{self.config.train.epochs} step {state.step}: {summary}")
        self.save()
        self._keep_epoch()

    def _keep_epoch(self) -> None:
        epoch = self.state.epoch
        if self.dist.is_main and epoch in self.config.train.keep_epochs:
            save_model(self.run_dir / "epochs" / f"epoch_{epoch:04d}", self.state.shipped_generator, self.config,
                       epoch=epoch, step=self.state.step)

    def sample_grid(self) -> torch.Tensor:
        """sketch | real | generated for the first `data.grid_count` pairs of the first validation set."""
        if not self.val_sets or not len(self.val_sets[0]) or self.config.data.grid_count < 1:
            raise SketchcolorError("no validation pairs to draw a sample grid from "
                                   "(make the trainer with data, and data.grid_count > 0)")
        return sample_grid(self.state.shipped_generator, self.config, self.device, self.val_sets[0],
                           self.config.data.grid_count, self.config.data.size)

    def _set_learning_rate(self) -> None:
        """pix2pix/CycleGAN's schedule: constant, then linear to 0 over the last lr_decay_epochs.
        A function of the epoch alone, so a resumed run gets the same rates."""
        t = self.config.train
        decayed = max(0, self.state.epoch + t.lr_decay_epochs - t.epochs + 1) if t.lr_decay_epochs else 0
        lr = t.lr * (1 - decayed / (t.lr_decay_epochs + 1))
        for optimizer in (self.state.g_opt, self.state.d_opt):
            for group in optimizer.param_groups:
                group["lr"] = lr

    def _should_stop(self) -> bool:
        max_steps = self.config.train.max_steps
        signalled = self._stop_signal is not None
        if self.dist.enabled:
            signalled = any_rank(signalled, self.device)
        return signalled or (max_steps is not None and self.state.step >= max_steps)

    def _on_signal(self, signum: int, frame) -> None:
        if self._stop_signal is not None:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self._stop_signal = signum
        tqdm.write(f"signal {signum}: saving after this step; run again with --resume to continue")

    # --- checkpoints -------------------------------------------------------------------
    def save(self) -> None:
        """Write the generator (latest/) and the resumable state (state/), each folder whole; rank 0 only."""
        if not self.dist.is_main:
            return
        state = self.state
        save_model(self.run_dir / "latest", state.shipped_generator, self.config, epoch=state.epoch, step=state.step)
        state.save(self.run_dir / "state")

    def resume(self) -> bool:
        """Continue from run_dir/state if it exists; returns whether it did."""
        if not has_state(self.run_dir / "state"):
            return False
        self.state.load(self.run_dir / "state", self.device)
        if self.dist.enabled:  # the saved RNG state is rank 0's: give each rank its own stream again
            torch.manual_seed(self.config.train.seed * 1_009 + self.dist.rank + 7_919 * self.state.step)
        log.info("resumed %s at epoch %d, step %d", self.run_dir, self.state.epoch, self.state.step)
        return True
