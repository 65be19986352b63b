import math

import pytest
import torch

from sketchcolor import losses
from sketchcolor.config import LossConfig


def test_l1_and_tv_by_hand():
    generated = torch.tensor([[[[0.0, 1.0], [3.0, 1.0]]]])
    target = torch.zeros_like(generated)
    assert losses.l1(generated, target).item() == pytest.approx((0 + 1 + 3 + 1) / 4)
    # |dx|: |1-0|, |1-3| -> mean 1.5 ; |dy|: |3-0|, |1-1| -> mean 1.5
    assert losses.total_variation(generated).item() == pytest.approx(3.0)


def test_bce_terms_by_hand():
    logits = torch.tensor([0.0, 2.0])
    real = losses.adversarial(logits, True, "bce").item()
    fake = losses.adversarial(logits, False, "bce").item()
    assert real == pytest.approx((math.log(2) + math.log(1 + math.exp(-2))) / 2)
    assert fake == pytest.approx((math.log(2) + math.log(1 + math.exp(2))) / 2)


def test_wgan_and_lsgan_terms():
    logits = torch.tensor([1.0, 3.0])
    assert losses.adversarial(logits, True, "wgan-gp").item() == pytest.approx(-2.0)
    assert losses.adversarial(logits, False, "wgan-gp").item() == pytest.approx(2.0)
    assert losses.adversarial(logits, True, "lsgan").item() == pytest.approx((0 + 4) / 2)
    assert losses.adversarial(logits, False, "lsgan").item() == pytest.approx((1 + 9) / 2)


def test_generator_loss_is_eq5_with_configurable_powers():
    torch.manual_seed(0)
    fake_logits = torch.randn(2, 1, 3, 3)
    generated, target = torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4)
    config = LossConfig(l1_weight=7.0, l1_power=2.0, tv_weight=3.0, tv_power=2.0)
    terms = losses.generator_loss(fake_logits, generated, target, config)
    gan = torch.nn.functional.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    l1 = (target - generated).abs().mean()
    tv = losses.total_variation(generated)
    assert terms.total.item() == pytest.approx((gan + 7 * l1**2 + 3 * tv**2).item(), rel=1e-6)
    linear = losses.generator_loss(fake_logits, generated, target, LossConfig(l1_power=1.0, tv_weight=0.0))
    assert linear.total.item() == pytest.approx((gan + 100 * l1).item(), rel=1e-6)


def test_gradient_penalty_closed_form_for_a_linear_critic():
    torch.manual_seed(0)
    w = torch.randn(3, 4, 4)
    critic = lambda x: (x * w).flatten(1).sum(1)  # D(x) = w . x, so grad = w everywhere
    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    penalty = losses.gradient_penalty(critic, real, fake)
    assert penalty.item() == pytest.approx((w.norm() - 1).pow(2).item(), rel=1e-5)
    config = LossConfig(gp_weight=10.0)
    terms = losses.discriminator_loss(torch.zeros(2), torch.zeros(2), penalty, config)
    assert terms.total.item() == pytest.approx(2 * math.log(2) + 10 * penalty.item(), rel=1e-5)


def test_gradient_penalty_holds_a_patch_critics_mean_logit_not_its_sum():
    # A patch map whose every logit is w . (the colors at that pixel): the sample's score, the mean
    # logit over H*W patches, has gradient w / (H*W) at each pixel, so norm ||w|| / sqrt(H*W).
    # (Penalising the sum's gradient, ||w|| * sqrt(H*W), held a BCE discriminator at chance.)
    torch.manual_seed(0)
    w = torch.randn(1, 3, 1, 1)
    critic = lambda x: (x * w).sum(1, keepdim=True)  # (B, 1, H, W) patch logits
    real, fake = torch.randn(4, 3, 8, 8), torch.randn(4, 3, 8, 8)
    penalty = losses.gradient_penalty(critic, real, fake)
    assert penalty.item() == pytest.approx((w.norm() / 8 - 1).pow(2).item(), rel=1e-5)


def test_gradient_penalty_is_differentiable_for_the_critic():
    weight = torch.randn(1, 3, 2, 2, requires_grad=True)
    critic = lambda x: (x * weight).flatten(1).sum(1)
    penalty = losses.gradient_penalty(critic, torch.randn(2, 1, 3, 2, 2)[:, 0], torch.randn(2, 3, 2, 2))
    penalty.backward()
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    norm = weight.detach().norm()
    assert torch.allclose(weight.grad, 2 * (norm - 1) * weight.detach() / norm, atol=1e-5)


def test_unknown_gan_mode():
    with pytest.raises(Exception, match="unknown loss.gan_mode"):
        losses.adversarial(torch.zeros(1), True, "hinge")


def test_tv_smooths_the_painted_layer_when_there_is_one():
    torch.manual_seed(0)
    fake_logits, target = torch.randn(2, 1, 3, 3), torch.rand(2, 3, 4, 4)
    page, painted = torch.rand(2, 3, 4, 4), torch.full((2, 3, 4, 4), 0.5)  # a perfectly flat layer
    config = LossConfig(l1_weight=0.0, tv_weight=1.0, tv_power=1.0)
    assert losses.generator_loss(fake_logits, page, target, config, painted=painted).parts["tv"].item() == 0
    assert losses.generator_loss(fake_logits, page, target, config).parts["tv"] > 0


def _hint_channels(height: int, width: int, spots: list[tuple[int, int, tuple[float, float, float]]]) -> torch.Tensor:
    """Hint channels (1, 4, H, W) with a one-pixel hint of each (y, x, rgb in [-1, 1])."""
    channels = torch.zeros(1, 4, height, width)
    for y, x, rgb in spots:
        channels[0, :3, y, x] = torch.tensor(rgb)
        channels[0, 3, y, x] = 1.0
    return channels


def test_hinted_like_marks_every_pixel_colored_like_a_hint_anywhere_on_its_page():
    target = torch.full((2, 3, 4, 6), -1.0)
    target[:, 0, :, :3] = 1.0  # both pages: red on the left, black on the right
    hints = torch.cat([_hint_channels(4, 6, [(0, 0, (0.95, -1.0, -1.0))]), _hint_channels(4, 6, [])])
    like = losses.hinted_like(target, hints, distance=0.1)
    assert like[0, 0, :, :3].eq(1).all() and like[0, 0, :, 3:].eq(0).all()  # red far from the hint too, not black
    assert like[1].eq(0).all()  # a page without hints has nothing to follow
    # A spread hint (mask 0.5) is not a hint's own color: only the marks themselves count.
    hints[0, 3, 0, 0] = 0.5
    assert losses.hinted_like(target, hints, distance=0.1).eq(0).all()


def test_the_hint_l1_weighs_the_pixels_colored_like_a_hint():
    target = torch.full((1, 3, 4, 6), -1.0)
    target[:, 0, :, :3] = 1.0
    generated = target.clone()
    generated[:, :, :, :3] -= 0.5  # wrong on the hinted color's pixels only
    hints = _hint_channels(4, 6, [(1, 1, (1.0, -1.0, -1.0))])
    fake_logits = torch.zeros(1, 1, 2, 2)
    plain = losses.generator_loss(fake_logits, generated, target, LossConfig(l1_weight=1.0), hints=hints)
    assert "hint_l1" not in plain.parts  # off by default
    config = LossConfig(l1_weight=1.0, hint_l1_weight=2.0)
    weighted = losses.generator_loss(fake_logits, generated, target, config, hints=hints)
    assert weighted.parts["hint_l1"].item() == pytest.approx(0.5)  # the mean error where red was hinted
    assert (weighted.total - plain.total).item() == pytest.approx(2.0 * 0.5)
    assert "hint_l1" not in losses.generator_loss(fake_logits, generated, target, config).parts  # no hints given
