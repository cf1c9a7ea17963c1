"""Sensitive subgroups: the intersection of the sensitive columns' levels (e.g. race x gender).

Every combination of levels is a subgroup, observed or not (a combination without rows
has share 0 and is never generated). Rows are conditioned on their subgroup, so the
subgroup shares of the output are whatever the sampler asks for: the real shares, or
the targets a config gives.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd

from synth.errors import ConfigError
from synth.generators.btgan.encoding import TableTransformer


class Subgroups:
    """The subgroups of ``columns`` (discrete, with levels from ``transformer``).

    Attributes:
        combos: (G, len(columns)) int level index of each column in each subgroup.
        onehots: (G, sensitive width) float32 encoding of each subgroup's sensitive blocks,
            blocks in ``columns`` order (as :class:`~.layout.RowLayout` concatenates them).
    """

    def __init__(self, columns: list[str], transformer: TableTransformer) -> None:
        self.columns = list(columns)
        self.levels = [transformer.levels[c] for c in self.columns]
        sizes = [len(lv) for lv in self.levels]
        combos = list(itertools.product(*[range(s) for s in sizes]))  # [()] without columns: one subgroup, all rows
        self.combos = np.array(combos, dtype=np.int64).reshape(len(combos), len(sizes))
        offsets = np.cumsum([0] + sizes)[:-1]
        self.onehots = np.zeros((len(self.combos), sum(sizes)), dtype=np.float32)
        for j, off in enumerate(offsets):
            self.onehots[np.arange(len(self.combos)), off + self.combos[:, j]] = 1.0
        self._strides = np.cumprod([1] + sizes[::-1][:-1])[::-1]

    def __len__(self) -> int:
        return len(self.combos)

    def of_codes(self, codes: np.ndarray) -> np.ndarray:
        """(n,) subgroup index of rows whose column level codes are ``codes`` (n, len(columns))."""
        if not self.columns:
            return np.zeros(len(codes), dtype=np.int64)
        return (np.asarray(codes, dtype=np.int64) * self._strides).sum(axis=1)

    def of_frame(self, frame: pd.DataFrame, transformer: TableTransformer) -> np.ndarray:
        """(n,) subgroup index of every row of ``frame``."""
        if not self.columns:
            return np.zeros(len(frame), dtype=np.int64)
        return self.of_codes(np.stack([transformer.codes(frame, c) for c in self.columns], axis=1))

    def counts(self, groups: np.ndarray) -> np.ndarray:
        """(G,) rows per subgroup."""
        return np.bincount(groups, minlength=len(self)).astype(np.float64)

    def label(self, g: int) -> str:
        parts = [f"{c}={_show(self.levels[j][self.combos[g, j]])}" for j, c in enumerate(self.columns)]
        return ", ".join(parts) or "all rows"

    def matching(self, values: dict[str, Any], where: str) -> np.ndarray:
        """(G,) bool: subgroups whose levels agree with ``values`` (sensitive column -> value)."""
        keep = np.ones(len(self), dtype=bool)
        for column, value in values.items():
            j = self.columns.index(column)
            keep &= self.combos[:, j] == level_index(self.levels[j], value, column, where)
        return keep

    def target_shares(self, real: np.ndarray, targets: list[tuple[dict[str, Any], float]] | None) -> np.ndarray:
        """(G,) output shares: ``real`` shares, with the listed subgroups set to their targets.

        Unlisted subgroups share what the targets leave, in proportion to their real shares.
        """
        real = real / real.sum()
        if not targets:
            return real
        fixed = np.full(len(self), np.nan)
        for i, (values, share) in enumerate(targets, start=1):
            where = f"generator.params.subgroup_shares[{i}]"
            missing = [c for c in self.columns if c not in values]
            extra = [c for c in values if c not in self.columns]
            if missing or extra:
                raise ConfigError(
                    f"{where}: values must name each sensitive column ({', '.join(self.columns)}) exactly once"
                    + (f"; missing {', '.join(missing)}" if missing else "")
                    + (f"; not sensitive: {', '.join(map(str, extra))}" if extra else "") + "."
                )
            g = int(np.flatnonzero(self.matching(values, where))[0])
            if not np.isnan(fixed[g]):
                raise ConfigError(f"{where}: the subgroup {self.label(g)} is listed twice.")
            fixed[g] = share
        total = np.nansum(fixed)
        rest = np.isnan(fixed)
        if total > 1 + 1e-9 or (total < 1 - 1e-9 and real[rest].sum() == 0):
            raise ConfigError(
                f"generator.params.subgroup_shares add up to {total:.4g}; they must add up to at most 1, and to "
                "exactly 1 when they list every subgroup that has rows."
            )
        out = np.where(rest, 0.0, fixed)
        if rest.any() and real[rest].sum() > 0:
            out[rest] = (1 - total) * real[rest] / real[rest].sum()
        return out / out.sum()


def level_index(levels: list[Any], value: Any, column: str, where: str) -> int:
    """Index of ``value`` among a column's ``levels`` (equal values or equal text match)."""
    for i, lv in enumerate(levels):
        if lv is None and _is_missing(value):
            return i
        if lv is not None and not _is_missing(value) and (lv == value or str(lv) == str(value)):
            return i
    shown = ", ".join(_show(v) for v in levels)
    raise ConfigError(f"{where}: {value!r} is not a level of '{column}' (levels: {shown}).")


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _show(level: Any) -> str:
    return "missing" if level is None else str(level)
