"""One accumulator of loss and accuracy, for training and evaluation alike (as d2l's
``Accumulator``); under ``torch.distributed`` its result is over every process's images."""

from __future__ import annotations

import torch
from torch import Tensor

from cnnlib.distributed import all_reduce_sum

__all__ = ["Accumulator"]


class Accumulator:
    """Sums of the loss, the correct top-1 predictions and the images seen, kept on ``device``
    in float64 (no host sync per batch)."""

    def __init__(self, device: torch.device) -> None:
        self.sums = torch.zeros(3, dtype=torch.float64, device=device)

    def add(self, loss_sum: Tensor, logits: Tensor, labels: Tensor) -> None:
        """Add a batch: ``loss_sum`` is the loss summed (not averaged) over its images."""
        correct = (logits.argmax(1) == labels).sum()
        self.sums += torch.stack(
            [loss_sum.detach().double(), correct.double(), self.sums.new_tensor(len(labels))]
        )

    def result(self) -> dict[str, float]:
        """``{"loss", "acc", "n"}`` over every process (all-reduced); ValueError if empty."""
        sums = all_reduce_sum(self.sums.clone())
        loss_sum, correct, n = sums.tolist()
        if n == 0:
            raise ValueError("no images were seen (an empty loader)")
        return {"loss": loss_sum / n, "acc": correct / n, "n": int(n)}
