"""FID: the Fréchet distance against an eigen-decomposition, the extractor on random weights, the cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.linalg
import pytest
import torch

from sketchcolor.errors import SketchcolorError
from sketchcolor.metrics import fid
from sketchcolor.metrics.fid import (
    FID_WEIGHTS_ENV,
    FID_WEIGHTS_NAME,
    InceptionFeatures,
    cached_statistics,
    feature_statistics,
    find_fid_weights,
    frechet_distance,
    missing_weights_message,
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
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(FID_WEIGHTS_ENV, raising=False)
    assert find_fid_weights() is None
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
    for part in (FID_WEIGHTS_NAME, str(tmp_path / "hub" / "checkpoints"), "--fid-weights", FID_WEIGHTS_ENV):
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
