import json
import os
import signal

import pytest
import torch

from sketchcolor.checkpoint import load_model, load_state, save_model
from sketchcolor.errors import SketchcolorError
from sketchcolor.models import build_generator
from sketchcolor.train import Trainer


def test_model_directory_round_trip(tmp_path, tiny_config):
    torch.manual_seed(0)
    generator = build_generator(tiny_config.generator).eval()
    save_model(tmp_path / "model", generator, tiny_config, epoch=3)
    loaded, config, info = load_model(tmp_path / "model")
    sketch = torch.randn(2, 1, 32, 32)
    assert config == tiny_config and info == {"epoch": 3}
    assert torch.equal(generator(sketch), loaded(sketch))
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["config.json", "generator.safetensors"]


@pytest.mark.parametrize("output", ["image", "flat"])
def test_overfitting_one_batch_halves_l1(pair_root, tiny_config, output):
    # "flat": the generator learns a color layer whose product with the sketch is the page.
    config = tiny_config.with_overrides(["generator.dropout=0.0", "train.lr=0.001", f"generator.output={output}"])
    trainer = Trainer(config, pair_root / "run", pair_root)
    batch = next(iter(trainer.loader()[0]))
    first = trainer.train_step(batch)["g/l1"]
    for _ in range(150):
        last = trainer.train_step(batch)["g/l1"]
    assert last < first / 2, (first, last)


def test_a_flat_generator_is_judged_by_its_layer_under_the_sketch(pair_root, tiny_config):
    from sketchcolor import losses
    from sketchcolor.compose import multiply

    config = tiny_config.with_overrides(["generator.dropout=0.0", "generator.output=flat"])
    trainer = Trainer(config, pair_root / "run", pair_root)
    batch = next(iter(trainer.loader()[0]))
    with torch.no_grad():  # batch norm in training mode: the same batch gives the same output
        painted = trainer.state.generator(batch["sketch"])
    logged = trainer.train_step(batch)
    page = multiply(painted, batch["sketch"])
    assert logged["g/l1"] == pytest.approx(losses.l1(page, batch["color"]).item(), rel=1e-5)
    assert logged["g/tv"] == pytest.approx(losses.total_variation(painted).item(), rel=1e-5)


def _weights(module):
    return torch.cat([p.detach().flatten() for p in module.state_dict().values() if p.is_floating_point()])


@pytest.mark.parametrize("ema_decay", [0.0, 0.5])
def test_resume_gives_the_same_steps_as_an_uninterrupted_run(pair_root, tiny_config, ema_decay):
    # 16 train pairs, batch 4: 4 steps an epoch; stop after 6 steps (mid epoch 2), resume to the end.
    config = tiny_config.with_overrides(["train.epochs=2", "data.flip=true", "data.load_size=36",
                                         f"train.ema_decay={ema_decay}"])
    straight = Trainer(config, pair_root / "straight", pair_root)
    straight.fit()
    interrupted = Trainer(config.with_overrides(["train.max_steps=6"]), pair_root / "resumed", pair_root)
    interrupted.fit()
    assert interrupted.step == 6 and interrupted.epoch == 1 and interrupted.state.epoch_step == 2
    with (pair_root / "resumed" / "log.jsonl").open("a") as log:  # as if killed after an unsaved step 7
        log.write(json.dumps({"step": 7, "g/l1": 99.0}) + "\n")
    resumed = Trainer(config, pair_root / "resumed", pair_root)
    assert resumed.resume() and resumed.step == 6
    resumed.fit()
    assert resumed.step == straight.step == 8
    records = [json.loads(line) for line in (pair_root / "resumed" / "log.jsonl").read_text().splitlines()]
    logged = [r["step"] for r in records if "g/l1" in r]
    assert logged == list(range(1, 9))  # each training step once, in order
    assert all(r.get("g/l1") != 99.0 for r in records)  # the lost step's record was dropped
    assert torch.allclose(_weights(resumed.state.generator), _weights(straight.state.generator), atol=1e-6)
    assert torch.allclose(_weights(resumed.state.discriminator), _weights(straight.state.discriminator), atol=1e-6)
    assert torch.allclose(_weights(resumed.state.shipped_generator), _weights(straight.state.shipped_generator), atol=1e-6)


def test_the_averaged_generator_is_the_one_saved(pair_root, tiny_config):
    config = tiny_config.with_overrides(["train.ema_decay=0.5"])
    trainer = Trainer(config, pair_root / "run", pair_root)
    batch = next(iter(trainer.loader()[0]))
    trainer.train_step(batch)
    first = _weights(trainer.state.generator)
    trainer.train_step(batch)
    second = _weights(trainer.state.generator)
    # The first update copies the weights, each later one moves halfway (decay 0.5) to the new ones.
    assert torch.allclose(_weights(trainer.state.shipped_generator), (first + second) / 2, atol=1e-6)
    assert not torch.allclose(first, second)
    trainer.save()
    saved, _, _ = load_model(pair_root / "run" / "latest")
    assert torch.allclose(_weights(saved), _weights(trainer.state.shipped_generator))


def test_a_run_writes_grids_logs_and_checkpoints(pair_root, tiny_config):
    run = pair_root / "run"
    Trainer(tiny_config, run, pair_root).fit()
    assert (run / "samples" / "epoch_0001.png").is_file() and (run / "samples" / "epoch_0002.png").is_file()
    assert any((run / "tb").iterdir())
    assert (run / "config.yaml").is_file() and (run / "log.jsonl").stat().st_size > 0
    generator, config, info = load_model(run / "latest")
    assert info == {"epoch": 2, "step": 8} and config == tiny_config
    modules = {"generator": build_generator(config.generator)}
    counters = load_state(run / "state", modules, "cpu")
    assert {k: counters[k] for k in ("epoch", "epoch_step", "step")} == {"epoch": 2, "epoch_step": 0, "step": 8}


def test_a_step_budget_ending_on_an_epochs_last_batch_still_ends_that_epoch(pair_root, tiny_config):
    # 16 train pairs, batch 4: step 4 is epoch 1's last; its grid and kept generator are due.
    run = pair_root / "run"
    config = tiny_config.with_overrides(["train.epochs=3", "train.max_steps=4", "train.keep_epochs=[1]"])
    trainer = Trainer(config, run, pair_root)
    trainer.fit()
    assert (trainer.step, trainer.epoch, trainer.state.epoch_step) == (4, 1, 0)
    assert (run / "samples" / "epoch_0001.png").is_file()
    assert load_model(run / "epochs" / "epoch_0001")[2] == {"epoch": 1, "step": 4}


def test_sigterm_saves_a_resumable_state(pair_root, tiny_config):
    trainer = Trainer(tiny_config.with_overrides(["train.epochs=50"]), pair_root / "run", pair_root)
    original_step = trainer.train_step

    def step_then_signal(batch):
        scalars = original_step(batch)
        if trainer.step == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return scalars

    trainer.train_step = step_then_signal
    trainer.fit()
    assert trainer.step == 3
    again = Trainer(tiny_config.with_overrides(["train.epochs=50"]), pair_root / "run", pair_root)
    assert again.resume() and again.step == 3 and again.state.epoch_step == 3
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_half_precision_model_directory_is_smaller_and_close(tmp_path, tiny_config):
    torch.manual_seed(0)
    generator = build_generator(tiny_config.generator).eval()
    save_model(tmp_path / "full", generator, tiny_config)
    save_model(tmp_path / "half", generator, tiny_config, half=True)
    full_size = (tmp_path / "full" / "generator.safetensors").stat().st_size
    half_size = (tmp_path / "half" / "generator.safetensors").stat().st_size
    assert half_size < 0.6 * full_size
    loaded, _, _ = load_model(tmp_path / "half")
    sketch = torch.randn(2, 1, 32, 32)
    assert torch.allclose(loaded(sketch), generator(sketch), atol=2e-2)


def test_bf16_on_cpu_trains_close_to_fp32(tiny_config, tmp_path):
    from sketchcolor.runtime import cpu_autocast_bf16

    if not cpu_autocast_bf16():
        pytest.skip("no bf16 autocast on this CPU")
    batch = {"sketch": torch.rand(4, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1,
             "color": torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1}
    exact = Trainer(tiny_config, tmp_path / "fp32")
    mixed = Trainer(tiny_config.with_overrides(["train.amp_on_cpu=true"]), tmp_path / "bf16")
    assert mixed.use_amp and mixed.layout == torch.channels_last and not exact.use_amp
    for _ in range(3):
        torch.manual_seed(5)
        a = exact.train_step(batch)
        torch.manual_seed(5)
        b = mixed.train_step(batch)
        for key in ("g/l1", "g/gan", "d/real"):
            assert abs(a[key] - b[key]) <= 0.05 * abs(a[key]) + 1e-2, (key, a[key], b[key])


def test_a_compiled_training_step_tracks_the_eager_one(tiny_config, tmp_path):
    # Without dropout both see the same noise; the penalty's double backward stays eager.
    config = tiny_config.with_overrides(["generator.dropout=0"])
    assert config.loss.gp_weight > 0
    batch = {"sketch": torch.rand(4, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1,
             "color": torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1}
    eager = Trainer(config, tmp_path / "eager")
    compiled = Trainer(config.with_overrides(["train.compile=true"]), tmp_path / "compiled")
    for _ in range(2):
        torch.manual_seed(5)
        a = eager.train_step(batch)
        torch.manual_seed(5)
        b = compiled.train_step(batch)
        for key in ("g/l1", "g/gan", "d/real", "d/gp"):
            assert abs(a[key] - b[key]) <= 1e-3 * abs(a[key]) + 1e-4, (key, a[key], b[key])
    # what is saved and validated is the plain module, with its plain parameter names
    assert type(compiled.state.generator) is type(eager.state.generator)
    assert compiled.state.generator.state_dict().keys() == eager.state.generator.state_dict().keys()


def test_init_from_fine_tunes_a_saved_generator_and_refuses_another_shape(pair_root, tiny_config):
    source = Trainer(tiny_config, pair_root / "source", pair_root)
    source.train_step(next(iter(source.loader()[0])))
    source.save()
    # A different seed would give other initial weights: equal weights mean they were loaded.
    config = tiny_config.with_overrides([f"train.init_from={pair_root / 'source'}", "train.seed=1"])
    tuned = Trainer(config, pair_root / "tuned", pair_root)
    assert torch.equal(_weights(tuned.state.generator), _weights(source.state.generator))
    assert not torch.equal(_weights(tuned.state.discriminator), _weights(source.state.discriminator))
    wider = config.with_overrides([f"generator.ngf={tiny_config.generator.ngf * 2}"])
    with pytest.raises(SketchcolorError, match="init_from"):
        Trainer(wider, pair_root / "wider", pair_root)


def test_a_hint_capable_run_can_weigh_the_pixels_colored_like_its_hints(pair_root, tiny_config):
    overrides = ["generator.hints=true", "hints.none_share=0.0", "hints.mean_count=4"]
    plain = Trainer(tiny_config.with_overrides(overrides), pair_root / "plain", pair_root)
    batch = next(iter(plain.loader()[0]))
    assert batch["hints"][:, 3].eq(1).any()
    assert "g/hint_l1" not in plain.train_step(batch)
    weighted = Trainer(tiny_config.with_overrides([*overrides, "loss.hint_l1_weight=50"]), pair_root / "w", pair_root)
    scalars = weighted.train_step(batch)
    assert 0 < scalars["g/hint_l1"] and scalars["g/total"] > 50 * scalars["g/hint_l1"]
