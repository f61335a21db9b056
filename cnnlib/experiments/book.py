"""The book's experiments, registered on import of :mod:`cnnlib.experiments`.

Each states its question and the paper's reported effect before it runs; its arms differ in one
thing; its budgets are sized so the effect can appear: a proper initialisation, a schedule that
freezes no arm, fewer images with more steps. The budget a chapter reports is stored in
``results/NAME/BUDGET.json`` (book/running.md, "The book's experiments").
"""

from __future__ import annotations

from cnnlib.experiments.lesion import AnalysisBudget
from cnnlib.experiments.registry import Arm, Budget, Experiment, register

__all__ = [
    "AUGMENTATION",
    "DEGRADATION",
    "DROPOUT",
    "LESION",
    "PREACT",
    "RELU_TANH",
    "RELU_TANH_LR",
]

# The small-data design of the degradation and preact experiments: 1,000 training images without
# augmentation and half-width nets, so that how fast each net fits its training data shows.
_FIT_1000 = dict(
    train_per_class=100,
    test_per_class=50,
    batch_size=64,
    augment=False,
    model_kwargs={"widths": (8, 16, 32)},
)
# The gpu budget of both: full CIFAR-10 with augmentation, paper widths, mixed precision.
_FULL_GPU = dict(
    train_per_class=None,
    test_per_class=None,
    epochs=30,
    batch_size=128,
    eval_every=2,
    train_eval_per_class=500,
    device="cuda",
    amp=True,
    seeds=(0, 1, 2),
)

_SMOKE = dict(
    train_per_class=4,
    test_per_class=2,
    epochs=2,
    batch_size=20,
    train_eval_per_class=4,
    warmup_epochs=0.5,
    seeds=(0, 1),
    allow_synthetic=True,
    note="seconds, for the tests; its numbers mean nothing",
)

#: The ResNet paper's figure 6 on CIFAR-10: deeper plain nets train worse, deeper ResNets better.
DEGRADATION = register(
    Experiment(
        name="degradation",
        question="Does a deeper plain net reach a higher training error than a shallower one, "
        "while the same nets with identity shortcuts do not?",
        paper={
            "source": "he2016deep, figure 6 and section 4.2",
            "claim": "On CIFAR-10 the 56-layer plain net has higher training error than the "
            "20-layer one throughout training; with shortcuts the deeper net is better.",
            "test_error": {
                "plain20": None,
                "plain56": None,
                "resnet20": 0.0875,
                "resnet56": 0.0697,
            },
            "setting": "full CIFAR-10 with crop+flip, batch 128, lr 0.1 divided by 10 at 32k "
            "and 48k iterations, 64k iterations (182 epochs), weight decay 1e-4",
        },
        arms=(
            Arm("plain20", "plain20"),
            Arm("plain56", "plain56"),
            Arm("resnet20", "resnet20"),
            Arm("resnet56", "resnet56"),
        ),
        budgets={
            "smoke": Budget(**_SMOKE, model_kwargs={"widths": (4, 8, 16)}),
            # Fewer images, more steps: 1,000 training images without augmentation,
            # so that a net that optimises well can fit them within the budget; every width is
            # halved (8-16-32 channels) to fit 2 CPU cores.
            "cpu": Budget(
                **_FIT_1000,
                epochs=21,
                eval_every=3,
                seeds=(0, 1),
                note="1,000 images, 21 epochs (336 steps), half-width nets; about 10 minutes on "
                "2 CPU cores",
            ),
            "long": Budget(
                **_FIT_1000,
                epochs=40,
                eval_every=4,
                seeds=(0, 1, 2),
                note="1,000 images, 40 epochs (640 steps), half-width nets; about 30 minutes on "
                "2 CPU cores",
            ),
            "gpu": Budget(**_FULL_GPU, note="about 10 minutes on one GPU"),
        },
        chapter="06_resnet",
    )
)


#: Veit et al.'s lesion study on a trained CIFAR ResNet: the ensemble view of residual networks.
LESION = register(
    Experiment(
        name="lesion",
        question="Does a trained residual network degrade smoothly when blocks are deleted or "
        "reordered, as an ensemble of paths would, and which path lengths carry its gradient?",
        paper={
            "source": "veit2016residual, figures 3, 5 and 6",
            "claim": "Deleting single blocks of a trained ResNet-110 barely changes its CIFAR-10 "
            "error (except some downsampling blocks); error grows smoothly with the number of "
            "blocks deleted or reordered; the gradient comes mostly from paths of 5 to 17 of "
            "its 54 blocks.",
            "setting": "ResNet-110 (54 blocks) trained on CIFAR-10, about 6.6% test error",
        },
        arms=(Arm("resnet20", "resnet20"),),
        budgets={
            "smoke": AnalysisBudget(
                "smoke",
                2,
                samples=2,
                gradient_batch=10,
                seeds=(0, 1),
                allow_synthetic=True,
                note="seconds, for the tests",
            ),
            "cpu": AnalysisBudget(
                "cpu",
                100,
                samples=4,
                gradient_batch=32,
                seeds=(0, 1),
                note="the cpu-trained resnet20 (5,000 images, 15 epochs); minutes on 2 CPU cores",
            ),
            "long": AnalysisBudget(
                "long",
                200,
                samples=8,
                seeds=(0, 1, 2),
                note="the long-trained resnet20 (full CIFAR-10, 30 epochs), "
                "2,000 test images; about 10 minutes on 2 CPU cores",
            ),
            "gpu": AnalysisBudget(
                "gpu",
                None,
                samples=20,
                gradient_batch=256,
                seeds=(0, 1, 2),
                note="the gpu-trained resnet20 (30 epochs), the full test set",
            ),
        },
        chapter="07_residual_gradient",
        analysis="cnnlib.experiments.lesion:run_lesion",
    )
)


#: Identity Mappings (He et al. 2016b): the same 110-layer CIFAR ResNet with post-activation
#: blocks (the 2016a paper's) and with pre-activation blocks, option A shortcuts in both.
PREACT = register(
    Experiment(
        name="preact",
        question="At 110 layers, does moving batch norm and ReLU in front of the convolutions "
        "(a clean identity path) train faster or generalise better?",
        paper={
            "source": "he2016identity, table 3 and figure 6",
            "claim": "On CIFAR-10 pre-activation lowers the test error of ResNet-110 from 6.61% "
            "to 6.37% and of ResNet-164 from 5.93% to 5.46%; at 1001 layers (7.61% vs 4.92%) "
            "it also trains much faster from the start.",
            "test_error": {"post110": 0.0661, "pre110": 0.0637},
            "setting": "full CIFAR-10 with crop+flip, batch 128, lr 0.1 (0.01 warm-up for "
            "ResNet-110), divided by 10 at 32k and 48k iterations, 64k iterations",
        },
        arms=(
            Arm("post110", "resnet110"),
            Arm("pre110", "preact_resnet110", {"option": "A"}),
        ),
        budgets={
            "smoke": Budget(**_SMOKE, model_kwargs={"widths": (4, 8, 16)}),
            "cpu": Budget(
                **_FIT_1000,
                epochs=15,
                eval_every=3,
                seeds=(0, 1),
                note="1,000 images, 15 epochs, half-width 110-layer nets; about 10 minutes "
                "on 2 CPU cores",
            ),
            "long": Budget(
                **_FIT_1000,
                epochs=30,
                eval_every=3,
                seeds=(0, 1, 2),
                note="1,000 images, 30 epochs, half-width 110-layer nets; about 30 minutes "
                "on 2 CPU cores",
            ),
            "gpu": Budget(
                **_FULL_GPU, note="full CIFAR-10, 30 epochs; about 15 minutes on one GPU"
            ),
        },
        chapter="07_residual_gradient",
    )
)


# AlexNet's figure 1: what the paper says it did. No regularisation of any kind (no weight decay,
# no augmentation, no dropout), a learning rate per activation chosen to train fastest, SGD with
# momentum 0.9, batch 128, a constant rate. The init is the same for both activations: each layer
# scaled to unit output variance on real images (lsuv), so neither starts with a shrunken or
# inflated signal; PyTorch's default shrinks the signal layer by layer (chapter 2 shows how much).
_FIGURE_1 = dict(
    batch_size=128,
    augment=False,
    weight_decay=0.0,
    warmup_epochs=0.0,
    schedule="constant",
    init="lsuv",
)
_FIGURE_1_CPU = dict(_FIGURE_1, train_per_class=500, test_per_class=100)
_FIGURE_1_LONG = dict(_FIGURE_1, train_per_class=1000, test_per_class=100)
_FIGURE_1_GPU = dict(
    _FIGURE_1, train_per_class=None, test_per_class=None, train_eval_per_class=500, device="cuda"
)
_FIGURE_1_PAPER = {
    "source": "krizhevsky2012imagenet, section 3.1 and figure 1",
    "claim": "A four-layer convolutional network with ReLUs reaches 25% training error on "
    "CIFAR-10 six times faster than the same network with tanh units, each at the learning "
    "rate that trains it fastest, without regularisation.",
    "epochs_to_25_percent": {"relu": 6, "tanh": 36},  # read off figure 1, about
    "setting": "full CIFAR-10 (50,000 images), cuda-convnet, no regularisation",
}
_SWEEP_LRS = (0.003, 0.01, 0.03)

#: The learning-rate sweep behind ``relu_tanh``: each activation at three rates.
RELU_TANH_LR = register(
    Experiment(
        name="relu_tanh_lr",
        question="Which learning rate brings each activation to 25% training error first, in "
        "the sweep that picks relu_tanh's rates as the paper picked its own?",
        paper=_FIGURE_1_PAPER,
        arms=tuple(
            Arm(f"{act}-{lr:g}", "convnet4_cifar", {"activation": act}, lr=lr)
            for act in ("relu", "tanh")
            for lr in _SWEEP_LRS
        ),
        budgets={
            "smoke": Budget(**_SMOKE, init="lsuv", schedule="constant"),
            "cpu": Budget(
                **_FIGURE_1_CPU,
                epochs=15,
                seeds=(0, 1),
                note="5,000 images, 15 epochs, 2 seeds; about 15 minutes on 2 CPU cores",
            ),
            "long": Budget(
                **_FIGURE_1_LONG,
                epochs=20,
                seeds=(0, 1),
                note="10,000 images, 20 epochs, 2 seeds; about 40 minutes on 2 CPU cores",
            ),
            "gpu": Budget(
                **_FIGURE_1_GPU, epochs=30, seeds=(0, 1), note="full CIFAR-10; minutes on one GPU"
            ),
        },
        chapter="02_alexnet",
        target_train_error=0.25,
    )
)

#: AlexNet's figure 1: epochs to 25% training error with ReLU and with tanh, 3 seeds.
RELU_TANH = register(
    Experiment(
        name="relu_tanh",
        question="Does the four-layer CIFAR-10 net reach 25% training error several times "
        "faster with ReLU than with tanh, each at its best learning rate?",
        paper=_FIGURE_1_PAPER,
        # each activation's fastest rate in relu_tanh_lr (cpu; fewest mean epochs to 25%, ties
        # broken by the lower final training error; a test holds them to the stored sweep)
        arms=(
            Arm("relu", "convnet4_cifar", {"activation": "relu"}, lr=0.01),
            Arm("tanh", "convnet4_cifar", {"activation": "tanh"}, lr=0.03),
        ),
        budgets={
            "smoke": Budget(**_SMOKE, init="lsuv", schedule="constant"),
            "cpu": Budget(
                **_FIGURE_1_CPU,
                epochs=20,
                note="5,000 images, 20 epochs, 3 seeds; about 10 minutes on 2 CPU cores",
            ),
            "long": Budget(
                **_FIGURE_1_LONG,
                epochs=30,
                note="10,000 images, 30 epochs, 3 seeds; about 45 minutes on 2 CPU cores",
            ),
            "gpu": Budget(**_FIGURE_1_GPU, epochs=40, note="full CIFAR-10; minutes on one GPU"),
        },
        chapter="02_alexnet",
        target_train_error=0.25,
    )
)


# Chapter 2's regularisers: alexnet_cifar without dropout and without augmentation is the
# baseline, each experiment adds one thing. 2,000 training images are few enough for the baseline
# to overfit within the budget (training error near 0), so there is a gap to close; 3,000 test
# images measure test error to about a point per run. The paper's weight decay (5e-4), cosine to
# zero, the same lsuv init as relu_tanh. 80 epochs: dropout and augmentation slow the fit (the
# paper: dropout roughly doubles the iterations), and at 40 both arms were still far from
# converged (a probe, seed 0: dropout 29% training error, crop+flip 36%).
_OVERFIT = dict(
    train_per_class=200,
    test_per_class=300,
    batch_size=64,
    lr=0.02,
    weight_decay=5e-4,
    augment=False,
    init="lsuv",
    eval_every=8,
    model_kwargs={"dropout": 0.0},
)
_OVERFIT_GPU = dict(
    _OVERFIT,
    train_per_class=1000,
    test_per_class=None,
    eval_every=5,
    device="cuda",
)


def _overfit_budgets(cpu: str, long: str) -> dict[str, Budget]:
    """The budgets of chapter 2's regularisers (the same for every one); ``cpu`` and ``long`` are
    their time on 2 CPU cores, for the notes."""
    return {
        "smoke": Budget(**_SMOKE, init="lsuv", lr=0.02),
        "cpu": Budget(
            **_OVERFIT,
            epochs=80,
            seeds=(0, 1, 2),
            note=f"2,000 images, 80 epochs, 3 seeds; {cpu} on 2 CPU cores",
        ),
        "long": Budget(
            **(_OVERFIT | {"train_per_class": 500}),
            epochs=80,
            seeds=(0, 1, 2),
            note=f"5,000 images, 80 epochs, 3 seeds; {long} on 2 CPU cores",
        ),
        "gpu": Budget(
            **_OVERFIT_GPU, epochs=60, note="10,000 images, 60 epochs; minutes on one GPU"
        ),
    }


#: AlexNet's dropout (section 4.2): the same net with and without dropout 0.5 in its FC layers.
DROPOUT = register(
    Experiment(
        name="dropout",
        question="Does dropout 0.5 before the hidden fully connected layers shrink the gap "
        "between training and test error without costing test error?",
        paper={
            "source": "krizhevsky2012imagenet, section 4.2; hinton2012improving",
            "claim": "Without dropout the network overfits substantially; dropout roughly "
            "doubles the iterations needed to converge.",
            "setting": "ImageNet, dropout 0.5 in fc6 and fc7",
        },
        # hidden 2048: the FC layers, where dropout acts, then hold 95% of the parameters, as
        # AlexNet's hold 96%; at the default 256 they hold 35%, and the convolutions memorised
        # the 2,000 images by themselves (the first design, run on 2026-12-01: no effect)
        arms=(
            Arm("no_dropout", "alexnet_cifar", {"dropout": 0.0, "hidden": 2048}),
            Arm("dropout", "alexnet_cifar", {"dropout": 0.5, "hidden": 2048}),
        ),
        budgets=_overfit_budgets(cpu="about 15 minutes", long="about 40 minutes"),
        chapter="02_alexnet",
    )
)

#: AlexNet's data augmentation (section 4.1): crops and flips, then PCA lighting noise.
AUGMENTATION = register(
    Experiment(
        name="augmentation",
        question="How much do random crops and flips, and then AlexNet's PCA lighting noise, "
        "lower the test error of a net that overfits?",
        paper={
            "source": "krizhevsky2012imagenet, section 4.1",
            "claim": "Without crops and flips the network overfits substantially; PCA lighting "
            "lowers the top-1 error by over 1%.",
            "top1_gain_pca": 0.01,
            "setting": "ImageNet, 224x224 crops of 256x256 images and their flips, lighting "
            "noise with standard deviation 0.1",
        },
        arms=(
            Arm("none", "alexnet_cifar", augment="none"),
            Arm("crop_flip", "alexnet_cifar", augment="crop_flip"),
            Arm("crop_flip_pca", "alexnet_cifar", augment="crop_flip_pca"),
        ),
        budgets=_overfit_budgets(cpu="about 12 minutes", long="about 30 minutes"),
        chapter="02_alexnet",
    )
)
