"""Loss terms of the paper (eq. 5-14) as small pure functions.

Discriminator outputs are raw logits (patch maps); `gan_mode` picks how they are scored:
- `bce`: binary cross-entropy against 1 (real) / 0 (fake), eq. 6, 10, 11;
- `wgan-gp`: the critic form of eq. 13, D(fake) - D(real), generator -D(fake);
- `lsgan`: least squares against 1 / 0 (CycleGAN).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from .config import CHOICES
from .errors import SketchcolorError

GAN_MODES = CHOICES[("loss", "gan_mode")]


def adversarial(logits: torch.Tensor, real: bool, gan_mode: str) -> torch.Tensor:
    """Score `logits` as real or fake; for wgan-gp the sign makes it a quantity to minimise."""
    if gan_mode == "bce":
        target = torch.ones_like(logits) if real else torch.zeros_like(logits)
        return F.binary_cross_entropy_with_logits(logits, target)
    if gan_mode == "lsgan":
        return ((logits - (1.0 if real else 0.0)) ** 2).mean()
    if gan_mode == "wgan-gp":
        return -logits.mean() if real else logits.mean()
    raise SketchcolorError(f"unknown loss.gan_mode {gan_mode!r} (known: {', '.join(GAN_MODES)})")


def l1(generated: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 7: mean absolute difference."""
    return (target - generated).abs().mean()


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Eq. 8: mean |horizontal difference| + mean |vertical difference| of one image batch.

    The generator's loss takes it of the *generated* image (as the paper's TensorFlow
    code does): it penalises speckle in the output. Of the target it would be a constant.
    """
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return dx.abs().mean() + dy.abs().mean()


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor
) -> torch.Tensor:
    """Eq. 12/14: E[(||grad_x D(x_hat)||_2 - 1)^2] with x_hat = t*real + (1-t)*fake, t ~ U(0,1).

    `critic` maps a color batch to logits (the sketch condition is bound in by the caller,
    so the gradient is taken with respect to the color image only). D(x) is a sample's mean
    logit over its patches, the score the losses use. The norm is per sample over all of its
    pixels, and create_graph keeps the penalty differentiable for D's step.
    """
    t = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    mixed = (t * real.detach() + (1 - t) * fake.detach()).requires_grad_(True)
    # The mean, not the sum, of the patch map: holding the gradient of a sum of P patch logits
    # to norm 1 holds their mean P times flatter, and under BCE such a discriminator never left
    # chance (d/real = d/fake = 0.693 through whole runs; MODEL_CARD.md, "Stage 9 tried").
    scores = critic(mixed).reshape(len(mixed), -1).mean(1)
    (grad,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    norms = grad.flatten(1).norm(2, dim=1)
    return ((norms - 1.0) ** 2).mean()


def hinted_like(target: torch.Tensor, hints: torch.Tensor, distance: float) -> torch.Tensor:
    """(B, 1, H, W): 1 where a target pixel's color (B, 3, H, W) lies within `distance` of a
    color hinted on its page (hint channels (B, 4, H, W), mask 1 on the hints themselves)."""
    like = target.new_zeros(target.shape[0], 1, *target.shape[2:])
    for page, (colors, page_hints) in enumerate(zip(target, hints)):
        on = page_hints[3] >= 1
        if on.any():
            hinted = torch.unique(page_hints[:3, on].T.float(), dim=0)
            nearest = torch.cdist(colors.flatten(1).T.float(), hinted).amin(1)
            like[page, 0] = (nearest <= distance).view(colors.shape[1:])
    return like


def masked_l1(generated: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference over the pixels where `mask` (B, 1, H, W) is 1 (0 if none)."""
    return ((target - generated).abs() * mask).sum() / (mask.sum() * target.shape[1]).clamp_min(1.0)


@dataclass
class LossTerms:
    """Named parts of one loss, kept for logging; `total` is what gets back-propagated."""

    total: torch.Tensor
    parts: dict[str, torch.Tensor]

    def scalars(self) -> dict[str, float]:
        return {name: float(value.detach()) for name, value in {"total": self.total, **self.parts}.items()}


def generator_loss(fake_logits, generated, target, config, painted=None, hints=None) -> LossTerms:
    """Eq. 5: adversarial + l1_weight * L1^l1_power + tv_weight * TV^tv_power (a LossConfig),
    and with `hints` (the generator's hint channels) and hint_l1_weight, the L1 over the pixels
    colored like a hint on their page.

    `painted` is what the generator produced, when that is not the page itself (a color layer
    under the sketch's lines): TV smooths it rather than the page, whose lines are the sketch's
    and not the generator's to change.
    """
    gan = adversarial(fake_logits, True, config.gan_mode)
    l1_term = l1(generated, target)
    tv_term = total_variation(generated if painted is None else painted)
    total = gan + config.l1_weight * l1_term**config.l1_power + config.tv_weight * tv_term**config.tv_power
    parts = {"gan": gan, "l1": l1_term, "tv": tv_term}
    if hints is not None and config.hint_l1_weight > 0:
        parts["hint_l1"] = masked_l1(generated, target, hinted_like(target, hints, config.hint_color_distance))
        total = total + config.hint_l1_weight * parts["hint_l1"]
    return LossTerms(total, parts)


def discriminator_loss(real_logits, fake_logits, penalty, config) -> LossTerms:
    """Eq. 9: real term + fake term + gp_weight * penalty (penalty may be a zero tensor)."""
    real = adversarial(real_logits, True, config.gan_mode)
    fake = adversarial(fake_logits, False, config.gan_mode)
    total = real + fake + config.gp_weight * penalty
    return LossTerms(total, {"real": real, "fake": fake, "gp": penalty})
