"""The audit contract: inputs, metrics with intervals and threat models, figures.

An audit plugin is a class with ``name``, ``family``, ``title``, ``provides`` (the
headline metric names gates may refer to), ``data_kinds`` (the kinds of data it applies
to: tables by default, see ``DataKind``) and ``run(inputs) -> AuditSection``. The runner
runs only the audits that apply to the data and the report lists the others.
Audits never mutate their inputs and never put raw real records into their output
(figures and tables carry aggregates; per-record results carry row indices only).

Metric names are ``"<family>.<metric>"``; families are ``fidelity``, ``utility``,
``fairness``, ``privacy`` and ``membership``. A gate refers to a metric field:
``value``, ``lower_ci`` or ``upper_ci`` (e.g. ``privacy.dcr_share.upper_ci <= 0.55``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import pandas as pd

from synth.cpus import usable_cores
from synth.disclosure import DEFAULT_RARE_K
from synth.schema import DataKind, Schema
from synth.stats.intervals import Interval
from synth.stats.intervals import json_number as _num

if TYPE_CHECKING:
    from synth.generators.base import Generator

FAMILIES = ("fidelity", "utility", "fairness", "privacy", "membership")


@dataclass(frozen=True)
class ThreatModel:
    """What the attacker behind a privacy metric is assumed to hold and do.

    ``attacker_has`` lists the assets, e.g. ``["the synthetic data",
    "a reference sample of the population (disjoint from training)"]``.
    """

    attack: str
    attacker_has: tuple[str, ...]
    description: str

    def to_dict(self) -> dict[str, Any]:
        return {"attack": self.attack, "attacker_has": list(self.attacker_has), "description": self.description}


@dataclass(frozen=True)
class Metric:
    """One number with its uncertainty and its meaning.

    ``better`` says which direction is good: ``"lower"``, ``"higher"``, or ``"closer"``
    (closer to ``ideal``). ``passing`` is one plain sentence on what a good value means.
    ``details`` holds JSON-serialisable extras (counts, per-model values, ...).

    ``reference`` is the same measurement between two real samples (the holdout against
    the training rows), or what real data scores by construction: what a generator that
    drew fresh records from the population would reach. The report's findings rank every
    metric that is far from its reference. ``label`` is a short plain-language name for
    the report ("detection AUC"); both are optional, and result.json files without them
    still render.
    """

    name: str
    value: float
    passing: str
    ci: Interval | None = None
    better: Literal["lower", "higher", "closer"] = "lower"
    ideal: float | None = None
    threat_model: ThreatModel | None = None
    details: dict[str, Any] = field(default_factory=dict)
    reference: float | None = None
    label: str | None = None

    @property
    def family(self) -> str:
        return self.name.split(".", 1)[0]

    def field_value(self, which: str) -> float:
        """``value``, ``lower_ci`` or ``upper_ci`` (the value itself when there is no interval)."""
        if which == "value":
            return self.value
        if which == "lower_ci":
            return self.ci.low if self.ci else self.value
        if which == "upper_ci":
            return self.ci.high if self.ci else self.value
        raise KeyError(which)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": _num(self.value),
            "ci": self.ci.to_dict() if self.ci else None,
            "better": self.better,
            "ideal": self.ideal,
            "passing": self.passing,
            "threat_model": self.threat_model.to_dict() if self.threat_model else None,
            "details": self.details,
            "reference": _num(self.reference) if self.reference is not None else None,
            "label": self.label,
        }


FigureKind = Literal["histograms", "bars", "roc", "heatmap", "gallery"]


@dataclass(frozen=True)
class Figure:
    """A figure as data; :mod:`synth.reports` draws it.

    ``data`` by ``kind``:

    - ``"histograms"``: ``{"x_label": str, "series": [{"label": str, "edges": [k+1 floats],
      "counts": [k floats]}]}`` — overlaid histograms on shared edges (densities or counts).
    - ``"bars"``: ``{"y_label": str, "categories": [str], "series": [{"label": str,
      "values": [float per category]}]}`` — grouped bars.
    - ``"roc"``: ``{"curves": [{"label": str, "fpr": [floats], "tpr": [floats], "auc": float}]}``
      (the report adds the chance diagonal and log-scale inset is not required).
    - ``"heatmap"``: ``{"labels": [str], "matrix": [[float]], "value_label": str,
      "vmin": float, "vmax": float}`` — square matrix, ``labels`` on both axes.
    - ``"gallery"``: ``{"pairs": [{"caption": str, "images": [{"label": str, "png": base64 PNG}]}]}``
      — image thumbnails side by side. It shows images, so an audit adds one only when the
      config allows real records in the report (``audit.include_real_records``).
    """

    id: str
    title: str
    kind: FigureKind
    data: dict[str, Any]
    caption: str = ""
    per_record: bool = False  # shows individual records (a gallery, nearest neighbours): steward report only

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "kind": self.kind, "data": self.data, "caption": self.caption,
                "per_record": self.per_record}


@dataclass(frozen=True)
class TableBlock:
    """A small table of aggregates (never raw real records) for the report.

    ``per_record``: the rows describe individual records (row indices, per-record scores
    such as an exposure ranking). The steward report shows them; the public report, which
    travels with a released data set, leaves them out, because published per-record privacy
    results can serve an attacker as an oracle.
    """

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    caption: str = ""
    per_record: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "columns": list(self.columns),
            "rows": [[_num(v) if isinstance(v, float) else v for v in r] for r in self.rows],
            "caption": self.caption,
            "per_record": self.per_record,
        }


@dataclass
class AuditSection:
    """What one audit returns: its metrics, figures, tables and notes.

    ``skipped`` is set (with the reason) when the audit could not apply, e.g. the
    utility audit without a target column; a skipped section has no metrics.
    """

    audit: str
    family: str
    title: str
    summary: str = ""
    metrics: list[Metric] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    tables: list[TableBlock] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None
    error: str | None = None  # set by the runner when the audit crashed (a failed gate follows)
    seconds: float = 0.0
    peak_rss_mib: float | None = None  # this process's peak memory during the audit (manifest only)
    # The largest peak of one engine worker process (e.g. a Ray worker) during the audit, MiB;
    # None when no shard ran outside this process (manifest only).
    worker_peak_rss_mib: float | None = None

    def metric(self, name: str) -> Metric:
        for m in self.metrics:
            if m.name == name:
                return m
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "audit": self.audit,
            "family": self.family,
            "title": self.title,
            "summary": self.summary,
            "skipped": self.skipped,
            "error": self.error,
            "seconds": round(self.seconds, 3),
            "metrics": [m.to_dict() for m in self.metrics],
            "figures": [f.to_dict() for f in self.figures],
            "tables": [t.to_dict() for t in self.tables],
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class AuditInputs:
    """Everything an audit may look at. Never mutate these frames.

    - ``train``: the real rows the generator was fitted on (modelled columns only). For
      image data each image column holds absolute file paths (read them with
      :func:`synth.data.images.io.load_images`); ``synthetic`` likewise names the
      generated PNG files.
    - ``holdout``: real rows from the same population never shown to the generator.
    - ``synthetic``: the generator's output, same columns as ``train``.
    - ``schema``: the modelled columns' schema (roles: target, sensitive, quasi-identifier).
    - ``generator``: the fitted generator that made ``synthetic`` (never refit it), for
      white-box audits (e.g. :meth:`~synth.generators.base.Generator.diffusion_internals`);
      ``None`` when unavailable (e.g. ``synth audit`` on files).
    - ``generator_factory``: returns a fresh *unfitted* generator with the run's parameters,
      for audits that retrain it (shadow-model attacks); ``None`` when unavailable
      (e.g. ``synth audit`` on files).
    - ``include_real_records``: the config explicitly allows raw real records in the report.
    - ``train_groups`` / ``holdout_groups``: with a group column (``data.group``, e.g.
      ``subject_id``), the group label of each training / holdout row, shapes (n_train,)
      and (n_holdout,); no label occurs on both sides. ``None`` when every row is its own
      person. Privacy audits judge leaks per group: a person, not a row, is protected.
    - ``rare_level_k``: a category level held by fewer training rows than this is never
      named in an audit's output (:func:`synth.disclosure.pool_rare`).
    """

    train: pd.DataFrame
    holdout: pd.DataFrame
    synthetic: pd.DataFrame
    schema: Schema
    seed: int = 0
    generator_factory: Callable[[], Generator] | None = None
    generator: Generator | None = None
    include_real_records: bool = False
    train_groups: np.ndarray | None = None
    holdout_groups: np.ndarray | None = None
    rare_level_k: int = DEFAULT_RARE_K
    # Threads an audit may use. The runner lowers it, audit by audit, to the CPUs free at
    # the time (synth.cpus.free_cpus), so a busy machine is not oversubscribed.
    n_jobs: int = field(default_factory=usable_cores)


class Audit(ABC):
    """Base class of audit plugins.

    Parameters (``audit.params.<name>`` in the config) go to the constructor, which checks
    them and stores the checked values in ``self.params``; that is their only path.
    """

    name: ClassVar[str]
    family: ClassVar[str]
    title: ClassVar[str]
    provides: ClassVar[tuple[str, ...]] = ()  # headline metric names gates may use
    needs_target: ClassVar[bool] = False
    needs_generator: ClassVar[bool] = False
    data_kinds: ClassVar[frozenset[DataKind]] = frozenset({DataKind.TABLE})  # the kinds of data it applies to

    def __init__(self, **params: Any) -> None:
        self.params = params

    @abstractmethod
    def run(self, inputs: AuditInputs) -> AuditSection:
        """Compute this audit's metrics on ``inputs``."""

    @classmethod
    def applies_to(cls, kind: DataKind) -> bool:
        """Does this audit apply to ``kind`` of data (tables, images)?"""
        return kind in cls.data_kinds

    def skip(self, reason: str) -> AuditSection:
        """A section that says why the audit did not apply."""
        return AuditSection(audit=self.name, family=self.family, title=self.title, skipped=reason)
