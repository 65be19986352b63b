"""Neural Style Transfer (Gatys, Ecker & Bethge 2015) as an untrained baseline colorizer.

Method. The output image's pixels are optimised directly, with a frozen ImageNet VGG19
as the only network: its activations on the output should match the sketch's at a
deep layer (the *content*: which shapes are where) and the Gram matrices (channel
co-activations, position-free: the *style*: which colors and textures occur) of a color
image at several depths. No pair is ever seen, so this is the floor a trained colorizer
should beat on anything that needs to know *where* a color goes.

Layers. As in the paper: style on conv1_1, conv2_1, conv3_1, conv4_1 and conv5_1,
equally weighted (w_l = 1/5), which spans fine to coarse textures; content on conv4_2,
deep enough to keep the layout but not the exact pixel values. Activations are taken
after the ReLU (in the paper's Caffe model ReLUs run in place, so "conv4_2" *is* the
rectified map). torchvision's VGG19 keeps max pooling (the paper swaps in average
pooling for slightly smoother results; we keep the weights' own network).

Style image. Every sketch needs a color image to take its style from. `StyleTransfer`
draws it from a pool (normally the training split's color images, `style_pool_from_pairs`):
for the k-th sketch it colorizes, counting across calls, it uses
`styles[rng.integers(len(styles))]` with `rng = numpy.random.default_rng(seed)` drawn in
order: a random training image, reproducible from the seed, never the sketch's own pair.

Optimiser. L-BFGS (as in the paper), here scipy's L-BFGS-B, which treats the pixel range
[-1, 1] as a box constraint: clamping torch's L-BFGS iterates instead corrupts its curvature
estimate, and a sketch is mostly white paper sitting exactly on that bound. Adam with a
clamp after every step is the alternative.

Steps. 300 iterations by default, each about one VGG19 forward and backward pass: with
the content initialisation (starting from the sketch, the paper's content-init variant)
the PyTorch tutorial stops after the same number of evaluations; the paper itself fixes
no count (white-noise starts typically run 500-1000). Not yet checked here on the real
weights. On a CPU one pass at 256 px takes 1-2 s, so this is minutes per image.

Weights are never downloaded: `find_vgg_weights` finds torchvision's IMAGENET1K_V1 file
locally, or `missing_vgg_message()` says where to put it (as `metrics/fid.py` does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.optimize
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from torch import nn

from ..data.sources import BadPairError, PairSource, find_pairs, load_pair, split_dir
from ..errors import SketchcolorError
from ..imageio import ImageReadError, to_gray, to_tensor
from ..local_weights import LocalWeights
from ..losses import total_variation
from ..page import compose_page, fit_region

VGG_WEIGHTS_NAME = "vgg19-dcbb9e9d.pth"  # torchvision's file name for VGG19_Weights.IMAGENET1K_V1
VGG_WEIGHTS_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
VGG_WEIGHTS_ENV = "SKETCHCOLOR_VGG19_WEIGHTS"
# Index in torchvision's vgg19().features of the ReLU that follows each named convolution.
LAYER_INDEX = {"conv1_1": 1, "conv2_1": 6, "conv3_1": 11, "conv4_1": 20, "conv4_2": 22, "conv5_1": 29}
LAYER_NAME = {index: name for name, index in LAYER_INDEX.items()}
STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
CONTENT_LAYER = "conv4_2"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# conv5_1 sits after four 2x poolings: a side under 16 px would leave it an empty map.
MIN_SIDE = 16


VGG_WEIGHTS = LocalWeights(VGG_WEIGHTS_NAME, VGG_WEIGHTS_URL, VGG_WEIGHTS_ENV, "--vgg-weights", "VGG19 weights",
                           "Neural Style Transfer needs VGG19 ImageNet weights", "torchvision's VGG19")


def find_vgg_weights(path: str | Path | None = None) -> Path | None:
    """The VGG19 weights file (LocalWeights.find), or None."""
    return VGG_WEIGHTS.find(path)


def missing_vgg_message() -> str:
    return VGG_WEIGHTS.missing_message()


def load_vgg_features(path: str | Path | None = None, device: torch.device | str = "cpu") -> VGGFeatures:
    """The frozen feature extractor from the local weights file, or one SketchcolorError line."""
    found = find_vgg_weights(path)
    if found is None:
        raise SketchcolorError(missing_vgg_message())
    return VGGFeatures(found).to(device)


def _vgg19_features_skeleton() -> nn.Sequential:
    """torchvision's vgg19().features with no storage: built on the meta device, so the
    100M-parameter classifier we never use costs neither memory nor initialisation time."""
    with torch.device("meta"):
        return torchvision.models.vgg19(weights=None).features


class VGGFeatures(nn.Module):
    """Frozen VGG19 up to relu5_1: images in [-1, 1] -> {layer name: ReLU activations}.

    `weights` is a torchvision VGG19 state dict (a path to one, or the mapping itself for
    tests); only its `features.*` keys are used, so the classifier keys may be present.
    """

    def __init__(self, weights: str | Path | Mapping[str, torch.Tensor]) -> None:
        super().__init__()
        features = _vgg19_features_skeleton().to_empty(device="cpu")
        VGG_WEIGHTS.load_into(features, weights, prefix="features.")
        self.net = features[: max(LAYER_INDEX.values()) + 1]  # nothing past relu5_1 is ever read
        for module in self.net:
            if isinstance(module, nn.ReLU):
                module.inplace = False  # the activations we return must not be overwritten later
        # Buffers, so `.to(device)` moves them; shaped to broadcast over (B, 3, H, W).
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    @staticmethod
    def random_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
        """A random VGG19 `features.*` state dict in the real file's key format (for tests).

        He-initialised convolutions keep activations at unit scale; smaller weights shrink
        them layer by layer into denormal floats, which the CPU computes many times slower.
        """
        generator = torch.Generator().manual_seed(seed)
        state = {}
        for key, value in _vgg19_features_skeleton().state_dict().items():
            if value.dim() == 4:  # a convolution kernel (out, in, kh, kw)
                fan_in = value.shape[1] * value.shape[2] * value.shape[3]
                state[f"features.{key}"] = torch.randn(value.shape, generator=generator) * (2.0 / fan_in) ** 0.5
            else:
                state[f"features.{key}"] = torch.zeros(value.shape)
        return state

    def train(self, mode: bool = True) -> VGGFeatures:
        # Always eval: a fixed network is the whole point (and VGG19 has nothing mode-dependent).
        return super().train(False)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        x = ((images + 1) / 2 - self.mean) / self.std  # [-1, 1] -> the ImageNet input normalisation
        out = {}
        for index, layer in enumerate(self.net):
            x = layer(x)
            if index in LAYER_NAME:
                out[LAYER_NAME[index]] = x
        return out


@dataclass(frozen=True)
class StyleTransferConfig:
    """How the image is optimised; every default is the paper's or says why it is not."""

    # Optimiser iterations, each about one VGG19 forward+backward pass (L-BFGS-B is also
    # capped at `steps` passes); 300 as in the PyTorch tutorial's content-init run (module
    # docstring), which also bounds the cost of evaluating a whole split.
    steps: int = 300
    # "lbfgs" is L-BFGS-B: the paper's optimiser, plus the pixel range as a box constraint;
    # it needs far fewer steps on this smooth, full-batch problem. "adam" (projected) is
    # the alternative whose cost per step is exactly one pass and never needs a line search.
    optimizer: Literal["lbfgs", "adam"] = "lbfgs"
    # Adam only (L-BFGS-B scales its own steps): 0.02 of the [-1, 1] range per step moves a
    # pixel across the range in ~100 steps, quick without overshooting into the clamp.
    lr: float = 0.02
    # Only the ratio content/style matters; content is the unit.
    content_weight: float = 1.0
    # With Grams normalised by C*H*W, losses as means and the 5 style layers weighted 1/5
    # each, 1e5 makes style dominate as in the paper's alpha/beta = 1e-3 (roughly
    # converted: the paper sums instead of averaging and feeds VGG 0-255 pixels). Not tuned.
    style_weight: float = 1e5
    # The paper has no smoothness term; content-init starts smooth, so it is off. Raise it
    # (e.g. 1e-2) if L-BFGS leaves high-frequency speckle.
    tv_weight: float = 0.0
    # Working size of the longer side: the scale VGG sees; 256 is the paper config's
    # resolution (configs/paper.yaml) and keeps CPU runs affordable.
    size: int = 256
    # "content" starts from the sketch (the paper's content-init variant: keeps the lines,
    # converges faster, and is deterministic); "noise" is the paper's white-noise start.
    init: Literal["content", "noise"] = "content"
    # Seeds the noise initialisation, the only randomness in `stylize`.
    seed: int = 0

    def __post_init__(self) -> None:
        if self.optimizer not in ("lbfgs", "adam"):
            raise SketchcolorError(f"optimizer must be lbfgs or adam, not {self.optimizer!r}")
        if self.init not in ("content", "noise"):
            raise SketchcolorError(f"init must be content or noise, not {self.init!r}")
        if self.steps < 0 or self.size < MIN_SIDE:
            raise SketchcolorError(f"need steps >= 0 and size >= {MIN_SIDE}, got {self.steps} and {self.size}")


@dataclass(frozen=True)
class Targets:
    """What the optimised image must match: the sketch's content map and the style's Grams."""

    content: torch.Tensor
    grams: dict[str, torch.Tensor]


def gram(activations: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, C) channel co-activations, divided by C*H*W so layers of
    different sizes and images of different sizes give comparable values."""
    b, c, h, w = activations.shape
    flat = activations.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


@torch.no_grad()
def make_targets(sketch: torch.Tensor, style: torch.Tensor, features: VGGFeatures) -> Targets:
    """Targets of one sketch (B, 1 or 3, H, W) and its style image (B, 3, H', W'), in [-1, 1]."""
    content = features(_rgb(sketch))[CONTENT_LAYER]
    style_maps = features(style)
    return Targets(content, {name: gram(style_maps[name]) for name in STYLE_LAYERS})


def _loss(image: torch.Tensor, targets: Targets, features: VGGFeatures, config: StyleTransferConfig) -> torch.Tensor:
    maps = features(image)
    content = F.mse_loss(maps[CONTENT_LAYER], targets.content)
    style = torch.stack([F.mse_loss(gram(maps[name]), targets.grams[name]) for name in STYLE_LAYERS]).mean()
    loss = config.content_weight * content + config.style_weight * style
    return loss + config.tv_weight * total_variation(image) if config.tv_weight else loss


def style_content_loss(image: torch.Tensor, sketch: torch.Tensor, style: torch.Tensor, features: VGGFeatures,
                       config: StyleTransferConfig | None = None) -> torch.Tensor:
    """The weighted loss `stylize` minimises, for `image` (B, 3, H, W) against these inputs."""
    config = config or StyleTransferConfig()
    with torch.no_grad():
        return _loss(image, make_targets(sketch, style, features), features, config)


def stylize(sketch: torch.Tensor, style: torch.Tensor, features: VGGFeatures,
            config: StyleTransferConfig | None = None) -> torch.Tensor:
    """Sketches (B, 1, H, W) styled after `style` (B, 3, H', W'), all in [-1, 1] -> (B, 3, H, W).

    Each image is optimised on its own: L-BFGS shares one curvature estimate across all
    its parameters, so a joint batch would make every result depend on its batch-mates.
    """
    config = config or StyleTransferConfig()
    if sketch.dim() != 4 or sketch.shape[1] not in (1, 3) or style.dim() != 4 or style.shape[1] != 3:
        raise SketchcolorError(f"stylize needs (B, 1, H, W) sketches and (B, 3, H, W) styles, "
                               f"got {tuple(sketch.shape)} and {tuple(style.shape)}")
    if sketch.shape[0] != style.shape[0]:
        raise SketchcolorError(f"{sketch.shape[0]} sketches but {style.shape[0]} style images")
    device = features.mean.device
    sketch, style = sketch.detach().to(device), style.detach().to(device)
    if sketch.shape[0] == 0:
        return _rgb(sketch).clone()
    with torch.enable_grad():  # callers such as evaluate() run under no_grad
        return torch.cat([_stylize_one(sketch[i : i + 1], style[i : i + 1], features, config)
                          for i in range(sketch.shape[0])])


def _stylize_one(sketch: torch.Tensor, style: torch.Tensor, features: VGGFeatures,
                 config: StyleTransferConfig) -> torch.Tensor:
    targets = make_targets(sketch, style, features)
    image = _initial_image(sketch, config)
    if config.steps == 0:
        return image

    def loss_of(candidate: torch.Tensor) -> torch.Tensor:
        return _loss(candidate, targets, features, config)

    optimise = _lbfgsb if config.optimizer == "lbfgs" else _projected_adam
    return optimise(image, loss_of, config)


def _initial_image(sketch: torch.Tensor, config: StyleTransferConfig) -> torch.Tensor:
    if config.init == "content":
        return _rgb(sketch).clone()
    generator = torch.Generator().manual_seed(config.seed)  # CPU generator: same noise on every device
    noise = torch.rand((1, 3, *sketch.shape[-2:]), generator=generator) * 2 - 1
    return noise.to(sketch.device)


def _lbfgsb(image: torch.Tensor, loss_of: Callable[[torch.Tensor], torch.Tensor],
            config: StyleTransferConfig) -> torch.Tensor:
    """L-BFGS-B (scipy) with the pixel range as a true box constraint.

    Not torch.optim.LBFGS: clamping its iterates corrupts its curvature pairs, and a
    sketch is mostly white paper sitting on the bound, so the loss climbs again after a
    few steps (seen on random VGG weights); L-BFGS-B projects correctly and is monotone.
    """
    shape, device = image.shape, image.device

    def value_and_gradient(x: np.ndarray) -> tuple[float, np.ndarray]:
        candidate = torch.from_numpy(x).reshape(shape).to(device, torch.float32).requires_grad_(True)
        loss = loss_of(candidate)
        loss.backward()
        return float(loss.detach()), candidate.grad.cpu().double().numpy().ravel()

    # maxfun caps VGG passes at about `steps`; gtol=0 because our loss has no natural
    # scale, so "small gradient" means nothing; the relative ftol still stops a stall.
    result = scipy.optimize.minimize(value_and_gradient, image.cpu().double().numpy().ravel(), jac=True,
                                     method="L-BFGS-B", bounds=scipy.optimize.Bounds(-1.0, 1.0),
                                     options={"maxiter": config.steps, "maxfun": config.steps, "gtol": 0.0})
    return torch.from_numpy(result.x).reshape(shape).to(device, torch.float32).clamp(-1, 1)


def _projected_adam(image: torch.Tensor, loss_of: Callable[[torch.Tensor], torch.Tensor],
                    config: StyleTransferConfig) -> torch.Tensor:
    """Adam on the pixels, clamped back into [-1, 1] after every step (projected descent)."""
    image = image.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([image], lr=config.lr)
    for _ in range(config.steps):
        optimizer.zero_grad()
        loss_of(image).backward()
        optimizer.step()
        with torch.no_grad():
            image.clamp_(-1, 1)
    return image.detach()


def _rgb(sketch: torch.Tensor) -> torch.Tensor:
    return sketch.expand(-1, 3, -1, -1) if sketch.shape[1] == 1 else sketch


def working_shape(height: int, width: int, size: int) -> tuple[int, int]:
    """(H, W) scaled so the longer side is `size`, keeping the aspect ratio (sides >= MIN_SIDE)."""
    scale = size / max(height, width)
    return max(MIN_SIDE, round(height * scale)), max(MIN_SIDE, round(width * scale))


def _resize(images: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    if tuple(images.shape[-2:]) == shape:
        return images
    return F.interpolate(images, size=shape, mode="bilinear", align_corners=False, antialias=True)


class StyleTransfer:
    """Neural Style Transfer as a colorizer the evaluation code can score.

    The k-th sketch colorized (counting across calls) takes its style from
    `styles[rng.integers(len(styles))]`, `rng = numpy.random.default_rng(seed)`;
    `style_indices` records the choices in order.
    """

    def __init__(self, features: VGGFeatures, config: StyleTransferConfig | None = None,
                 styles: Sequence[Image.Image] = (), seed: int = 0) -> None:
        if not styles:
            raise SketchcolorError("Neural Style Transfer needs at least one style image")
        self.features = features
        self.config = config or StyleTransferConfig()
        self.styles = list(styles)
        self.style_indices: list[int] = []
        self._rng = np.random.default_rng(seed)

    @property
    def device(self) -> torch.device:
        """Where the work runs: wherever the feature network is."""
        return self.features.mean.device

    def next_style_index(self) -> int:
        """Draw the next style image's index (the documented rule) and record it."""
        index = int(self._rng.integers(len(self.styles)))
        self.style_indices.append(index)
        return index

    def colorize_tensors(self, sketches: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) in [-1, 1] -> (B, 3, H, W) in [-1, 1], at the sketches' own size."""
        height, width = sketches.shape[-2:]
        shape = working_shape(height, width, self.config.size)
        styles = torch.stack([self._style_tensor(self.next_style_index(), shape) for _ in range(sketches.shape[0])])
        small = _resize(sketches.to(self.device), shape)
        colors = stylize(small, styles.to(self.device), self.features, self.config)
        return _resize(colors, (height, width)).clamp(-1, 1)

    def __call__(self, pages: Sequence[Image.Image]) -> list[Image.Image]:
        """Colored pages at their own size, each fitted to the working size the way every
        method's pages are (page.py), so NST is scored as the models are."""
        results = []
        for page in pages:
            gray = to_gray(page)
            region = fit_region(gray, self.config.size)
            colors = self.colorize_tensors(region.sketch[None])[0].cpu()
            results.append(compose_page(colors, region, gray, lines="model", smooth=0).composite)
        return results

    def _style_tensor(self, index: int, shape: tuple[int, int]) -> torch.Tensor:
        # The style image at the working shape, so its textures keep their scale relative to the frame.
        image = self.styles[index].convert("RGB").resize((shape[1], shape[0]), Image.Resampling.BICUBIC)
        return to_tensor(image, 3)


def style_pool_from_pairs(root: str | Path, limit: int | None = None, sketch_side: str = "auto",
                          max_side: int | None = 512) -> list[Image.Image]:
    """The color images of `root`'s train split (sorted by name, the first `limit` usable
    ones), each shrunk to at most `max_side` pixels (None: kept whole) to bound memory.

    Unusable pairs (unreadable, grayscale color) are skipped, as the dataset loader does.
    """
    pool = []
    for color in _usable_colors(find_pairs(split_dir(root, "train")), sketch_side):
        if max_side is not None:
            color.thumbnail((max_side, max_side), Image.Resampling.BICUBIC)
        pool.append(color)
        if limit is not None and len(pool) >= limit:
            break
    if not pool:
        raise SketchcolorError(f"no usable color images in {root} for Neural Style Transfer's style pool")
    return pool


def _usable_colors(pairs: Sequence[PairSource], sketch_side: str) -> Iterator[Image.Image]:
    for pair in pairs:
        try:
            yield load_pair(pair, sketch_side)[1]
        except (ImageReadError, BadPairError):
            continue
