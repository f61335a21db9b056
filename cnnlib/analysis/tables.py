"""Per-layer tables: one row per layer with its output shape, parameters, MACs and receptive
field, from one forward pass, rendered as Markdown, HTML, text or a pandas DataFrame."""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from torch import nn

from cnnlib.analysis.costs import count_params
from cnnlib.analysis.receptive_field import ReceptiveFieldMode
from cnnlib.analysis.tracing import (
    IMAGENET_INPUT,
    check_module_name,
    flops_to_macs,
    in_call_order,
    trace,
)

__all__ = ["LayerRow", "LayerTable", "layer_table"]


@dataclass(frozen=True)
class LayerRow:
    """One row of a :class:`LayerTable`.

    Attributes:
        name: the module's name in ``model.named_modules()``.
        type: the module's class name.
        output_shape: the output shape without the batch (of the last call), ``None`` if the
            module did not run.
        params: the parameters of the module (see :func:`layer_table`).
        macs: multiply-accumulates per image, over all calls, children included.
        rf_size: receptive-field size in input pixels, ``None`` where the output is not spatial.
        rf_stride: receptive-field stride (jump) in input pixels, ``None`` likewise.
        calls: how many times the module ran in the forward pass.
    """

    name: str
    type: str
    output_shape: tuple[int, ...] | None
    params: int
    macs: int
    rf_size: int | None
    rf_stride: int | None
    calls: int = 1


_COLUMNS = ("Layer", "Type", "Output shape", "Params", "MACs", "RF size", "RF stride")


def _format_shape(shape: tuple[int, ...] | None) -> str:
    return "—" if shape is None else " × ".join(str(s) for s in shape)


def _format_int(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


@dataclass
class LayerTable:
    """A per-layer table of a model, as returned by :func:`layer_table`.

    ``rows`` holds :class:`LayerRow` objects in the order of the forward pass; ``total_params``
    and ``total_macs`` are the whole model's (:func:`count_params`, :func:`count_macs`). In a
    notebook the table displays itself; :meth:`to_markdown`, :meth:`to_html` and
    :meth:`to_pandas` export it. ``table["features.30"]`` looks a row up by name.
    """

    rows: list[LayerRow]
    input_size: tuple[int, ...]
    output_shape: tuple[int, ...] | None
    total_params: int
    total_macs: int

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[LayerRow]:
        return iter(self.rows)

    def __getitem__(self, key: int | str) -> LayerRow:
        if isinstance(key, int):
            return self.rows[key]
        for row in self.rows:
            if row.name == key:
                return row
        raise KeyError(key)

    def to_dicts(self) -> list[dict[str, Any]]:
        """The rows as dictionaries (keys: the fields of :class:`LayerRow`)."""
        return [asdict(row) for row in self.rows]

    def to_pandas(self):  # -> pandas.DataFrame
        """The rows as a :class:`pandas.DataFrame` (needs pandas, which cnnlib does not)."""
        try:
            import pandas as pd
        except ImportError as error:
            raise ImportError(
                "LayerTable.to_pandas() needs pandas: pip install pandas "
                "(or use .to_dicts() / .to_markdown())"
            ) from error
        return pd.DataFrame(self.to_dicts())

    def _cells(self) -> tuple[list[list[str]], list[str]]:
        body = [
            [
                row.name or "(model)",
                row.type,
                _format_shape(row.output_shape),
                _format_int(row.params),
                _format_int(row.macs),
                _format_int(row.rf_size),
                _format_int(row.rf_stride),
            ]
            for row in self.rows
        ]
        total = [
            "Total",
            "",
            _format_shape(self.output_shape),
            _format_int(self.total_params),
            _format_int(self.total_macs),
            "",
            "",
        ]
        return body, total

    def to_markdown(self) -> str:
        """A Markdown (GitHub / MyST) table, numbers right-aligned, with a bold total row."""
        body, total = self._cells()
        lines = [
            "| " + " | ".join(_COLUMNS) + " |",
            "|" + "|".join([":---"] * 3 + ["---:"] * 4) + "|",
        ]
        for cells in body:
            lines.append("| " + " | ".join(_escape_markdown(c) for c in cells) + " |")
        lines.append("| " + " | ".join(f"**{c}**" if c else "" for c in total) + " |")
        return "\n".join(lines)

    def to_html(self) -> str:
        """An HTML table, numbers right-aligned, with a bold total row."""
        body, total = self._cells()

        def row_html(cells: list[str], tag: str = "td") -> str:
            return (
                "<tr>"
                + "".join(
                    f'<{tag} style="text-align:{"left" if i < 3 else "right"}">'
                    f"{html.escape(c)}</{tag}>"
                    for i, c in enumerate(cells)
                )
                + "</tr>"
            )

        return (
            "<table>\n<thead>"
            + row_html(list(_COLUMNS), "th")
            + "</thead>\n<tbody>\n"
            + "\n".join(row_html(cells) for cells in body)
            + "\n</tbody>\n<tfoot>"
            + row_html([f"{c}" for c in total], "th")
            + "</tfoot>\n</table>"
        )

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        return self.to_html()

    def __str__(self) -> str:
        body, total = self._cells()
        table = [list(_COLUMNS), *body, total]
        widths = [max(len(cells[i]) for cells in table) for i in range(len(_COLUMNS))]

        def line(cells: list[str]) -> str:
            return "  ".join(
                c.ljust(w) if i < 3 else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()

        rule = "-" * len(line(["-" * w for w in widths]))
        return "\n".join([line(table[0]), rule, *map(line, body), rule, line(total)])


def _escape_markdown(text: str) -> str:
    return text.replace("|", "\\|")


def _select_layers(model: nn.Module, depth: int | None) -> list[str]:
    """The leaves (``depth=None``) or the modules cut at ``depth`` (with shallower leaves)."""
    if depth is not None and depth < 1:
        raise ValueError(f"depth must be None (leaves) or at least 1, got {depth}")
    selected = []
    for name, module in model.named_modules():
        is_leaf = next(module.children(), None) is None
        level = name.count(".") + 1 if name else 0
        if depth is None and is_leaf:
            selected.append(name)
        elif depth is not None and (level == depth or (is_leaf and level < depth)):
            selected.append(name)
    return selected


def _params(model: nn.Module, selected: list[str], partition: bool) -> dict[str, int]:
    """Parameters of each selected module; with ``partition``, each parameter counted once."""
    modules = dict(model.named_modules())
    seen: set[int] = set()
    params: dict[str, int] = {}
    for name in selected:
        module_params = list(modules[name].parameters())
        if partition:
            module_params = [p for p in module_params if id(p) not in seen]
            seen.update(id(p) for p in module_params)
        params[name] = sum(p.numel() for p in module_params)
    return params


def layer_table(
    model: nn.Module,
    input_size: Sequence[int] = IMAGENET_INPUT,
    depth: int | None = None,
    layers: Iterable[str] | None = None,
) -> LayerTable:
    """One row per layer: type, output shape, parameters, MACs and receptive field.

    Rows are the leaf modules (``depth=None``), the module tree cut at ``depth`` (``depth=1``:
    one row per child of the model, plus the leaves above the cut) or the modules named in
    ``layers`` (containers allowed), in the order of the forward pass (modules that did not run
    last). With ``depth`` the rows partition the model: each parameter counts in its first row
    and what no row holds (a container's own parameters and arithmetic) goes to a final row
    ``(other)``, so the columns sum to :func:`count_params` and :func:`count_macs`. With
    ``layers`` each row counts its whole module, and rows may overlap.
    """
    modules = dict(model.named_modules())
    if layers is not None:
        selected = list(layers)
        for name in selected:
            check_module_name(model, name)
    else:
        selected = _select_layers(model, depth)
    result = trace(model, input_size, ReceptiveFieldMode())
    params = _params(model, selected, partition=layers is None)
    order = {name: i for i, (name, _) in enumerate(in_call_order(result.records))}
    rows = []
    for name in sorted(selected, key=order.__getitem__):
        record = result.records[name]
        rf = record.rf
        rows.append(
            LayerRow(
                name=name,
                type=type(modules[name]).__name__,
                output_shape=record.output_shape if record.calls else None,
                params=params[name],
                macs=flops_to_macs(record.flops, result.batch_size),
                rf_size=max(rf.sizes) if rf is not None else None,
                rf_stride=max(rf.jumps) if rf is not None else None,
                calls=record.calls,
            )
        )
    total_params = count_params(model)
    total_macs = flops_to_macs(result.total_flops, result.batch_size)
    if layers is None:
        other_params = total_params - sum(row.params for row in rows)
        other_macs = total_macs - sum(row.macs for row in rows)
        if other_params or other_macs:
            rows.append(LayerRow("(other)", "", None, other_params, other_macs, None, None, 0))
    return LayerTable(
        rows=rows,
        input_size=tuple(int(s) for s in input_size),
        output_shape=result.output_shape,
        total_params=total_params,
        total_macs=total_macs,
    )
