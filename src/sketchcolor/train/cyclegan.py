"""CycleGAN (Zhu et al. 2017) as a baseline: sketch and color domains without pairs.

G (sketch -> color) is `self.generator`, the one that is saved, validated, exported and
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
import itertools

import torch
from torch import nn

from .. import losses
from ..data import UnpairedPairs
from ..metrics import luma
from ..models import build_discriminator, build_generator
from .distributed import average_gradients
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


class CycleGANTrainer(Trainer):
    def __init__(self, config, run_dir, data=None) -> None:
        super().__init__(config, run_dir, data)
        if data is not None:
            self.train_set = UnpairedPairs(self.train_set)
        g, d = config.generator, config.discriminator
        self.color_to_sketch = build_generator(dataclasses.replace(g, in_channels=3, out_channels=1)).to(self.device)
        self.sketch_critic = build_discriminator(dataclasses.replace(d, in_channels=1)).to(self.device)
        side = config.data.size
        self.color_pool = ImagePool(config.train.image_pool, 3, side).to(self.device)
        self.sketch_pool = ImagePool(config.train.image_pool, 1, side).to(self.device)
        # One optimizer per role over both networks, as the original does.
        self.g_opt = self._adam_over(self.generator, self.color_to_sketch)
        self.d_opt = self._adam_over(self.discriminator, self.sketch_critic)

    def _adam_over(self, *modules: nn.Module) -> torch.optim.Adam:
        t = self.config.train
        params = itertools.chain(*(m.parameters() for m in modules))
        return torch.optim.Adam(params, lr=t.lr, betas=(t.beta1, t.beta2))

    def _stateful(self) -> dict:
        return {**super()._stateful(), "color_to_sketch": self.color_to_sketch, "sketch_critic": self.sketch_critic,
                "color_pool": self.color_pool, "sketch_pool": self.sketch_pool}

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        sketch = batch["sketch"].to(self.device, non_blocking=True)
        color = batch["color"].to(self.device, non_blocking=True)
        self.color_to_sketch.train()
        g_terms, fake_color, fake_sketch = self._generator_step(sketch, color)
        d_terms = self._critic_step(sketch, color, fake_color, fake_sketch)
        self.step += 1
        scalars = {f"d/{k}": v for k, v in d_terms.scalars().items()}
        scalars.update({f"g/{k}": v for k, v in g_terms.scalars().items()})
        return scalars

    def _generator_step(self, sketch, color):
        cfg = self.config.loss
        critics = (self.discriminator, self.sketch_critic)
        for critic in critics:
            critic.requires_grad_(False)
        fake_color, fake_sketch = self.generator(sketch), self.color_to_sketch(color)
        gan = (losses.adversarial(self.discriminator(fake_color), True, cfg.gan_mode)
               + losses.adversarial(self.sketch_critic(fake_sketch), True, cfg.gan_mode))
        cycle = (losses.l1(self.color_to_sketch(fake_color), sketch) + losses.l1(self.generator(fake_sketch), color))
        identity = torch.zeros((), device=self.device)
        if cfg.identity_weight > 0:
            identity = (losses.l1(self.generator(luma(color)), color)
                        + losses.l1(self.color_to_sketch(sketch.expand(-1, 3, -1, -1)), sketch))
        total = gan + cfg.cycle_weight * cycle + cfg.cycle_weight * cfg.identity_weight * identity
        self._update_all(self.g_opt, total, self.generator, self.color_to_sketch)
        for critic in critics:
            critic.requires_grad_(True)
        # "l1" against the real colors is logged for comparison only: CycleGAN never trains on it.
        terms = losses.LossTerms(total, {"gan": gan, "cycle": cycle, "identity": identity,
                                         "l1": losses.l1(fake_color.detach(), color)})
        return terms, fake_color.detach(), fake_sketch.detach()

    def _critic_step(self, sketch, color, fake_color, fake_sketch) -> losses.LossTerms:
        mode = self.config.loss.gan_mode
        color_loss = 0.5 * (losses.adversarial(self.discriminator(color), True, mode)
                            + losses.adversarial(self.discriminator(self.color_pool.query(fake_color)), False, mode))
        sketch_loss = 0.5 * (losses.adversarial(self.sketch_critic(sketch), True, mode)
                             + losses.adversarial(self.sketch_critic(self.sketch_pool.query(fake_sketch)), False, mode))
        total = color_loss + sketch_loss
        self._update_all(self.d_opt, total, self.discriminator, self.sketch_critic)
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
