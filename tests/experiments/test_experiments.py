"""cnnlib.experiments: the registry, running (smoke budget), the stored JSON, resume after an
interruption, loading, summaries, the plot, and the command line's usage errors."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch

from cnnlib import data, experiments
from cnnlib.experiments import runner
from cnnlib.experiments.cli import main
from cnnlib.experiments.registry import settings
from cnnlib.models.vgg_init import PAPER_INPUT_STD

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("CNNLIB_DATA", raising=False)  # the smoke budget's synthetic set
    monkeypatch.delenv("CNNLIB_RESULTS", raising=False)


def _strict(path: Path) -> dict:
    def refuse(constant):
        pytest.fail(f"{constant} in {path}")

    return json.loads(path.read_text(), parse_constant=refuse)


# --- the registry ------------------------------------------------------------------------------


def test_every_experiment_states_its_question_paper_arms_and_budgets():
    assert "degradation" in experiments.list_experiments()
    for name in experiments.list_experiments():
        exp = experiments.get(name)
        assert exp.question.endswith("?") and exp.paper["source"] and exp.paper["claim"]
        # an analysis of a trained model (lesion) may have one arm; a comparison needs two
        assert len(exp.arms) >= (1 if exp.analysis else 2)
        assert len({a.name for a in exp.arms}) == len(exp.arms)
        assert set(exp.budgets) == set(experiments.BUDGETS)
        for budget in exp.budgets.values():
            assert len(budget.seeds) >= 2
        # the arms differ in the model (and its learning rate) only: an arm has no field that
        # could change the schedule or the budget, and changes its data, its start or its loss
        # only where that is the question (augmentation, vgg_init, aux_heads)
        fields = {"name", "model", "model_kwargs", "lr", "augment", "init", "aux_weight",
                  "lr_scale"}  # fmt: skip
        assert all(set(vars(a)) == fields for a in exp.arms)
        if name != "augmentation":
            assert all(a.augment is None for a in exp.arms), name
        if name != "vgg_init":
            assert all(a.init is None for a in exp.arms), name
        if name != "aux_heads":
            assert all(a.aux_weight is None and a.lr_scale is None for a in exp.arms), name


def test_unknown_names_are_errors_naming_the_choices():
    with pytest.raises(experiments.ExperimentError, match="closest: degradation"):
        experiments.get("degradaton")
    exp = experiments.get("degradation")
    with pytest.raises(experiments.ExperimentError, match="choose from smoke, cpu, long, gpu"):
        exp.budget("huge")
    with pytest.raises(experiments.ExperimentError, match="choose from plain20, plain56"):
        exp.arm("plain110")


# --- running, the stored JSON ------------------------------------------------------------------


TRAINING = [n for n in experiments.list_experiments() if not experiments.get(n).analysis]


@pytest.mark.slow
@pytest.mark.parametrize("name", TRAINING)  # the lesion analysis has its own test below
def test_every_experiment_runs_in_the_smoke_budget(name, tmp_path):
    result = experiments.run(name, "smoke", results=tmp_path, progress=False)
    stored = _strict(tmp_path / name / "smoke.json")
    assert stored == json.loads(json.dumps(result))
    exp = experiments.get(name)
    _check_schema(stored, exp)
    assert not (tmp_path / name / ".work" / "smoke").exists()  # checkpoints cleaned up


def _check_schema(result: dict, exp) -> None:
    assert {"experiment", "budget", "question", "paper", "runs", "card"} <= set(result)
    assert result["complete"] is True
    assert {"command", "commit", "device", "versions", "seconds"} <= set(result["card"])
    assert result["card"]["command"].startswith(f"python -m cnnlib.experiments run {exp.name}")
    budget = exp.budget(result["budget"])
    assert sorted((r["arm"], r["seed"]) for r in result["runs"]) == sorted(
        (a.name, s) for a in exp.arms for s in budget.seeds
    )
    for run in result["runs"]:
        epochs = [h["epoch"] for h in run["history"]]
        assert epochs[0] == 0 and epochs[-1] == budget.epochs and epochs == sorted(epochs)
        for h in run["history"]:
            assert {"step", "epoch", "train_error", "test_error"} <= set(h)
            assert 0 <= h["train_error"] <= 1 and 0 <= h["test_error"] <= 1
        assert {"train_error", "test_error"} <= set(run["final"])
        assert run["final"]["train_error"] == run["history"][-1]["train_error"]
        if exp.target_train_error is not None:
            reached = run["final"]["epochs_to_target"]
            assert reached == runner.epochs_to(run["history"], exp.target_train_error)


@pytest.mark.slow
def test_an_interrupted_run_resumes_to_the_same_result(tmp_path, monkeypatch):
    exp = experiments.get("degradation")
    smoke = exp.budget("smoke")
    monkeypatch.setitem(exp.budgets, "smoke", dataclasses.replace(smoke, epochs=3, eval_every=1))
    whole = experiments.run(
        "degradation",
        "smoke",
        arms=["plain20", "resnet20"],
        results=tmp_path / "whole",
        progress=False,
    )
    calls = {"n": 0}
    real_fit = runner.fit

    def interrupted_fit(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:  # in the second run (plain20 seed 0 took 3 calls), after one epoch
            raise KeyboardInterrupt
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(runner, "fit", interrupted_fit)
    with pytest.raises(KeyboardInterrupt):
        experiments.run(
            "degradation",
            "smoke",
            arms=["plain20", "resnet20"],
            results=tmp_path / "split",
            progress=False,
        )
    partial = _strict(tmp_path / "split" / "degradation" / "smoke.json")
    assert [(r["arm"], r["seed"]) for r in partial["runs"]] == [("plain20", 0)]
    assert partial["complete"] is False
    work = tmp_path / "split" / "degradation" / ".work" / "smoke" / "resnet20-s0"
    assert (work / "checkpoint.pt").is_file()  # the current run kept its checkpoint
    monkeypatch.setattr(runner, "fit", real_fit)
    resumed = experiments.run(
        "degradation",
        "smoke",
        arms=["plain20", "resnet20"],
        results=tmp_path / "split",
        progress=False,
    )

    def by_run(result):
        return {(r["arm"], r["seed"]): r["history"] for r in result["runs"]}

    assert by_run(resumed) == by_run(whole)  # bit-identical errors and losses


def test_a_stored_result_of_another_design_is_not_mixed_in(tmp_path):
    path = tmp_path / "degradation" / "smoke.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"design": {"budget": {}}, "runs": [], "card": {}}))
    with pytest.raises(experiments.ExperimentError, match="another design"):
        experiments.run("degradation", "smoke", results=tmp_path, progress=False)


@pytest.mark.slow
def test_the_gpu_budget_runs_on_the_cpu_at_smoke_size(tmp_path, monkeypatch):
    exp = experiments.get("degradation")
    gpu, smoke = exp.budget("gpu"), exp.budget("smoke")
    tiny = dataclasses.replace(
        gpu,
        device="cpu",
        train_per_class=smoke.train_per_class,
        test_per_class=2,
        epochs=2,
        eval_every=1,
        train_eval_per_class=4,
        batch_size=20,
        seeds=(0, 1),
        allow_synthetic=True,
        model_kwargs=smoke.model_kwargs,
    )  # amp stays on, as in the gpu budget (a no-op on the CPU)
    assert gpu.amp and tiny.amp
    monkeypatch.setitem(exp.budgets, "gpu", tiny)
    result = experiments.run("degradation", "gpu", results=tmp_path, progress=False)
    _check_schema(result, exp)


# --- loading and reading results ---------------------------------------------------------------


def _fake_result() -> dict:
    def run(arm, seed, errors):
        history = [
            {
                "step": 10 * i,
                "epoch": i,
                "train_error": e,
                "test_error": e + 0.1,
                "train_loss": 2 * e,
            }
            for i, e in enumerate(errors)
        ]
        return {
            "arm": arm,
            "seed": seed,
            "history": history,
            "final": {"train_error": errors[-1], "test_error": errors[-1] + 0.1},
        }

    return {
        "experiment": "degradation",
        "budget": "cpu",
        "design": {"budget": {"epochs": 2}},
        "runs": [
            run("a", 0, [0.9, 0.5, 0.3]),
            run("a", 1, [0.9, 0.7, 0.5]),
            run("b", 0, [0.9, 0.8, 0.6]),
            run("b", 1, [0.9, 0.6, 0.4]),
        ],
    }


def test_mean_spread_and_final_table():
    curves = experiments.mean_and_spread(_fake_result())
    assert curves["a"]["epoch"] == [0, 1, 2] and curves["a"]["seeds"] == 2
    assert curves["a"]["mean"] == pytest.approx([0.9, 0.6, 0.4])
    assert curves["b"]["min"] == pytest.approx([0.9, 0.6, 0.4])
    assert curves["b"]["max"] == pytest.approx([0.9, 0.8, 0.6])
    rows = {r["arm"]: r for r in experiments.final_table(_fake_result())}
    assert rows["a"]["train_error mean"] == pytest.approx(40.0)
    assert rows["a"]["train_error sd"] == pytest.approx(math.sqrt(2) * 10)
    assert rows["b"]["test_error mean"] == pytest.approx(60.0) and rows["b"]["seeds"] == 2


def test_paired_difference_is_seed_by_seed():
    d = experiments.paired_difference(_fake_result(), "b", "a")
    assert d["per_seed"] == pytest.approx({0: 30.0, 1: -10.0})
    assert d["mean"] == pytest.approx(10.0) and d["sd"] == pytest.approx(math.sqrt(800))
    assert (d["min"], d["max"]) == pytest.approx((-10.0, 30.0))
    with pytest.raises(ValueError, match="no seed has runs of both 'c' and 'a'"):
        experiments.paired_difference(_fake_result(), "c", "a")


def test_load_finds_results_from_any_directory_and_says_how_to_make_them(tmp_path, monkeypatch):
    path = tmp_path / "degradation" / "cpu.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(_fake_result()))
    monkeypatch.chdir(tmp_path / "degradation")
    assert experiments.load("degradation", "cpu", results=tmp_path)["runs"][0]["arm"] == "a"
    monkeypatch.setenv("CNNLIB_RESULTS", str(tmp_path))
    assert experiments.load("degradation", "cpu")["budget"] == "cpu"
    with pytest.raises(
        experiments.ExperimentError,
        match="python -m cnnlib.experiments run degradation --budget long",
    ):
        experiments.load("degradation", "long", results=tmp_path / "empty")


def test_without_a_clone_load_fetches_from_the_installed_commit(tmp_path, monkeypatch):
    from cnnlib.experiments import store

    served = []

    class Response:
        def __init__(self, url):
            served.append(url)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self):
            return json.dumps(_fake_result()).encode()

    monkeypatch.setattr(store, "repository_results", lambda: None)
    monkeypatch.setattr(store, "installed_from", lambda: ("https://github.com/o/book", "abc123"))
    monkeypatch.setattr(store.urllib.request, "urlopen", lambda url, timeout: Response(url))
    monkeypatch.chdir(tmp_path)
    assert experiments.load("degradation", "cpu")["runs"][0]["arm"] == "a"
    assert served == [
        "https://raw.githubusercontent.com/o/book/abc123/results/degradation/cpu.json"
    ]
    experiments.load("degradation", "cpu")  # the second time from the cache
    assert len(served) == 1

    def offline(url, timeout):
        raise OSError("no network")

    monkeypatch.setattr(store.urllib.request, "urlopen", offline)
    with pytest.raises(experiments.ExperimentError, match=r"https://github.com/o/book at abc123"):
        experiments.load("degradation", "long")


def test_installed_from_reads_pips_direct_url(monkeypatch):
    from cnnlib.experiments import store

    class Dist:
        def __init__(self, text):
            self.text = text

        def read_text(self, name):
            assert name == "direct_url.json"
            return self.text

    git = {"url": "https://github.com/o/book.git", "vcs_info": {"vcs": "git", "commit_id": "f00"}}
    monkeypatch.setattr(store.importlib.metadata, "distribution", lambda n: Dist(json.dumps(git)))
    assert store.installed_from() == ("https://github.com/o/book", "f00")
    editable = {"url": "file:///work/main", "dir_info": {"editable": True}}
    monkeypatch.setattr(
        store.importlib.metadata, "distribution", lambda n: Dist(json.dumps(editable))
    )
    assert store.installed_from() is None


def test_plot_experiment_panels_share_one_y_axis():
    import matplotlib

    matplotlib.use("Agg", force=True)
    from cnnlib.plots import plot_experiment

    fig = plot_experiment(_fake_result(), panels=[["a"], ["b"]], titles=["A", "B"])
    left, right = fig.axes
    assert left.get_shared_y_axes().joined(left, right)
    assert list(left.lines[0].get_ydata()) == pytest.approx([90, 60, 40])
    assert left.get_title() == "A" and left.get_ylabel() == "training error (%)"
    with pytest.raises(ValueError, match=r"no runs of arm\(s\) \['c'\]"):
        plot_experiment(_fake_result(), panels=[["a", "c"]])
    both = plot_experiment(_fake_result(), ["train_error", "test_error"])
    train_ax, test_ax = both.axes
    assert [ax.get_title() for ax in both.axes] == ["training error (%)", "test error (%)"]
    assert list(test_ax.lines[0].get_ydata()) == pytest.approx([100, 70, 50])  # arm a, + 0.1
    assert len(train_ax.lines) == len(test_ax.lines) == 2 and train_ax.get_ylabel() == "error (%)"
    assert train_ax.get_legend() is None and len(both.legends) == 1  # one legend, under the panels
    assert len(both.legends[0].get_texts()) == 2
    mixed = plot_experiment(_fake_result(), ["train_loss", "test_error"])
    loss_ax, error_ax = mixed.axes
    assert not loss_ax.get_shared_y_axes().joined(loss_ax, error_ax)  # a loss is not in %
    assert (loss_ax.get_ylabel(), error_ax.get_ylabel()) == ("training loss", "test error (%)")
    assert left.get_legend() is not None  # panels of different arms: a legend each
    seeds = plot_experiment(_fake_result(), per_seed=True).axes[0]
    assert [list(ln.get_ydata()) for ln in seeds.lines[:2]] == [[90, 50, 30], [90, 70, 50]]
    assert seeds.lines[0].get_linestyle() != seeds.lines[-1].get_linestyle()  # arm a vs arm b
    assert len(seeds.get_legend().get_texts()) == 2  # one entry per arm, not per seed
    with pytest.raises(ValueError, match="several metrics or panels"):
        plot_experiment(_fake_result(), ["train_error", "test_error"], panels=[["a"]])
    target = plot_experiment(_fake_result(), target=0.25).axes[0]
    assert [ln.get_ydata()[0] for ln in target.lines if ln.get_gid() == "target"] == [25]


def test_epochs_to_target_counts_a_run_that_never_got_there_as_the_budget():
    result = _fake_result()
    for r in result["runs"]:
        r["final"]["epochs_to_target"] = runner.epochs_to(r["history"], 0.5)
    rows = {r["arm"]: r for r in experiments.epochs_to_target(result)}
    assert rows["a"]["per_seed"] == {0: 1, 1: 2} and rows["a"]["reached"] == 2
    assert rows["b"]["per_seed"] == {0: None, 1: 2} and rows["b"]["reached"] == 1
    assert rows["b"]["mean"] == pytest.approx(2.0)  # the budget (2 epochs) for seed 0
    assert rows["a"]["sd"] == pytest.approx(math.sqrt(0.5))
    del result["runs"][0]["final"]["epochs_to_target"]
    with pytest.raises(ValueError, match="without epochs_to_target"):
        experiments.epochs_to_target(result)


# --- the command line --------------------------------------------------------------------------


def _usage_error(capsys, argv) -> str:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


def test_cli_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "degradation: Does a deeper plain net" in out and "budgets: smoke, cpu, long, gpu" in out


def test_cli_bad_input_is_a_usage_error_naming_the_choices(capsys, tmp_path):
    assert "unknown experiment 'degradaton'" in _usage_error(capsys, ["run", "degradaton"])
    err = _usage_error(capsys, ["run", "degradation", "--budget", "huge"])
    assert "choose from 'smoke', 'cpu', 'long', 'gpu'" in err
    err = _usage_error(capsys, ["run", "degradation", "--arms", "plain110"])
    assert "no arm 'plain110'; choose from plain20, plain56, resnet20, resnet56" in err
    (tmp_path / "a-file").write_text("")
    err = _usage_error(capsys, ["run", "degradation", "--results", str(tmp_path / "a-file")])
    assert f"cannot write results into {tmp_path / 'a-file'}" in err


# --- trained models ----------------------------------------------------------------------------


def test_trained_trains_when_missing_then_loads_the_stored_half_precision_copy(tmp_path, capsys):
    model = experiments.trained("resnet20", "smoke", results=tmp_path, progress=False)
    assert "no stored checkpoint" in capsys.readouterr().out and not model.training
    path = tmp_path / "trained" / "resnet20" / "smoke.pt"
    meta = _strict(path.with_suffix(".json"))
    assert 0 <= meta["test_error"] <= 1 and {"command", "device", "versions"} <= set(meta["card"])
    assert path.stat().st_size < 4 * 2**20
    stored = torch.load(path, weights_only=True)
    assert all(
        v.dtype.is_floating_point is False or v.dtype == torch.float16 for v in stored.values()
    )
    again = experiments.trained("resnet20", "smoke", results=tmp_path, progress=False)
    out = capsys.readouterr().out
    assert "loaded the stored checkpoint smoke.pt" in out
    for (k, a), b in zip(model.state_dict().items(), again.state_dict().values(), strict=True):
        assert b.dtype == a.dtype, k
        assert torch.equal(a, b), k  # the first call returns the stored precision too


def test_trained_refuses_unknown_names_and_budgets():
    with pytest.raises(experiments.ExperimentError, match="no trained-model recipe 'vgg'"):
        experiments.trained("vgg")
    with pytest.raises(experiments.ExperimentError, match="no budget 'huge'; choose from smoke"):
        experiments.trained("resnet20", "huge")


def test_stored_trained_models_fit_in_4_mib():
    stored = list((REPO / "results" / "trained").rglob("*.pt"))
    for path in stored:
        assert path.stat().st_size < 4 * 2**20, path


def test_trained_resumes_a_killed_run_from_its_work_folder(tmp_path, monkeypatch):
    """Killed after training but before storing: the checkpoint in the work folder is kept, and
    the next call resumes from it instead of training again."""
    import importlib

    from cnnlib.train import loop

    trained_module = importlib.import_module("cnnlib.experiments.trained")

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(trained_module, "_store", killed)
        with pytest.raises(KeyboardInterrupt):
            experiments.trained("resnet20", "smoke", results=tmp_path, progress=False)
    work = tmp_path / "trained" / "resnet20" / ".work" / "smoke"
    assert any(work.iterdir()), "the killed run left no checkpoint"
    epochs = []
    real = loop._train_one_epoch
    monkeypatch.setattr(loop, "_train_one_epoch", lambda *a, **k: epochs.append(1) or real(*a, **k))
    experiments.trained("resnet20", "smoke", results=tmp_path, progress=False)
    assert epochs == [], "the resumed run trained again"
    assert (tmp_path / "trained" / "resnet20" / "smoke.pt").is_file() and not work.exists()


# --- the lesion analysis ------------------------------------------------------------------------


@pytest.mark.slow
def test_lesion_analyses_a_trained_model_and_stores_every_seed(tmp_path):
    result = experiments.run("lesion", "smoke", results=tmp_path, progress=False)
    stored = _strict(tmp_path / "lesion" / "smoke.json")
    assert stored["complete"] and [r["seed"] for r in stored["runs"]] == [0, 1]
    assert stored["trained"] == {"model": "resnet20", "budget": "smoke"}
    run = result["runs"][0]
    assert list(run["deletions"]) == [str(k) for k in range(8)]  # 7 shape-keeping blocks
    assert len(run["single"]) == 9 and sum(r["downsampling"] for r in run["single"]) == 2
    assert list(run["path_gradients"]) == [str(k) for k in range(10)]
    assert run["final"]["test_error"] == run["deletions"]["0"][0]
    assert (tmp_path / "trained" / "resnet20" / "smoke.pt").is_file()  # trained once, reused
    again = experiments.run("lesion", "smoke", results=tmp_path, progress=False)
    assert again["runs"] == stored["runs"]


def test_a_reworded_budget_note_is_the_same_design(tmp_path):
    """The note is prose: rewording it keeps a stored result valid; any other change does not."""
    from cnnlib.experiments.runner import _start

    exp = experiments.get("degradation")
    b = exp.budget("smoke")
    path = tmp_path / "degradation" / "smoke.json"
    path.parent.mkdir(parents=True)
    fresh = _start(exp, "smoke", b, [0], list(exp.arms), path)
    fresh["design"]["budget"]["note"] = "an older wording"
    path.write_text(json.dumps(fresh))
    assert _start(exp, "smoke", b, [0], list(exp.arms), path)["design"]["budget"]["note"] == (
        "an older wording"
    )
    fresh["design"]["budget"]["epochs"] += 1
    path.write_text(json.dumps(fresh))
    with pytest.raises(experiments.ExperimentError, match="another design"):
        _start(exp, "smoke", b, [0], list(exp.arms), path)


def test_a_stored_trained_model_of_another_recipe_is_refused(tmp_path):
    experiments.trained("resnet20", "smoke", results=tmp_path, progress=False)
    meta_path = tmp_path / "trained" / "resnet20" / "smoke.json"
    meta = json.loads(meta_path.read_text())
    meta["design"]["note"] = "reworded"  # prose only: still the same recipe
    meta_path.write_text(json.dumps(meta))
    experiments.trained("resnet20", "smoke", results=tmp_path, progress=False)
    meta["design"]["epochs"] += 1
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(experiments.ExperimentError, match="trained with another recipe"):
        experiments.trained("resnet20", "smoke", results=tmp_path, progress=False)


def test_epochs_to_is_the_first_evaluation_at_or_below_the_target():
    history = [{"epoch": e, "train_error": err} for e, err in [(0, 0.9), (2, 0.3), (4, 0.25)]]
    assert runner.epochs_to(history, 0.25) == 4
    assert runner.epochs_to(history, 0.5) == 2
    assert runner.epochs_to(history, 0.1) is None


def test_budget_settings_added_later_keep_stored_designs_and_check_their_values():
    b = experiments.Budget(train_per_class=1, test_per_class=1, epochs=1)
    assert "schedule" not in b.to_dict() and "init" not in b.to_dict()  # as stored before
    lsuv = dataclasses.replace(b, init="lsuv", schedule="constant").to_dict()
    assert lsuv["init"] == "lsuv" and lsuv["schedule"] == "constant"
    with pytest.raises(ValueError, match="init must be one of default, lsuv, glorot, vgg_paper"):
        dataclasses.replace(b, init="xavier")
    stored = json.loads((REPO / "results" / "degradation" / "cpu.json").read_text())
    design = json.loads(json.dumps(experiments.get("degradation").budget("cpu").to_dict()))
    del design["seeds"]
    assert settings(stored["design"]["budget"]) == settings(design)


def test_relu_tanh_uses_each_activations_fastest_rate_of_the_stored_sweep():
    """The paper picked each activation's learning rate to train fastest; relu_tanh's arms hold
    the rates its sweep found (fewest mean epochs to 25%, a run that never gets there counting
    as the budget; ties broken by the lower mean final training error)."""
    sweep = json.loads((REPO / "results" / "relu_tanh_lr" / "cpu.json").read_text())
    budget = sweep["design"]["budget"]["epochs"]
    best: dict[str, tuple[float, float, float]] = {}
    for arm in experiments.get("relu_tanh_lr").arms:
        runs = [r["final"] for r in sweep["runs"] if r["arm"] == arm.name]
        assert len(runs) == 2
        epochs = sum(r["epochs_to_target"] or budget for r in runs) / len(runs)
        error = sum(r["train_error"] for r in runs) / len(runs)
        act = arm.model_kwargs["activation"]
        best[act] = min(best.get(act, (math.inf, math.inf, 0.0)), (epochs, error, arm.lr))
    for arm in experiments.get("relu_tanh").arms:
        assert arm.lr == best[arm.model_kwargs["activation"]][2], arm.name


def test_an_arm_can_bring_its_own_augmentation(tmp_path):
    b = experiments.get("augmentation").budget("smoke")
    arms = {a.name: a for a in experiments.get("augmentation").arms}
    assert [arms[n].augmentation(b) for n in arms] == ["none", "crop_flip", "crop_flip_pca"]
    assert experiments.Arm("x", "resnet20").augmentation(b) == "crop_flip"  # the budget's
    with pytest.raises(ValueError, match="augment must be one of none, crop_flip, crop_flip_pca"):
        experiments.Arm("x", "resnet20", augment="mixup")
    train_set, _ = runner.load_data(b, None, progress=False)
    loaders = {n: runner.prepare(a, 0, b, train_set)[2] for n, a in arms.items()}
    assert not loaders["none"].augment and loaders["crop_flip"].augment
    pca = loaders["crop_flip_pca"]
    assert isinstance(pca, data.augment.PCAColorLoader) and pca.loader.augment
    # arms without their own augmentation are stored as before the setting existed
    assert "augment" not in runner._arm_dict(experiments.Arm("x", "resnet20"))
    stored = json.loads((REPO / "results" / "degradation" / "cpu.json").read_text())
    assert stored["design"]["arms"] == [
        runner._arm_dict(a) for a in experiments.get("degradation").arms
    ]


def test_an_arm_can_bring_its_own_init_aux_weight_and_lr_scale():
    with pytest.raises(ValueError, match="init must be one of default, lsuv, glorot, vgg_paper "
                       "or 'from:RECIPE'"):  # fmt: skip
        experiments.Arm("x", "vgg11_cifar", init="he")
    with pytest.raises(ValueError, match="lr_scale must be None or 'aux'"):
        experiments.Arm("x", "googlenet_cifar", lr_scale="double")
    plain = runner._arm_dict(experiments.Arm("x", "resnet20"))
    assert set(plain) == {"name", "model", "model_kwargs", "lr"}  # as stored before they existed
    arm = experiments.Arm("x", "googlenet_cifar", aux_weight=0.3, init="glorot")
    assert runner._arm_dict(arm) | {} == plain | {"name": "x", "model": "googlenet_cifar",
                                                  "aux_weight": 0.3, "init": "glorot"}  # fmt: skip


def test_aux_lr_scale_raises_the_blocks_below_the_heads_by_their_gradient_at_init():
    """aux_heads' control arm: each block the heads reach (the stem up to inception4d, where the
    second head sits) gets lr x (its gradient norm with the heads' losses / without), measured
    on the same trunk from the same seed; the blocks above the heads keep the lr."""
    exp = experiments.get("aux_heads")
    b = exp.budget("smoke")
    train_set, _ = runner.load_data(b, None, progress=False)
    arms = {a.name: a for a in exp.arms}
    _, config, _ = runner.prepare(arms["no_heads_lr"], 0, b, train_set)
    scales = dict(config.lr_scale)
    assert list(scales) == ["conv1", "conv2", "conv3", "inception3a", "inception3b",
                            "inception4a", "inception4b", "inception4c", "inception4d"]  # fmt: skip
    assert all(math.isfinite(v) and v > 0 for v in scales.values())
    _, again, _ = runner.prepare(arms["no_heads_lr"], 0, b, train_set)
    assert again.lr_scale == config.lr_scale  # measured, but deterministic
    heads, plain = (runner.prepare(arms[n], 0, b, train_set)[1] for n in ("heads", "no_heads"))
    assert (heads.aux_weight, heads.lr_scale) == (0.3, ())
    assert (plain.aux_weight, plain.lr_scale) == (None, ())


def test_vgg_init_starts_d_from_the_trained_net_a(tmp_path):
    """VGG's way: the from_A arm's first conv and FC layers are those of the stored net A (trained
    first, at the same budget, if missing); its other layers keep the paper's random init."""
    exp = experiments.get("vgg_init")
    b = exp.budget("smoke")
    train_set, _ = runner.load_data(b, None, progress=False)
    arms = {a.name: a for a in exp.arms}
    d, _, _ = runner.prepare(arms["D_from_A"], 0, b, train_set, budget="smoke", results=tmp_path)
    assert (tmp_path / "trained" / "vgg_a" / "smoke.pt").is_file()
    a = experiments.trained("vgg_a", "smoke", results=tmp_path, progress=False)
    for layer_d, layer_a in (("features.0", "features.0"), ("classifier.6", "classifier.6")):
        assert torch.equal(d.get_submodule(layer_d).weight, a.get_submodule(layer_a).weight)
    paper, _, _ = runner.prepare(arms["D_paper_init"], 0, b, train_set)
    assert torch.equal(
        d.features[2].weight, paper.features[2].weight
    )  # conv1_2: random, as A has none
    glorot, _, _ = runner.prepare(arms["D_glorot"], 0, b, train_set)
    assert not torch.equal(glorot.features[2].weight, paper.features[2].weight)
    # every arm on the paper's pixel scale but the one that asks what it does
    unit, _, _ = runner.prepare(arms["A_unit_input"], 0, b, train_set)
    assert unit.input_scale == 1.0
    assert paper.input_scale == glorot.input_scale == d.input_scale == PAPER_INPUT_STD
