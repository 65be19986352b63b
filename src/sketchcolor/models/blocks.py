"""Shared building blocks: activations, normalizations and the residual unit (paper fig. 3)."""

from __future__ import annotations

from torch import nn

from ..errors import SketchcolorError

_ACTIVATIONS = {
    "mish": nn.Mish,  # x * tanh(softplus(x)), eq. 4
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),  # pix2pix's slope
    "swish": nn.SiLU,
}


def make_activation(name: str) -> nn.Module:
    if name not in _ACTIVATIONS:
        raise SketchcolorError(f"unknown activation {name!r} (known: {', '.join(_ACTIVATIONS)})")
    return _ACTIVATIONS[name]()


def make_norm(name: str, channels: int) -> nn.Module:
    if name == "batch":
        return nn.BatchNorm2d(channels)
    if name == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if name == "none":
        return nn.Identity()
    raise SketchcolorError(f"unknown norm {name!r} (known: batch, instance, none)")


class ResidualUnit(nn.Module):
    """Two 3x3 convolutions with an identity shortcut: out = act(x + F(x)).

    The shortcut lets a stage fall back to the identity, which is why the paper adds
    these units: gradients reach early layers even when F's gradient vanishes.
    """

    def __init__(self, channels: int, *, activation: str, norm: str) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=norm == "none"),
            make_norm(norm, channels),
            make_activation(activation),
            nn.Conv2d(channels, channels, 3, padding=1, bias=norm == "none"),
            make_norm(norm, channels),
        )
        self.act = make_activation(activation)

    def forward(self, x):
        return self.act(x + self.body(x))
