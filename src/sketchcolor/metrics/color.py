"""Color metrics: colorfulness of one image and CIEDE2000 difference between two.

Everything is torch so it runs batched wherever the images already are. The sRGB -> Lab
constants are those of scikit-image (sRGB primaries, D65 white, 2-degree observer), so
the values agree with `skimage.color.deltaE_ciede2000(rgb2lab(...))`.
"""

from __future__ import annotations

import math

import torch

from .pixel import check_pair

XYZ_FROM_RGB = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
D65_WHITE = (0.95047, 1.0, 1.08883)


def colorfulness(x: torch.Tensor) -> torch.Tensor:
    """Hasler & Suesstrunk (2003) colorfulness per image, (B,), on the 0-255 scale.

    With rg = R - G and yb = (R + G) / 2 - B over all pixels (population std):
    sqrt(std_rg^2 + std_yb^2) + 0.3 * sqrt(mean_rg^2 + mean_yb^2). Gray images give 0.
    """
    red, green, blue = (255 * x).unbind(dim=1)
    rg, yb = red - green, 0.5 * (red + green) - blue
    spread = torch.stack([rg.flatten(1).std(dim=1, correction=0), yb.flatten(1).std(dim=1, correction=0)])
    offset = torch.stack([rg.mean(dim=(1, 2)), yb.mean(dim=(1, 2))])
    return spread.norm(dim=0) + 0.3 * offset.norm(dim=0)


def rgb_to_lab(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) sRGB in [0, 1] -> CIE Lab (L in [0, 100]), D65 white."""
    linear = torch.where(x > 0.04045, ((x.clamp_min(0.04045) + 0.055) / 1.055) ** 2.4, x / 12.92)
    matrix = torch.tensor(XYZ_FROM_RGB, dtype=x.dtype, device=x.device)
    white = torch.tensor(D65_WHITE, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    xyz = torch.einsum("ij,bjhw->bihw", matrix, linear) / white
    # CIE's linear segment below (6/29)^3. The clamps here and above keep the branch that
    # torch.where drops finite: a negative base to a fractional power is NaN, and NaN
    # would still leak into gradients.
    f = torch.where(xyz > 0.008856, xyz.clamp_min(0.008856) ** (1 / 3), 7.787 * xyz + 16 / 116)
    fx, fy, fz = f.unbind(dim=1)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=1)


def _hue(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hue angle in [0, 2 pi)."""
    angle = torch.atan2(b, a)
    return torch.where(angle < 0, angle + 2 * math.pi, angle)


def _chroma_weight(chroma: torch.Tensor) -> torch.Tensor:
    """sqrt(C^7 / (C^7 + 25^7)), the chroma dependence shared by G and R_C."""
    c7 = chroma**7
    return torch.sqrt(c7 / (c7 + 25.0**7))


def delta_e_2000(lab1: torch.Tensor, lab2: torch.Tensor) -> torch.Tensor:
    """CIEDE2000 difference (kL = kC = kH = 1) of Lab colors along dim 1.

    (N, 3) pairs give (N,); (B, 3, H, W) images give (B, H, W). Follows Sharma, Wu and
    Dalal (2005), including their conventions for zero chroma and the hue mean. Pairs
    whose hues differ by exactly 180 degrees need float64 to land on the paper's branch.
    """
    l1, a1, b1 = lab1.unbind(dim=1)
    l2, a2, b2 = lab2.unbind(dim=1)
    # 1 + G stretches a* of near-neutral colors, where the original Lab hue spacing was off.
    scale = 1 + 0.5 * (1 - _chroma_weight(0.5 * (torch.hypot(a1, b1) + torch.hypot(a2, b2))))
    c1, c2 = torch.hypot(scale * a1, b1), torch.hypot(scale * a2, b2)
    h1, h2 = _hue(scale * a1, b1), _hue(scale * a2, b2)
    chromatic = c1 * c2 != 0  # a hue is undefined where either chroma is zero
    h_diff, h_sum = h2 - h1, h1 + h2
    wraps = chromatic & (h_diff.abs() > math.pi)  # the shorter way between the hues crosses 0
    dh = torch.where(chromatic, h_diff - 2 * math.pi * torch.sign(h_diff) * wraps, 0.0)
    h_mean = torch.where(wraps, torch.where(h_sum < 2 * math.pi, h_sum + 2 * math.pi, h_sum - 2 * math.pi), h_sum)
    h_mean = torch.where(chromatic, 0.5 * h_mean, h_sum)
    l_mean, c_mean = 0.5 * (l1 + l2), 0.5 * (c1 + c2)
    t = (
        1
        - 0.17 * torch.cos(h_mean - math.radians(30))
        + 0.24 * torch.cos(2 * h_mean)
        + 0.32 * torch.cos(3 * h_mean + math.radians(6))
        - 0.20 * torch.cos(4 * h_mean - math.radians(63))
    )
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / torch.sqrt(20 + (l_mean - 50) ** 2)
    d_l = (l2 - l1) / s_l
    d_c = (c2 - c1) / (1 + 0.045 * c_mean)
    d_h = 2 * torch.sqrt(c1 * c2) * torch.sin(dh / 2) / (1 + 0.015 * c_mean * t)
    rotation = math.radians(30) * torch.exp(-(((torch.rad2deg(h_mean) - 275) / 25) ** 2))
    r_t = -torch.sin(2 * rotation) * 2 * _chroma_weight(c_mean)
    return torch.sqrt((d_l**2 + d_c**2 + d_h**2 + r_t * d_c * d_h).clamp_min(0))


def ciede2000(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean CIEDE2000 difference per image, (B,), between two sRGB batches in [0, 1]."""
    check_pair(a, b)
    return delta_e_2000(rgb_to_lab(a), rgb_to_lab(b)).mean(dim=(1, 2))
