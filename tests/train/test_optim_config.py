"""cnnlib.train.config and cnnlib.train.optim: TrainConfig's ranges and round trip, schedules."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from cnnlib.profile import get_profile
from cnnlib.train import ConfigError, TrainConfig, build_scheduler

# --- schedules --------------------------------------------------------------------------------


def _lrs(schedule, epochs=8, steps=10, **kw):
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = build_scheduler(opt, schedule, epochs=epochs, steps_per_epoch=steps, **kw)
    lrs = []
    for _ in range(epochs * steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def test_step_schedule_follows_the_resnet_paper():
    lrs = _lrs("step")  # 8 epochs: divide by 10 at epochs 4 and 6 (50% and 75%)
    assert lrs[0] == lrs[39] == pytest.approx(0.1)
    assert lrs[40] == lrs[59] == pytest.approx(0.01)
    assert lrs[60] == lrs[-1] == pytest.approx(0.001)
    custom = _lrs("step", milestones=[2], gamma=0.5)
    assert custom[19] == pytest.approx(0.1) and custom[20] == pytest.approx(0.05)


def test_cosine_with_warmup_and_onecycle():
    lrs = _lrs("cosine", warmup_epochs=2)
    assert lrs[0] == pytest.approx(0.1 / 20) and lrs[19] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(lrs[19:], lrs[20:], strict=False))
    assert lrs[-1] < 0.001
    one = _lrs("onecycle")
    assert max(one) == pytest.approx(0.1, rel=1e-3) and one[0] < 0.01 and one[-1] < 1e-4
    with pytest.raises(ConfigError, match="unknown schedule"):
        _lrs("exponential")


# --- TrainConfig ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lr": math.nan}, "lr: expected a finite number > 0, got nan"),
        ({"lr": math.inf}, "lr: expected a finite number > 0, got inf"),
        ({"lr": 0.0}, "lr: expected a finite number > 0"),
        ({"lr": -0.1}, "lr: expected a finite number > 0"),
        ({"momentum": 1.5}, r"momentum: expected a number in \[0, 1\), got 1.5"),
        ({"momentum": math.nan}, "momentum: expected a number in"),
        ({"weight_decay": -1e-4}, "weight_decay: expected a finite number >= 0"),
        ({"weight_decay": math.inf}, "weight_decay: expected a finite number >= 0, got inf"),
        ({"epochs": 0}, "epochs: expected an integer >= 1, got 0"),
        ({"label_smoothing": 1.0}, "label_smoothing"),
        ({"schedule": "exponential"}, "schedule: expected one of step, cosine"),
        ({"milestones": (0, 3)}, r"milestones: expected epochs in \[1, 10\]"),
        ({"aux_weight": math.nan}, "aux_weight"),
        ({"nesterov": True, "momentum": 0.0}, "nesterov: needs a momentum > 0"),
        ({"batch_size": 0}, "batch_size: expected an integer >= 1"),
        ({"lr_scale": (("conv1", 0.0),)}, r"lr_scale: expected \(module name, multiplier > 0\)"),
        ({"lr_scale": (("", 2.0),)}, "lr_scale: expected"),
        ({"lr_scale": (("conv1", math.nan),)}, "lr_scale: expected"),
    ],
)
def test_config_out_of_range_is_a_config_error(change, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig().replace(**change)
    with pytest.raises(ValueError):  # ConfigError is a ValueError too
        TrainConfig(**change).validated()


def test_config_round_trips_and_takes_the_profile():
    c = TrainConfig.from_profile(get_profile("cpu", device="cpu"), milestones=(5, 8), seed=3)
    assert (c.epochs, c.lr, c.profile, c.device, c.channels_last) == (10, 0.1, "cpu", "cpu", True)
    assert c.to_dict()["milestones"] == [5, 8]
    assert TrainConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ConfigError, match="unknown training settings: lerning_rate"):
        TrainConfig.from_dict({"lerning_rate": 0.1})


def test_lr_scale_round_trips_and_is_left_out_of_records_when_empty():
    c = TrainConfig(lr_scale=(("conv1", 2.5), ("inception3a", 1.5)))
    assert c.to_dict()["lr_scale"] == [["conv1", 2.5], ["inception3a", 1.5]]
    assert TrainConfig.from_dict(c.to_dict()) == c
    assert "lr_scale" not in TrainConfig().to_dict()  # records written before it existed
    assert TrainConfig.from_dict(TrainConfig().to_dict()) == TrainConfig()


def test_build_optimizer_scales_the_named_modules_learning_rate():
    from torch import nn

    from cnnlib.train import build_optimizer, build_scheduler

    model = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 1)))
    opt = build_optimizer(model, lr=0.1, lr_scale=(("1.0", 4.0), ("0", 2.0)))
    lrs = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
    assert [lrs[id(p)] for p in model.parameters()] == pytest.approx([0.2, 0.2, 0.4, 0.4, 0.1, 0.1])
    assert opt.param_groups[0]["lr"] == 0.1  # the unscaled group first (the logged lr)
    sched = build_scheduler(opt, "cosine", epochs=2, steps_per_epoch=1)
    sched.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.05, 0.1, 0.2])  # each halved
    with pytest.raises(ValueError, match=r"lr_scale names modules without parameters.*'2'"):
        build_optimizer(model, lr_scale=(("2", 2.0),))


def test_config_error_names_its_field():
    with pytest.raises(ConfigError) as info:
        TrainConfig(weight_decay=math.inf).validated()
    assert info.value.field == "weight_decay"
