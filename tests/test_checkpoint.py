"""Checkpoints written as whole folders (a crash never pairs new tensors with old counters),
recovered after a kill, and refused with a clear sentence when a newer version wrote them."""

import json
import os
from pathlib import Path

import pytest
import torch

from sketchcolor import atomic
from sketchcolor.atomic import aside_directory, partial_directory
from sketchcolor.checkpoint import MODEL_FORMAT, STATE_FORMAT, load_model, load_state, save_model
from sketchcolor.errors import SketchcolorError
from sketchcolor.models import build_generator
from sketchcolor.train import Trainer


def random_batch(seed: int) -> dict[str, torch.Tensor]:
    rng = torch.Generator().manual_seed(seed)
    return {"sketch": torch.rand(4, 1, 32, 32, generator=rng) * 2 - 1,
            "color": torch.rand(4, 3, 32, 32, generator=rng) * 2 - 1}


def weights(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in module.state_dict().values() if p.is_floating_point()])


def trained_one_step(config, run: Path) -> Trainer:
    trainer = Trainer(config, run)
    trainer.train_step(random_batch(0))
    trainer.save()
    return trainer


def test_a_crash_between_the_two_writes_leaves_the_previous_state_resumable(tmp_path, tiny_config, monkeypatch):
    published = []
    real_rename = os.rename

    def checked_rename(src, dst):
        if Path(dst).name == "state":  # whatever is named state/ is complete
            published.append(sorted(p.name for p in Path(src).iterdir()))
        real_rename(src, dst)

    real_write_text = Path.write_text

    def crash_on_state_json(self, *args, **kwargs):
        if self.name == "state.json":
            raise OSError("killed between state.safetensors and state.json")
        return real_write_text(self, *args, **kwargs)

    monkeypatch.setattr(atomic.os, "rename", checked_rename)
    run = tmp_path / "run"
    trainer = trained_one_step(tiny_config, run)
    saved = weights(trainer.state.generator)
    trainer.train_step(random_batch(1))
    monkeypatch.setattr(Path, "write_text", crash_on_state_json)
    with pytest.raises(SketchcolorError, match="killed between .*; the previous one is kept whole"):
        trainer.save()
    monkeypatch.setattr(Path, "write_text", real_write_text)
    assert sorted(p.name for p in run.iterdir()) == ["latest", "state"]  # no half-written folder left
    assert json.loads((run / "state" / "state.json").read_text())["counters"]["step"] == 1
    resumed = Trainer(tiny_config, run)
    assert resumed.resume() and resumed.step == 1
    assert torch.equal(weights(resumed.state.generator), saved)
    trainer.save()  # the next save goes through
    assert published == [["state.json", "state.safetensors"]] * 2


def test_a_kill_between_the_two_renames_is_recovered_on_resume(tmp_path, tiny_config):
    run = tmp_path / "run"
    trainer = trained_one_step(tiny_config, run)
    os.rename(run / "state", aside_directory(run / "state"))  # the old state moved aside ...
    partial_directory(run / "state").mkdir()  # ... the new one not yet renamed in
    (partial_directory(run / "state") / "state.safetensors").write_bytes(b"half")
    resumed = Trainer(tiny_config, run)
    assert resumed.resume() and resumed.step == 1
    assert torch.equal(weights(resumed.state.generator), weights(trainer.state.generator))
    resumed.save()  # the partial folder is never trusted: the next save replaces it
    assert sorted(p.name for p in run.iterdir()) == ["latest", "state"]


def test_a_kill_after_the_swap_leaves_an_aside_folder_that_goes(tmp_path, tiny_config):
    run = tmp_path / "run"
    trained_one_step(tiny_config, run)
    aside = aside_directory(run / "state")
    aside.mkdir()
    (aside / "state.json").write_text("{}")
    resumed = Trainer(tiny_config, run)
    assert resumed.resume() and resumed.step == 1 and not aside.exists()


def test_a_folder_of_other_things_is_never_replaced(tmp_path, tiny_config):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(SketchcolorError, match="holds other things"):
        save_model(folder, build_generator(tiny_config.generator), tiny_config)
    assert (folder / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def _rewrite_json(path: Path, **changes) -> None:
    meta = json.loads(path.read_text())
    meta.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del meta[key]
    path.write_text(json.dumps(meta))


def test_model_format_is_checked_on_load(tmp_path, tiny_config):
    model = save_model(tmp_path / "model", build_generator(tiny_config.generator), tiny_config)
    assert json.loads((model / "config.json").read_text())["format"] == MODEL_FORMAT
    _rewrite_json(model / "config.json", format=None)  # written before the field existed: same layout
    assert load_model(model)[1] == tiny_config
    _rewrite_json(model / "config.json", format="sketchcolor-generator/2")
    with pytest.raises(SketchcolorError, match=r"newer sketchcolor \(format sketchcolor-generator/2\); "
                                               r"this version reads sketchcolor-generator/1"):
        load_model(model)
    _rewrite_json(model / "config.json", format=STATE_FORMAT)
    with pytest.raises(SketchcolorError, match="does not read"):
        load_model(model)
    _rewrite_json(model / "config.json", format=None, config=None)
    with pytest.raises(SketchcolorError, match="holds no config"):
        load_model(model)


def test_state_format_is_checked_on_load(tmp_path, tiny_config):
    run = tmp_path / "run"
    trained_one_step(tiny_config, run)
    state_json = run / "state" / "state.json"
    assert json.loads(state_json.read_text())["format"] == STATE_FORMAT
    modules = {"generator": build_generator(tiny_config.generator)}
    _rewrite_json(state_json, format=None)  # a state saved before the field existed resumes
    assert load_state(run / "state", modules, "cpu")["step"] == 1
    _rewrite_json(state_json, format="sketchcolor-train-state/7")
    with pytest.raises(SketchcolorError, match=r"newer sketchcolor \(format sketchcolor-train-state/7\)"):
        Trainer(tiny_config, run).resume()


def test_a_trainer_without_data_says_so(tmp_path, tiny_config):
    trainer = Trainer(tiny_config, tmp_path / "run")
    assert trainer.validator is None and trainer.scalar_log is None
    with pytest.raises(SketchcolorError, match="no validation pairs"):
        trainer.sample_grid()
    with pytest.raises(SketchcolorError, match="without data"):
        trainer.fit()
