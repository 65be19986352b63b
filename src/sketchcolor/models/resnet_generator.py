"""CycleGAN's generator (Zhu et al. 2017, after Johnson et al. 2016): a 7x7 stem, two
stride-2 convolutions down, `blocks` residual blocks, two transposed convolutions up and a
7x7 output layer. Reflection padding avoids the border artifacts zero padding causes in
image-to-image translation; 9 blocks is the original's choice at 256 px.
"""

from __future__ import annotations

import torch
from torch import nn

from .blocks import make_activation, make_norm
from .registry import generator_inputs, register_generator


class ResnetBlock(nn.Module):
    """x + conv-norm-act-conv-norm(x), with reflection padding (no activation after the sum)."""

    def __init__(self, channels: int, *, activation: str, norm: str) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), make_norm(norm, channels), make_activation(activation),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), make_norm(norm, channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    def __init__(self, *, in_channels: int = 1, out_channels: int = 3, ngf: int = 64, blocks: int = 9,
                 activation: str = "relu", norm: str = "instance") -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7), make_norm(norm, ngf),
                                   make_activation(activation)]
        channels = ngf
        for _ in range(2):
            layers += [nn.Conv2d(channels, channels * 2, 3, stride=2, padding=1), make_norm(norm, channels * 2),
                       make_activation(activation)]
            channels *= 2
        layers += [ResnetBlock(channels, activation=activation, norm=norm) for _ in range(blocks)]
        for _ in range(2):
            layers += [nn.ConvTranspose2d(channels, channels // 2, 3, stride=2, padding=1, output_padding=1),
                       make_norm(norm, channels // 2), make_activation(activation)]
            channels //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(channels, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@register_generator("resnet")
def resnet(config) -> ResnetGenerator:
    return ResnetGenerator(in_channels=generator_inputs(config), out_channels=config.out_channels, ngf=config.ngf,
                           blocks=config.blocks, activation=config.activation, norm=config.norm)
