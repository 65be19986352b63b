"""CycleGAN (Zhu et al. 2017) as a baseline: sketch and color domains without pairs.

G (sketch -> color) is the state's `generator`, the one that is saved, validated, exported and
used by `colorize`; F (color -> sketch) and the two unconditional discriminators exist only
for training. The losses are the original's: least-squares GAN, cycle consistency
|F(G(a)) - a| + |G(F(b)) - b| weighted by `loss.cycle_weight`, and identity terms weighted
by `loss.identity_weight * cycle_weight`. Because the domains differ in channels, identity
is G(gray(b)) ~ b and F(a as RGB) ~ a: each generator should leave an image that is already
of its target domain unchanged, up to the channels it is given.
Ds see generated images through a history pool (`train.image_pool`, 50 in the original).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from .. import losses
from ..data import UnpairedPairs
from ..metrics import luma
from ..models import build_discriminator, build_generator
from .distributed import average_gradients
from .state import TrainState, adam
from .trainer import Trainer


class ImagePool(nn.Module):
    """The last `size` generated images; a query returns, per image, either it or (half the
    time, once full) a stored one it replaces. Buffers, so the pool resumes with the run."""

    def __init__(self, size: int, channels: int, side: int) -> None:
        super().__init__()
        self.size = size
        self.register_buffer("images", torch.zeros(size, channels, side, side))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def query(self, batch: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return batch
        out = []
        for image in batch.detach():
            if self.count < self.size:
                self.images[self.count] = image
                self.count += 1
                out.append(image)
            elif torch.rand(()) < 0.5:
                index = int(torch.randint(self.size, ()))
                out.append(self.images[index].clone())
                self.images[index] = image
            else:
                out.append(image)
        return torch.stack(out)


@dataclasses.dataclass(kw_only=True, eq=False)
class CycleGANState(TrainState):
    """The paired state plus F (color -> sketch), the sketch critic and both history pools;
    `g_opt` and `d_opt` each cover both networks of their role, as the original's do."""

    color_to_sketch: nn.Module
    sketch_critic: nn.Module
    color_pool: ImagePool
    sketch_pool: ImagePool

    def parts(self) -> dict:
        return {**super().parts(), "color_to_sketch": self.color_to_sketch, "sketch_critic": self.sketch_critic,
                "color_pool": self.color_pool, "sketch_pool": self.sketch_pool}


class CycleGANTrainer(Trainer):
    state: CycleGANState

    def __init__(self, config, run_dir, data=None) -> None:
        super().__init__(config, run_dir, data)
        if data is not None:
            self.train_set = UnpairedPairs(self.train_set)

    def new_state(self) -> CycleGANState:
        paired = super().new_state()
        g, d, side = self.config.generator, self.config.discriminator, self.config.data.size
        color_to_sketch = build_generator(dataclasses.replace(g, in_channels=3, out_channels=1)).to(self.device)
        sketch_critic = build_discriminator(dataclasses.replace(d, in_channels=1)).to(self.device)
        state = CycleGANState(**vars(paired), color_to_sketch=color_to_sketch, sketch_critic=sketch_critic,
                              color_pool=ImagePool(self.config.train.image_pool, 3, side).to(self.device),
                              sketch_pool=ImagePool(self.config.train.image_pool, 1, side).to(self.device))
        state.g_opt = adam(self.config.train, state.generator, color_to_sketch)
        state.d_opt = adam(self.config.train, state.discriminator, sketch_critic)
        return state

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        sketch = batch["sketch"].to(self.device, non_blocking=True)
        color = batch["color"].to(self.device, non_blocking=True)
        self.state.color_to_sketch.train()
        g_terms, fake_color, fake_sketch = self._generator_step(sketch, color)
        d_terms = self._critic_step(sketch, color, fake_color, fake_sketch)
        self.state.step += 1
        scalars = {f"d/{k}": v for k, v in d_terms.scalars().items()}
        scalars.update({f"g/{k}": v for k, v in g_terms.scalars().items()})
        return scalars

    def _generator_step(self, sketch, color):
        cfg, state = self.config.loss, self.state
        g, f = state.generator, state.color_to_sketch
        critics = (state.discriminator, state.sketch_critic)
        for critic in critics:
            critic.requires_grad_(False)
        fake_color, fake_sketch = g(sketch), f(color)
        gan = (losses.adversarial(state.discriminator(fake_color), True, cfg.gan_mode)
               + losses.adversarial(state.sketch_critic(fake_sketch), True, cfg.gan_mode))
        cycle = losses.l1(f(fake_color), sketch) + losses.l1(g(fake_sketch), color)
        identity = torch.zeros((), device=self.device)
        if cfg.identity_weight > 0:
            identity = losses.l1(g(luma(color)), color) + losses.l1(f(sketch.expand(-1, 3, -1, -1)), sketch)
        total = gan + cfg.cycle_weight * cycle + cfg.cycle_weight * cfg.identity_weight * identity
        self._update_all(state.g_opt, total, g, f)
        for critic in critics:
            critic.requires_grad_(True)
        # "l1" against the real colors is logged for comparison only: CycleGAN never trains on it.
        terms = losses.LossTerms(total, {"gan": gan, "cycle": cycle, "identity": identity,
                                         "l1": losses.l1(fake_color.detach(), color)})
        return terms, fake_color.detach(), fake_sketch.detach()

    def _critic_step(self, sketch, color, fake_color, fake_sketch) -> losses.LossTerms:
        mode, state = self.config.loss.gan_mode, self.state
        color_critic, sketch_critic = state.discriminator, state.sketch_critic
        color_loss = 0.5 * (losses.adversarial(color_critic(color), True, mode)
                            + losses.adversarial(color_critic(state.color_pool.query(fake_color)), False, mode))
        sketch_loss = 0.5 * (losses.adversarial(sketch_critic(sketch), True, mode)
                             + losses.adversarial(sketch_critic(state.sketch_pool.query(fake_sketch)), False, mode))
        total = color_loss + sketch_loss
        self._update_all(state.d_opt, total, color_critic, sketch_critic)
        return losses.LossTerms(total, {"color": color_loss, "sketch": sketch_loss})

    def _update_all(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor, *modules: nn.Module) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.dist.enabled:
            for module in modules:
                average_gradients(module, self.dist.world_size)
        optimizer.step()


def make_trainer(config, run_dir, data=None) -> Trainer:
    """The trainer `train.trainer` names."""
    return CycleGANTrainer(config, run_dir, data) if config.train.trainer == "cyclegan" else Trainer(config, run_dir, data)
