"""Which network produces which part of a row, and how the parts are put back together.

A row vector (the :class:`~.encoding.TableTransformer` layout) has three kinds of blocks:

- the **sensitive** columns' one-hots: never generated, they are the subgroup the row is
  conditioned on (so a row's subgroup is exact, and output shares are set by the sampler);
- the **outcome** (target) one-hot: produced by the outcome classifier from the rest of the
  row (the information-constrained step);
- every **other** block: produced by the generator.

The discriminator sees whole rows; the classifier sees every block but the outcome.
"""

from __future__ import annotations

import numpy as np
import torch

from synth.generators.btgan.encoding import Span, TableTransformer


class RowLayout:
    """Index bookkeeping between the generator's output, subgroup one-hots, outcome and row.

    Attributes:
        generated_spans: the generator's output spans, in its own coordinates (0-based).
        generated_width / sensitive_width / outcome_width: block widths.
        features_index: (row width - outcome width,) positions of the classifier's inputs in the row.
    """

    def __init__(self, transformer: TableTransformer, sensitive: list[str], target: str) -> None:
        blocks = transformer.blocks
        generated = [b for b in blocks if b.column not in sensitive and b.column != target]
        sens = [transformer.block(c) for c in sensitive]
        outcome = transformer.block(target)
        ranges = lambda bs: np.concatenate([np.arange(b.start, b.end) for b in bs]) if bs else np.zeros(0, np.int64)  # noqa: E731
        self.generated_index = ranges(generated)
        self.sensitive_index = ranges(sens)
        self.outcome_index = np.arange(outcome.start, outcome.end)
        order = np.concatenate([self.generated_index, self.sensitive_index, self.outcome_index])
        self.row_width = transformer.width
        self._to_row = torch.as_tensor(np.argsort(order))
        self.features_index = np.sort(np.concatenate([self.generated_index, self.sensitive_index]))
        parts = np.concatenate([self.generated_index, self.sensitive_index])
        self._features_of_parts = torch.as_tensor(np.argsort(parts))
        self.generated_width = int(self.generated_index.size)
        self.sensitive_width = int(self.sensitive_index.size)
        self.outcome_width = int(self.outcome_index.size)
        self.generated_spans: list[Span] = []
        at = 0
        for b in generated:
            for s in b.spans:
                self.generated_spans.append(Span(s.column, s.role, at, at + s.width))
                at += s.width
        self.target = target

    def to(self, device: torch.device) -> RowLayout:
        self._to_row = self._to_row.to(device)
        self._features_of_parts = self._features_of_parts.to(device)
        return self

    def features(self, generated: torch.Tensor, sensitive: torch.Tensor) -> torch.Tensor:
        """(B, features) classifier input from generator output (B, generated) and subgroup one-hots (B, sensitive)."""
        return torch.cat([generated, sensitive], dim=1)[:, self._features_of_parts]

    def row(self, generated: torch.Tensor, sensitive: torch.Tensor, outcome: torch.Tensor) -> torch.Tensor:
        """(B, row width) row vector in the transformer's layout from its three parts."""
        return torch.cat([generated, sensitive, outcome], dim=1)[:, self._to_row]
