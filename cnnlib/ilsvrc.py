"""The ILSVRC image-classification results, 2010-2017, as data with sources.

Top-5 test error of each year's classification winner (and of VGG, the 2014 runner-up), as
published by the organisers or the entry's paper; ``cite`` and ``source`` are BibTeX keys of
``book/references.bib`` (the method's paper, and the one that reports the number).

>>> from cnnlib import ilsvrc
>>> [r.year for r in ilsvrc.WINNERS][:3]
[2010, 2011, 2012]
>>> ilsvrc.by_year(2015).top5_error
3.57
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = [
    "HUMAN_TOP5_ERROR",
    "HUMAN_SOURCE",
    "ILSVRC_CLASSIFICATION_DATA",
    "Result",
    "RESULTS",
    "WINNERS",
    "by_year",
    "citation_keys",
    "depth_label",
    "source_name",
    "to_frame",
]


@dataclass(frozen=True)
class Result:
    """One ILSVRC classification entry.

    ``depth`` is the number of weight layers of the entry's main network where the paper gives
    one; ``None`` for the 2010/2011 entries (hand-crafted features and linear SVMs, not deep
    networks: ``shallow`` is True) and for the 2016/2017 ensembles of several different networks.
    """

    year: int
    team: str
    model: str
    top5_error: float  # percent, ILSVRC test set
    depth: int | None
    cite: str  # BibTeX key of the paper describing the method
    source: str  # BibTeX key of the publication reporting the number
    reference: str  # the same, readable: "Krizhevsky et al. 2012"
    place: int = 1  # 1 = winner of the classification task
    shallow: bool = False
    note: str = ""
    short: str = ""  # the name charts use ("AlexNet"); the team name when empty

    @property
    def label(self) -> str:
        return self.short or self.team


RESULTS: tuple[Result, ...] = (
    Result(
        2010, "NEC-UIUC", "SIFT/LBP features, coding, linear SVM", 28.2, None,
        cite="lin2011large", source="russakovsky2015imagenet", reference="Lin et al. 2011",
        shallow=True,
        note="Hand-crafted features pooled into super-vectors, linear SVMs.",
    ),
    Result(
        2011, "XRCE", "compressed Fisher vectors, linear SVM", 25.8, None,
        cite="sanchez2011high", source="russakovsky2015imagenet",
        reference="Sánchez & Perronnin 2011", shallow=True,
        note="Fisher-vector image signatures, linear SVMs.",
    ),
    Result(
        2012, "SuperVision", "AlexNet", 16.4, 8,
        cite="krizhevsky2012imagenet", source="krizhevsky2012imagenet",
        reference="Krizhevsky et al. 2012",
        note="15.3% with extra training data from the ImageNet Fall 2011 release.",
        short="AlexNet",
    ),
    Result(
        2013, "Clarifai", "ZFNet family", 11.7, 8,
        cite="zeiler2014visualizing", source="russakovsky2015imagenet",
        reference="Zeiler & Fergus 2014",
        note="Clarifai, Zeiler's company: an ensemble of ZFNet-like networks (the paper's own "
        "best, 14.8%, came after the challenge's deadline in its test-set form).",
        short="ZFNet",
    ),
    Result(
        2014, "GoogLeNet", "GoogLeNet (Inception v1)", 6.7, 22,
        cite="szegedy2015going", source="szegedy2015going", reference="Szegedy et al. 2015",
        note="6.67%, an ensemble of 7 networks with 144 crops per image.",
        short="GoogLeNet",
    ),
    Result(
        2014, "VGG", "VGG", 7.3, 19,
        cite="simonyan2015very", source="simonyan2015very", reference="Simonyan & Zisserman 2015",
        place=2,
        note="Runner-up: 7.32% in the challenge, 6.8% after it (ensemble of two networks).",
    ),
    Result(
        2015, "MSRA", "ResNet", 3.57, 152,
        cite="he2016deep", source="he2016deep", reference="He et al. 2016",
        note="Ensemble of six residual networks, two of them 152 layers deep.",
        short="ResNet",
    ),
    Result(
        2016, "Trimps-Soushen", "ensemble (Inception, ResNet, Wide ResNet)", 2.99, None,
        cite="ilsvrc2016results", source="ilsvrc2016results", reference="ILSVRC 2016 results",
        note="Ensemble of existing architectures; no new network.",
    ),
    Result(
        2017, "WMW", "SENet", 2.25, None,
        cite="hu2018squeeze", source="hu2018squeeze", reference="Hu et al. 2018",
        note="2.251%, an ensemble of squeeze-and-excitation networks.",
        short="SENet",
    ),
)  # fmt: skip

#: The winners only (``place == 1``), one per year, sorted by year.
WINNERS: tuple[Result, ...] = tuple(r for r in RESULTS if r.place == 1)

#: Top-5 error of a trained human annotator (annotator A1 of Russakovsky et al., 2015), percent.
HUMAN_TOP5_ERROR = 5.1
HUMAN_SOURCE = "russakovsky2015imagenet"

#: Readable names of the publications that report numbers for entries other than their own paper.
SOURCE_NAMES = {
    "russakovsky2015imagenet": "Russakovsky et al. 2015",
    "ilsvrc2016results": "ILSVRC 2016 results",
}


def source_name(r: Result) -> str:
    """Where ``r``'s number is published, readable ("Russakovsky et al. 2015" for the organisers'
    paper; the entry's own reference when its paper reports it)."""
    return r.reference if r.source == r.cite else SOURCE_NAMES[r.source]


#: The ILSVRC classification data (2012-2017; the same split every year).
ILSVRC_CLASSIFICATION_DATA = {
    "classes": 1000,
    "train_images": 1_281_167,
    "val_images": 50_000,
    "test_images": 100_000,
    "source": "russakovsky2015imagenet",
}


def by_year(year: int, place: int = 1) -> Result:
    """The entry of ``year`` (the winner by default; ``place=2`` for the 2014 runner-up)."""
    for r in RESULTS:
        if r.year == year and r.place == place:
            return r
    years = sorted({r.year for r in RESULTS})
    raise KeyError(f"no ILSVRC entry for year={year}, place={place}; years: {years}")


def depth_label(r: Result) -> str:
    """The depth annotation the winners chart uses: ``"shallow"``, ``"152 layers"``, ...."""
    if r.depth is not None:
        return f"{r.depth} layers"
    return "shallow" if r.shallow else "ensemble"


def citation_keys() -> set[str]:
    """Every BibTeX key this module refers to."""
    return {r.cite for r in RESULTS} | {r.source for r in RESULTS} | {HUMAN_SOURCE}


def to_frame(results=RESULTS):
    """The results as a pandas ``DataFrame`` (pandas is imported here, only when needed)."""
    import pandas as pd

    rows = []
    for r in results:
        d = asdict(r)
        rows.append(
            {
                "year": d["year"],
                "place": d["place"],
                "team": d["team"],
                "model": d["model"],
                "top-5 error (%)": d["top5_error"],
                "depth": depth_label(r),
                "paper": d["reference"],
                "number from": source_name(r),
            }
        )
    return pd.DataFrame(rows).set_index("year")
