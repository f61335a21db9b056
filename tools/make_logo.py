#!/usr/bin/env python
"""Draw the book's logo and favicon (book/images/logo.png, favicon.png): the falling bars of the
ILSVRC winners chart, in the book's palette. Run once; the PNGs are committed."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GREY, BLUE, ORANGE = "#999999", "#0072B2", "#E69F00"


def draw(path: Path, size: tuple[float, float], dpi: int) -> None:
    heights = [28.2, 25.8, 16.4, 11.7, 6.7, 3.57]
    colours = [GREY, GREY, ORANGE, BLUE, BLUE, BLUE]
    fig = plt.figure(figsize=size, dpi=dpi)
    ax = fig.add_axes((0.04, 0.04, 0.92, 0.92))
    ax.bar(range(len(heights)), heights, color=colours, width=0.78)
    ax.set_xlim(-0.6, len(heights) - 0.4)
    ax.set_ylim(0, 29)
    ax.axis("off")
    fig.savefig(path, transparent=True)
    plt.close(fig)


if __name__ == "__main__":
    out = ROOT / "book" / "images"
    out.mkdir(parents=True, exist_ok=True)
    draw(out / "logo.png", (2.4, 1.2), 100)
    draw(out / "favicon.png", (0.64, 0.64), 100)
    print("wrote", out / "logo.png", out / "favicon.png")
