"""Forward+backward time of each torchvision-compatible cnnlib model against torchvision's own.

Both models get the same weights and the same input; their runs are interleaved (torchvision,
cnnlib, torchvision, cnnlib, ...) so that machine noise hits both alike, and the median of each
is compared. They should run the same operations, so the ratio should be about 1.0 (target
<= 1.02). Usage::

    python benchmarks/models.py                       # every model, CPU, batch 4 at 224x224
    python benchmarks/models.py --models resnet50 vgg16 --device cuda --batch-size 64
"""

from __future__ import annotations

import argparse
import platform
import statistics

import torch
import torchvision
from torch.utils.benchmark import Timer
from tqdm.auto import tqdm

import cnnlib
import cnnlib.models as M

NAMES = [
    "alexnet", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19",
    "vgg19_bn", "googlenet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
]  # fmt: skip


def step_timer(model: torch.nn.Module, x: torch.Tensor) -> Timer:
    """A timer for one forward+backward pass (gradients reset each time)."""
    return Timer(
        stmt="model.zero_grad(set_to_none=True); model(x).sum().backward()",
        globals={"model": model, "x": x},
        num_threads=torch.get_num_threads(),
    )


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def compare(name: str, args: argparse.Namespace, device: torch.device) -> dict:
    kwargs = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
    torch.manual_seed(0)
    reference = torchvision.models.get_model(name, weights=None, **kwargs).to(device)
    ours = M.create(name, **kwargs).to(device)
    ours.load_state_dict(reference.state_dict())
    for model in (reference, ours):
        model.train()
    x = torch.randn(args.batch_size, 3, args.size, args.size, device=device)
    timers = {"torchvision": step_timer(reference, x), "cnnlib": step_timer(ours, x)}
    for timer in timers.values():  # warm-up (allocator, cuDNN autotuning)
        timer.timeit(args.warmup)
    times: dict[str, list[float]] = {"torchvision": [], "cnnlib": []}
    for _ in range(args.rounds):
        for key, timer in timers.items():
            sync(device)
            times[key].append(timer.timeit(args.number).median)
    tv, cn = statistics.median(times["torchvision"]), statistics.median(times["cnnlib"])
    return {"model": name, "torchvision_ms": 1e3 * tv, "cnnlib_ms": 1e3 * cn, "ratio": cn / tv}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=NAMES, choices=NAMES, metavar="NAME")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds per model")
    parser.add_argument("--number", type=int, default=1, help="steps per timed run")
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    device = torch.device(args.device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    print(
        f"# forward+backward, batch {args.batch_size} x 3 x {args.size} x {args.size}, "
        f"{args.device} ({where or platform.machine()}, {torch.get_num_threads()} threads), "
        f"torch {torch.__version__}, torchvision {torchvision.__version__}, "
        f"cnnlib {cnnlib.__version__}, median of {args.rounds} interleaved rounds\n"
    )
    rows = [compare(name, args, device) for name in tqdm(args.models, desc="models")]
    print("| model | torchvision (ms) | cnnlib (ms) | cnnlib / torchvision |")
    print("|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['model']} | {r['torchvision_ms']:.1f} | {r['cnnlib_ms']:.1f} | "
              f"{r['ratio']:.3f} |")  # fmt: skip
    worst = max(rows, key=lambda r: r["ratio"])
    print(f"\nworst ratio: {worst['ratio']:.3f} ({worst['model']}); target <= 1.02")


if __name__ == "__main__":
    main()
