"""Recipes, schedules and the training loop (resume, NaN stop, checkpoint checks)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from xnas.nas.train import loop as train_module
from xnas.nas.checkpoint import CheckpointError, load_checkpoint
from xnas.nas.spaces.darts.genotypes import GENOTYPES
from xnas.nas.train.recipes import (
    RECIPES,
    RecipeError,
    cosine_lr,
    cycle_bounds,
    drop_path_prob,
    get_recipe,
    learning_rate,
    override,
    parse_assignments,
    power_cosine_lr,
)
from xnas.nas.train.loop import TrainConfig, TrainingError, TrainSetupError, evaluate_checkpoint, train

torch.set_num_threads(1)


# ---------------------------------------------------------------------------------
# recipes and schedules
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(RECIPES))
def test_recipes_validate_and_schedule(name: str) -> None:
    recipe = RECIPES[name].validate()
    lrs = [learning_rate(recipe, e) for e in range(recipe.epochs)]
    assert lrs[0] == pytest.approx(recipe.lr)
    assert all(recipe.min_lr - 1e-12 <= lr <= recipe.lr + 1e-12 for lr in lrs)
    assert drop_path_prob(recipe, 0) == (0.0 if recipe.drop_path_ramp else recipe.drop_path)


def test_xnas_recipe_is_section_4_2() -> None:
    r = get_recipe("xnas")
    assert (r.epochs, r.batch_size, r.momentum, r.nesterov, r.weight_decay) == (1500, 96, 0.9, True, 3e-4)
    assert (r.schedule, r.cycles, r.amplitude_decay, r.power) == ("power_cosine", 5, 0.5, 2.0)
    assert (r.cutout, r.autoaugment, r.auxiliary_weight, r.label_smoothing) == (16, True, 0.4, 0.1)
    assert r.drop_path > 0 and r.drop_path_ramp
    d = get_recipe("darts")
    assert (d.epochs, d.batch_size, d.lr, d.min_lr, d.schedule, d.cutout, d.drop_path, d.grad_clip) == (
        600, 96, 0.025, 0.0, "cosine", 16, 0.2, 5.0)
    i = get_recipe("imagenet")
    assert (i.epochs, i.cycles, i.nesterov, i.label_smoothing, i.channels, i.layers, i.imagenet) == (
        250, 1, True, 0.1, 46, 14, True)


def test_power_cosine_matches_the_formula() -> None:
    # one cycle of E = 10 epochs, p = 2, by hand
    E, p, hi, lo = 10, 2.0, 0.1, 0.001

    def v(e):
        return p ** ((1 + math.cos(math.pi * e / E)) / 2 + 1)

    for e in range(E):
        expected = lo + (v(e) - v(E - 1)) / (v(0) - v(E - 1)) * (hi - lo)
        assert power_cosine_lr(e, E, hi, lo, cycles=1, power=p) == pytest.approx(expected, rel=1e-12)


def test_power_cosine_cycles_halve_the_amplitude() -> None:
    epochs, cycles = 50, 5
    lrs = [power_cosine_lr(e, epochs, 0.04, 0.0, cycles=cycles, power=2.0, amplitude_decay=0.5) for e in range(epochs)]
    for k, (start, length) in enumerate(cycle_bounds(epochs, cycles)):
        assert length == 10
        cycle = lrs[start:start + length]
        assert cycle[0] == pytest.approx(0.04 * 0.5**k)
        assert cycle[-1] == pytest.approx(0.0, abs=1e-15)
        assert all(a > b for a, b in zip(cycle, cycle[1:]))  # strictly decreasing within a cycle
    # the power makes it steeper than cosine early on: below the plain cosine at the first quarter
    assert lrs[2] < cosine_lr(2, 9, 0.04)
    assert cycle_bounds(7, 3) == [(0, 3), (3, 2), (5, 2)]


def test_cosine_and_drop_path_ramp() -> None:
    assert cosine_lr(0, 600, 0.025) == pytest.approx(0.025)
    assert cosine_lr(300, 600, 0.025) == pytest.approx(0.0125)
    r = override(get_recipe("darts"), epochs=10)
    assert [drop_path_prob(r, e) for e in (0, 5, 9)] == pytest.approx([0.0, 0.1, 0.18])
    assert drop_path_prob(override(r, drop_path_ramp="false"), 0) == 0.2


def test_overrides() -> None:
    r = override(get_recipe("xnas"), **parse_assignments(["epochs=2", "lr=0.05", "nesterov=off", "batch-size=8"]))
    assert (r.epochs, r.lr, r.nesterov, r.batch_size) == (2, 0.05, False, 8)
    assert learning_rate(r, 1) == pytest.approx(0.025)  # 2 epochs keep 2 of the 5 cycles, halved
    with pytest.raises(RecipeError, match="unknown recipe field 'epoch'"):
        override(r, epoch="3")
    with pytest.raises(RecipeError, match="needs an integer"):
        override(r, epochs="many")
    with pytest.raises(RecipeError, match="drop_path"):
        override(r, drop_path="1.5")
    with pytest.raises(RecipeError, match="key=value"):
        parse_assignments(["epochs"])
    with pytest.raises(RecipeError, match="choose from"):
        get_recipe("fast")


# ---------------------------------------------------------------------------------
# training loop
# ---------------------------------------------------------------------------------
def tiny_config(out, **changes) -> TrainConfig:
    fields = dict(epochs=3, batch_size=16, channels=4, layers=3, cutout=4, drop_path=0.3, lr=0.05)
    recipe = override(get_recipe("xnas"), **{**fields, **changes})
    return TrainConfig("digits", GENOTYPES["XNAS"], recipe, str(out), seed=7, limit=64, max_steps=2,
                       device="cpu", progress=False)


class Crash(Exception):
    pass


def test_resume_equals_uninterrupted(tmp_path) -> None:
    full = train(tiny_config(tmp_path / "full"))

    def crash_after_first(row):
        if row["epoch"] == 1:
            raise Crash

    with pytest.raises(Crash):
        train(tiny_config(tmp_path / "part"), on_epoch=crash_after_first)
    assert load_checkpoint(tmp_path / "part" / "checkpoint.pt")["epoch"] == 1
    resumed = train(tiny_config(tmp_path / "part"), resume=True)

    a = load_checkpoint(tmp_path / "full" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "part" / "checkpoint.pt")
    assert a["epoch"] == b["epoch"] == 3
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    for ra, rb in zip(a["history"], b["history"]):
        for field in ("train_loss", "train_acc", "test_top1_err", "lr", "drop_path"):
            assert ra[field] == rb[field]
    assert full["test_top1_err"] == resumed["test_top1_err"]
    rows = [json.loads(line) for line in (tmp_path / "part" / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    config = json.loads((tmp_path / "full" / "config.json").read_text())
    assert config["recipe"]["epochs"] == 3 and config["genotype"] == GENOTYPES["XNAS"].to_dict()
    assert json.loads((tmp_path / "full" / "results.json").read_text())["params_M"] == full["params_M"]
    # a run differs from another seed (the test can fail)
    other = train(TrainConfig(**{**tiny_config(tmp_path / "other").__dict__, "seed": 8}))
    c = load_checkpoint(tmp_path / "other" / "checkpoint.pt")
    assert not torch.equal(a["model"]["classifier.weight"], c["model"]["classifier.weight"])
    assert other["params_M"] == full["params_M"]

    evaluated = evaluate_checkpoint(str(tmp_path / "full" / "checkpoint.pt"), limit=64)
    assert evaluated["top1_err"] == pytest.approx(full["test_top1_err"])
    assert evaluated["n"] == 64


def test_nan_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch) -> None:
    real = train_module.learning_rate

    def poisoned(recipe, epoch):
        return float("nan") if epoch == 1 else real(recipe, epoch)

    monkeypatch.setattr(train_module, "learning_rate", poisoned)
    with pytest.raises(TrainingError, match="non-finite.*epoch 2.*last good checkpoint"):
        train(tiny_config(tmp_path))
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    assert ckpt["epoch"] == 1
    assert all(torch.isfinite(t).all() for t in ckpt["model"].values() if t.is_floating_point())


def test_checkpoint_from_another_network_or_recipe(tmp_path) -> None:
    config = tiny_config(tmp_path, epochs=1)
    train(config)
    with pytest.raises(TrainSetupError, match="--resume"):
        train(config)
    with pytest.raises(CheckpointError, match="another network.*channels"):
        train(tiny_config(tmp_path, epochs=1, channels=6), resume=True)
    with pytest.raises(CheckpointError, match="another recipe.*lr"):
        train(tiny_config(tmp_path, epochs=1, lr=0.1), resume=True)
    with pytest.raises(TrainSetupError, match="nothing to resume"):
        train(tiny_config(tmp_path / "empty", epochs=1), resume=True)
    # a search checkpoint (or anything else) is not a training checkpoint
    from xnas.nas.checkpoint import save_checkpoint

    save_checkpoint({"alphas": torch.zeros(3)}, tmp_path / "search.pt")
    with pytest.raises(CheckpointError, match="not an xnas-nas train checkpoint"):
        evaluate_checkpoint(str(tmp_path / "search.pt"))


def test_channels_last_matches_contiguous(tmp_path) -> None:
    base = tiny_config(tmp_path / "nchw", epochs=1)
    base.channels_last = False
    a = train(base)
    b = train(tiny_config(tmp_path / "nhwc", epochs=1))
    assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
    assert json.loads((tmp_path / "nchw" / "config.json").read_text())["channels_last"] is False


def test_resume_equals_uninterrupted_with_loader_workers(tmp_path) -> None:
    def config(out):
        c = tiny_config(out, epochs=2, autoaugment="true")
        c.num_workers = 1
        return c

    train(config(tmp_path / "full"))

    def crash(row):
        raise Crash

    with pytest.raises(Crash):
        train(config(tmp_path / "part"), on_epoch=crash)
    train(config(tmp_path / "part"), resume=True)
    a = load_checkpoint(tmp_path / "full" / "checkpoint.pt")["model"]
    b = load_checkpoint(tmp_path / "part" / "checkpoint.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_top5_error_is_none_with_five_classes_or_fewer():
    """Every label is among the top 5 of 5 classes: a 0 % top-5 error would say nothing."""
    from torch import nn

    from xnas.nas.train.evaluation import evaluate

    class Net(nn.Module):
        def __init__(self, classes):
            super().__init__()
            self.fc = nn.Linear(4, classes)

        def forward(self, x):
            return self.fc(x.flatten(1)), None

    torch.manual_seed(0)
    for classes, has_top5 in ((3, False), (5, False), (6, True), (10, True)):
        x = torch.randn(12, 1, 2, 2)
        y = torch.randint(0, classes, (12,))
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=4)
        out = evaluate(Net(classes), loader, torch.device("cpu"), channels_last=False)
        assert (out["top5_err"] is not None) == has_top5, classes
        assert 0.0 <= out["top1_err"] <= 100.0 and out["n"] == 12
