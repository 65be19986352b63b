"""Patch discriminators: one logit per overlapping patch of their input. pix2pix and the
paper condition on the sketch (the sketch and a color image concatenated, 4 channels);
CycleGAN's see one image of one domain (3 or 1 channels): `forward(*images)` serves both.

`resnet3` is the paper's (3 stride-2 convolutions, a residual unit, Mish); `patchgan` is
pix2pix's 70x70 PatchGAN (3 stride-2 layers plus a stride-1 layer, LeakyReLU).
"""

from __future__ import annotations

import torch
from torch import nn

from .blocks import ResidualUnit, make_activation, make_norm
from .registry import register_discriminator


class PatchDiscriminator(nn.Module):
    def __init__(
        self,
        *,
        in_channels: int = 4,
        ndf: int = 64,
        n_layers: int = 3,
        activation: str = "mish",
        norm: str = "instance",
        residual: bool = True,
        stride1_layer: bool = False,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for index in range(n_layers):
            out = ndf * min(2**index, 8)
            layers += [
                nn.Conv2d(channels, out, 4, 2, 1),
                make_norm("none" if index == 0 else norm, out),
                make_activation(activation),
            ]
            channels = out
        if stride1_layer:
            out = ndf * min(2**n_layers, 8)
            layers += [nn.Conv2d(channels, out, 4, 1, 1), make_norm(norm, out), make_activation(activation)]
            channels = out
        if residual:
            layers.append(ResidualUnit(channels, activation=activation, norm=norm))
        layers.append(nn.Conv2d(channels, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, *images: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat(images, dim=1))


def _build(config, *, stride1_layer: bool) -> PatchDiscriminator:
    return PatchDiscriminator(
        in_channels=config.in_channels,
        ndf=config.ndf,
        n_layers=config.n_layers,
        activation=config.activation,
        norm=config.norm,
        residual=config.residual,
        stride1_layer=stride1_layer,
    )


@register_discriminator("resnet3")
def resnet3(config) -> PatchDiscriminator:
    return _build(config, stride1_layer=False)


@register_discriminator("patchgan")
def patchgan(config) -> PatchDiscriminator:
    return _build(config, stride1_layer=True)
