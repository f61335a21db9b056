"""Training throughput: cnnlib's loop against a textbook PyTorch loop, interleaved in one run.

Both train the same model (``resnet20`` by default) with SGD on the same CIFAR-10 images, batch
128, fp32, and report training images per second (training only, no evaluation):

* textbook: the uint8 images as a NumPy array, turned into PIL images in ``__getitem__``,
  ``RandomCrop(32, padding=4)``, ``RandomHorizontalFlip``, ``ToTensor``, ``Normalize``,
  ``DataLoader(shuffle=True, num_workers=2)``;
* cnnlib: :func:`cnnlib.train.fit` with :class:`cnnlib.data.DeviceLoader` (the data on the device
  as uint8, augmentation batched there), in NCHW and in channels_last.

Rounds alternate the loops so that a machine shared with other work slows each alike; the
medians and their ratio are printed (and written as JSON with ``--json``)::

    python benchmarks/train.py                # real CIFAR-10 ($CNNLIB_DATA or ../shared/data)
    python benchmarks/train.py --images 2560 --rounds 3 --device cpu
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as T

from cnnlib import data as cdata
from cnnlib import models
from cnnlib.runtime import device_name, versions
from cnnlib.train import TrainConfig, fit

REPO = Path(__file__).resolve().parents[1]


class PILImages(Dataset):
    """The textbook dataset: an in-memory uint8 (N, H, W, C) array, PIL images per item."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


def textbook_epoch(model, optimizer, loader, device) -> float:
    """One epoch of the plain loop; returns training images per second."""
    model.train()
    n = 0
    start = time.perf_counter()
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        n += len(y)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n / (time.perf_counter() - start)


def load_images(args) -> cdata.ImageTensorDataset:
    root = args.data_dir or os.environ.get("CNNLIB_DATA") or REPO.parent / "shared" / "data"
    try:
        train, _ = cdata.load_cifar10(root, train_total=args.images, download=False)
    except cdata.DataNotFoundError:
        print("CIFAR-10 not found: using synthetic CIFAR-shaped images", file=sys.stderr)
        train, _ = cdata.synthetic_cifar10(args.images // 10, 1)
    return train


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="resnet20")
    p.add_argument("--images", type=int, default=2560, help="training images per epoch")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (one epoch each)")
    p.add_argument("--workers", type=int, default=2, help="textbook DataLoader workers")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--json", default=None, help="also write the results to this file")
    args = p.parse_args(argv)
    device = torch.device(args.device)

    train = load_images(args)
    images_hwc = train.images.permute(0, 2, 3, 1).contiguous().numpy()
    labels = train.labels.numpy()
    transform = T.Compose(
        [
            T.RandomCrop(32, padding=4),
            T.RandomHorizontalFlip(),
            T.ToTensor(),
            T.Normalize(train.mean, train.std),
        ]
    )
    textbook_loader = DataLoader(
        PILImages(images_hwc, labels, transform),
        batch_size=args.batch_size,
        shuffle=True,
        num_workers=args.workers,
        pin_memory=device.type == "cuda",
    )
    torch.manual_seed(0)
    textbook_model = models.create(args.model).to(device)
    textbook_opt = torch.optim.SGD(
        textbook_model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4
    )

    variants = {"textbook": []}
    cnnlib_runs = {"cnnlib": False, "cnnlib channels_last": True}
    state = {}
    for name, cl in cnnlib_runs.items():
        variants[name] = []
        torch.manual_seed(0)
        state[name] = (
            models.create(args.model),
            cdata.DeviceLoader(train, args.batch_size, device=device, channels_last=cl),
        )
    print(
        f"{args.model}, {len(train):,} images of {train.name}, batch {args.batch_size}, "
        f"{device_name(device)}, torch {versions()['torch']}"
    )
    # one warm-up epoch each (allocator, oneDNN/cuDNN kernel choice), not counted
    textbook_epoch(textbook_model, textbook_opt, textbook_loader, device)
    for r in range(args.rounds + 1):
        for name, cl in cnnlib_runs.items():
            model, loader = state[name]
            config = TrainConfig(epochs=1, lr=0.05, schedule="constant", device=str(device),
                                 channels_last=cl)  # fmt: skip
            h = fit(model, loader, config=config, quiet=True)
            if r > 0:
                variants[name].append(h[0]["images_per_s"])
        if r > 0:
            variants["textbook"].append(
                textbook_epoch(textbook_model, textbook_opt, textbook_loader, device)
            )
            print(
                f"round {r}: "
                + ", ".join(f"{k} {v[-1]:,.0f} img/s" for k, v in variants.items() if v)
            )
    medians = {k: statistics.median(v) for k, v in variants.items()}
    base = medians["textbook"]
    print("\nmedian training images per second")
    for name, value in medians.items():
        print(f"  {name:22s} {value:8,.0f}   {value / base:.2f}x textbook")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "device": device_name(device),
                    "versions": versions(),
                    "args": vars(args),
                    "rounds": variants,
                    "median": medians,
                },
                indent=1,
            )  # fmt: skip
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
