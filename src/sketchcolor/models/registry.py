"""Architectures registered by name and built from their sub-config by one factory."""

from __future__ import annotations

from typing import Any, Callable

from torch import nn

from ..errors import SketchcolorError

_GENERATORS: dict[str, Callable[..., nn.Module]] = {}
_DISCRIMINATORS: dict[str, Callable[..., nn.Module]] = {}


def register_generator(name: str) -> Callable:
    def add(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        _GENERATORS[name] = builder
        return builder

    return add


def register_discriminator(name: str) -> Callable:
    def add(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        _DISCRIMINATORS[name] = builder
        return builder

    return add


def build_generator(config: Any) -> nn.Module:
    """Build the generator named by `config.name` (a GeneratorConfig)."""
    return _lookup(_GENERATORS, config.name, "generator")(config)


def generator_inputs(config: Any) -> int:
    """Input channels of a generator: the sketch's, and the hint channels when it takes hints."""
    from ..hints import HINT_CHANNELS

    return config.in_channels + (HINT_CHANNELS if getattr(config, "hints", False) else 0)


def build_discriminator(config: Any) -> nn.Module:
    """Build the discriminator named by `config.name` (a DiscriminatorConfig)."""
    return _lookup(_DISCRIMINATORS, config.name, "discriminator")(config)


def _lookup(table: dict[str, Callable], name: str, kind: str) -> Callable:
    if name not in table:
        raise SketchcolorError(f"unknown {kind} {name!r} (known: {', '.join(sorted(table))})")
    return table[name]
