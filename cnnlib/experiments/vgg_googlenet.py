"""Chapters 4 and 5's experiments (VGG and GoogLeNet), registered on import of
:mod:`cnnlib.experiments` like those of :mod:`~cnnlib.experiments.book`.

- ``vgg_init``: can the deep configuration start without batch norm, from the paper's random
  init, from Glorot's, and from a trained net A (the paper's way)?
- ``vgg_lrn``: configuration A with and without AlexNet's LRN, without batch norm.
- ``vgg_depth`` and ``vgg_kernels``: depth (A vs D) and kernel size (three 3x3 vs one 7x7) with
  batch norm, so that neither arm is held back by its start.
- ``aux_heads``: GoogLeNet with and without its auxiliary heads, and without them but with the
  lower blocks' learning rate raised by the factor the heads raise their gradient at init.
"""

from __future__ import annotations

from dataclasses import replace

from cnnlib.experiments import book
from cnnlib.experiments.registry import Arm, Budget, Experiment, register
from cnnlib.experiments.trained import VGG_A_BUDGETS

__all__ = ["AUX_HEADS", "VGG_DEPTH", "VGG_INIT_EXPERIMENT", "VGG_KERNELS", "VGG_LRN"]

_SMOKE = dict(book._SMOKE, warmup_epochs=0.0)  # the book's smoke budget, without warm-up


def _with_init(budgets: dict[str, Budget]) -> dict[str, Budget]:
    """vgg_init's budgets: net A's recipe's (the same data, schedule and net width; in
    cnnlib.experiments.trained), each arm bringing its own initialisation."""
    return {name: replace(b, init="default") for name, b in budgets.items()}


#: VGG section 3.1: "bad initialisation can stall learning due to the instability of gradient in
#: deep nets", so the paper trained A from N(0, 0.01^2) and started the deeper nets from it; its
#: footnote adds that Glorot's init works without that. D without batch norm from each start,
#: and A from the paper's init; at a quarter of the paper's widths (vgg_paper_init_ keeps each
#: layer's effect on the signal as in the paper's network) and on the paper's input scale
#: (PAPER_INPUT_STD), which every arm shares.
VGG_INIT_EXPERIMENT = register(
    Experiment(
        name="vgg_init",
        question="Which initialisations start VGG's deep configuration D without batch norm: "
        "the paper's N(0, 0.01^2), Glorot's, or the trained net A's layers?",
        paper={
            "source": "simonyan2015very, section 3.1 and its footnote",
            "claim": "The deep nets need a good start: the paper trained A (11 layers) from "
            "N(0, 0.01^2) and initialised the first four convolutions and the three FC layers "
            "of the deeper nets with A's; Glorot's initialisation later worked without that.",
            "setting": "ImageNet, batch 256, lr 0.01, momentum 0.9, weight decay 5e-4",
        },
        arms=(
            Arm("A_paper_init", "vgg11_cifar", init="vgg_paper"),
            # the same on cnnlib's standardised pixels (spread 1), not the paper's 0-255 scale
            Arm("A_unit_input", "vgg11_cifar", {"input_scale": 1.0}, init="vgg_paper"),
            Arm("D_paper_init", "vgg16_cifar", init="vgg_paper"),
            Arm("D_glorot", "vgg16_cifar", init="glorot"),
            Arm("D_from_A", "vgg16_cifar", init="from:vgg_a"),
        ),
        budgets=_with_init(VGG_A_BUDGETS),
        chapter="04_vgg",
    )
)

# Depth and kernel size with batch norm (the CIFAR nets' default, He init), a cosine schedule
# that takes every arm down to zero together, 5,000 images with crops and flips, 3 seeds.
_BN = dict(
    train_per_class=500,
    test_per_class=100,
    batch_size=128,
    lr=0.05,
    weight_decay=5e-4,
    eval_every=2,
    model_kwargs={"width": 0.25},
)


def _budgets(
    base: dict,
    epochs: tuple[int, int, int],
    notes: tuple[str, str, str],
    smoke_kwargs: dict,
    gpu_kwargs: dict | None = None,
) -> dict[str, Budget]:
    """An experiment's four budgets from its recipe ``base`` (the cpu budget's settings): the
    book's smoke budget with ``smoke_kwargs`` for the model, cpu, long (10,000 images) and gpu
    (all of CIFAR-10, the training error on 500 images per class, one GPU with AMP, the model
    built with ``gpu_kwargs`` where given); ``epochs`` and ``notes`` of cpu, long and gpu."""
    full = base | {"train_per_class": None, "test_per_class": None}
    if gpu_kwargs is not None:
        full["model_kwargs"] = gpu_kwargs
    return {
        "smoke": Budget(**_SMOKE, model_kwargs=smoke_kwargs),
        "cpu": Budget(**base, epochs=epochs[0], note=notes[0]),
        "long": Budget(**(base | {"train_per_class": 1000}), epochs=epochs[1], note=notes[1]),
        "gpu": Budget(
            **full,
            train_eval_per_class=500,
            epochs=epochs[2],
            device="cuda",
            amp=True,
            note=notes[2],
        ),
    }


def _bn_budgets(epochs: int, cpu: str, **model_kwargs) -> dict[str, Budget]:
    """vgg_depth's and vgg_kernels' budgets; ``model_kwargs`` for every arm (cpu and long)."""
    cpu_kwargs = _BN["model_kwargs"] | model_kwargs
    return _budgets(
        _BN | {"model_kwargs": cpu_kwargs},
        (epochs, 40, 40),
        (
            f"5,000 images, {epochs} epochs, 3 seeds; {cpu} on 2 CPU cores",
            "10,000 images, 40 epochs, 3 seeds; about three times the cpu budget",
            "full CIFAR-10, full width; one GPU",
        ),
        smoke_kwargs=cpu_kwargs | {"width": 0.125},
        gpu_kwargs=model_kwargs | {"width": 1.0},
    )


#: VGG table 3: the error falls with depth, A (11 layers) to D (16).
VGG_DEPTH = register(
    Experiment(
        name="vgg_depth",
        question="With batch norm, so that both start, does VGG's configuration D (16 layers) "
        "reach a lower test error than A (11 layers)?",
        paper={
            "source": "simonyan2015very, table 3 (single scale, S = 256)",
            "claim": "The error falls with depth: top-1 29.6% for A, 27.0% for D at S = 256.",
            "top1": {"A": 29.6, "D": 27.0},
            "setting": "ImageNet, training scale S = 256, test scale 256",
        },
        arms=(Arm("A", "vgg11_cifar"), Arm("D", "vgg16_cifar")),
        budgets=_bn_budgets(30, "about 17 minutes"),
        chapter="04_vgg",
    )
)

#: VGG section 2.3: a stack of three 3x3 convolutions sees what one 7x7 sees, with 45% fewer
#: weights and three non-linearities instead of one (the cnnlib.models.vgg stack configurations).
VGG_KERNELS = register(
    Experiment(
        name="vgg_kernels",
        question="Do stacks of three 3x3 convolutions reach a lower test error than single 7x7 "
        "convolutions of the same receptive field and more weights?",
        paper={
            "source": "simonyan2015very, sections 2.3 and 4.1",
            "claim": "Stacks of small filters are better than one large filter: net B with each "
            "pair of 3x3 layers replaced by one 5x5 had 7% higher top-1 error (centre crop).",
            "top1_increase_5x5": 7.0,
            "setting": "ImageNet, net B vs B with 5x5 layers",
        },
        arms=(
            Arm("7x7", "vgg_cifar", {"config": "7x7"}),
            Arm("3x3x3", "vgg_cifar", {"config": "3x3x3"}),
        ),
        # the stack nets' own widths (32-64-128) halved, one FC layer: only the convolutions differ
        budgets=_bn_budgets(20, "about 15 minutes", width=0.5, fc_layers=1),
        chapter="04_vgg",
    )
)

# A against A-LRN without batch norm (LRN's effect is what a normalisation layer adds to a net
# that has none), from the CIFAR nets' He init; a cosine schedule, 5,000 images with crops and
# flips, 15 epochs, 3 seeds.
_LRN = dict(
    train_per_class=500,
    test_per_class=100,
    batch_size=128,
    lr=0.05,
    weight_decay=5e-4,
    eval_every=1,
    model_kwargs={"batch_norm": False, "width": 0.25},
)

#: VGG table 3: A-LRN (A with AlexNet's LRN after its first layer) is no better than A.
VGG_LRN = register(
    Experiment(
        name="vgg_lrn",
        question="Without batch norm, does AlexNet's local response normalisation after the "
        "first layer make configuration A train faster or reach a lower error?",
        paper={
            "source": "simonyan2015very, table 3 and section 4.1",
            "claim": "LRN does not improve on A without any normalisation layer: top-1 29.7% "
            "for A-LRN, 29.6% for A at S = 256.",
            "top1": {"A": 29.6, "A-LRN": 29.7},
            "setting": "ImageNet, S = 256",
        },
        arms=(Arm("A", "vgg11_cifar"), Arm("A-LRN", "vgg11_lrn_cifar")),
        budgets=_budgets(
            _LRN,
            (15, 30, 30),
            (
                "5,000 images, 15 epochs, 3 seeds; about 12 minutes on 2 CPU cores",
                "10,000 images, 30 epochs, 3 seeds; about 50 minutes on 2 CPU cores",
                "full CIFAR-10, full width; one GPU",
            ),
            smoke_kwargs=_LRN["model_kwargs"] | {"width": 0.125},
            gpu_kwargs={"batch_norm": False, "width": 1.0},
        ),
        chapter="04_vgg",
    )
)

# GoogLeNet as the paper trained it: no batch norm, Xavier init (googlenet_cifar's default), the
# auxiliary losses weighted 0.3; a cosine schedule, 5,000 images with crops and flips, 3 seeds.
_GOOGLENET = dict(
    train_per_class=500,
    test_per_class=100,
    batch_size=128,
    lr=0.05,
    weight_decay=1e-4,  # torchvision's GoogLeNet recipe (the paper gives none)
    eval_every=1,
)

#: GoogLeNet section 5: auxiliary classifiers on inception 4a and 4d, their losses weighted 0.3,
#: "to combat the vanishing gradient problem while providing regularization".
AUX_HEADS = register(
    Experiment(
        name="aux_heads",
        question="Do GoogLeNet's auxiliary heads lower the test error, and is what they do more "
        "than a larger learning rate for the blocks below them?",
        paper={
            "source": "szegedy2015going, section 5; szegedy2016rethinking, section 4",
            "claim": "The heads were added to help the gradient reach the lower layers; the paper "
            "puts their effect at 'relatively minor (around 0.5%)' and says only one was "
            "needed; Inception-v3 found they do not speed early training and act as a "
            "regulariser.",
            "top1_gain": 0.5,
            "setting": "ImageNet, asynchronous SGD, momentum 0.9",
        },
        arms=(
            Arm("heads", "googlenet_cifar", {"aux_logits": True}, aux_weight=0.3),
            Arm("no_heads", "googlenet_cifar", {"aux_logits": False}),
            Arm("no_heads_lr", "googlenet_cifar", {"aux_logits": False}, lr_scale="aux"),
        ),
        budgets=_budgets(
            _GOOGLENET,
            (15, 40, 40),
            (
                "5,000 images, 15 epochs, 3 seeds; about 35 minutes on 2 CPU cores",
                "10,000 images, 40 epochs, 3 seeds; about an hour and a half on 2 CPU cores",
                "full CIFAR-10; one GPU",
            ),
            smoke_kwargs={"width": 0.125},
        ),
        chapter="05_googlenet",
    )
)
