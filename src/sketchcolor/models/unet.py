"""The paper's generator: a pix2pix U-Net (8 convolutions down, 7 transposed up, one
transposed output layer) with residual units in the deep stages and Mish activations.

With `residual: false` and relu/leaky_relu it is exactly pix2pix's `unet_256`.
"""

from __future__ import annotations

import torch
from torch import nn

from .blocks import ResidualUnit, make_activation, make_norm
from .registry import generator_inputs, register_generator

DROPOUT_STAGES = 3  # pix2pix puts dropout in the three innermost decoder stages


def stage_channels(ngf: int, depth: int) -> list[int]:
    """Output channels of each encoder level: ngf, 2ngf, 4ngf, then 8ngf to the bottleneck."""
    return [ngf * min(2**level, 8) for level in range(depth)]


class ResUNet(nn.Module):
    def __init__(
        self,
        *,
        in_channels: int = 1,
        out_channels: int = 3,
        ngf: int = 64,
        depth: int = 8,
        activation: str = "mish",
        encoder_activation: str | None = None,
        norm: str = "batch",
        residual: bool = True,
        residual_from: int = 4,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.depth = depth
        channels = stage_channels(ngf, depth)
        encoder_activation = encoder_activation or activation

        def res_unit(level: int, act: str) -> nn.Module:
            # Not at the 1x1 bottleneck: a 3x3 convolution there only uses its centre tap.
            use = residual and residual_from <= level < depth - 1
            return ResidualUnit(channels[level], activation=act, norm=norm) if use else nn.Identity()

        self.down = nn.ModuleList()
        for level in range(depth):
            # No norm on the first layer (pix2pix) nor the 1x1 bottleneck (instance norm
            # of a single pixel is zero).
            level_norm = "none" if level in (0, depth - 1) else norm
            self.down.append(
                nn.Sequential(
                    nn.Conv2d(channels[level - 1] if level else in_channels, channels[level], 4, 2, 1),
                    make_norm(level_norm, channels[level]),
                    make_activation(encoder_activation),
                    res_unit(level, encoder_activation),
                )
            )
        self.up = nn.ModuleList()
        for level in reversed(range(depth - 1)):
            inner = channels[level + 1] * (1 if level == depth - 2 else 2)
            drop = dropout if level >= depth - 1 - DROPOUT_STAGES else 0.0
            self.up.append(
                nn.Sequential(
                    nn.ConvTranspose2d(inner, channels[level], 4, 2, 1),
                    make_norm(norm, channels[level]),
                    nn.Dropout(drop) if drop > 0 else nn.Identity(),
                    make_activation(activation),
                    res_unit(level, activation),
                )
            )
        self.out = nn.Sequential(nn.ConvTranspose2d(2 * channels[0], out_channels, 4, 2, 1), nn.Tanh())

    def forward(self, sketch: torch.Tensor) -> torch.Tensor:
        skips = []
        x = sketch
        for stage in self.down:
            x = stage(x)
            skips.append(x)
        skips.pop()  # the bottleneck feeds the decoder directly
        for stage in self.up:
            x = torch.cat([stage(x), skips.pop()], dim=1)
        return self.out(x)


@register_generator("resunet")
def resunet(config) -> ResUNet:
    return ResUNet(
        in_channels=generator_inputs(config),
        out_channels=config.out_channels,
        ngf=config.ngf,
        depth=config.depth,
        activation=config.activation,
        encoder_activation=config.encoder_activation,
        norm=config.norm,
        residual=config.residual,
        residual_from=config.residual_from,
        dropout=config.dropout,
    )
