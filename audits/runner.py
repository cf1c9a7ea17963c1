"""Select, configure and run audit plugins."""

from __future__ import annotations

import dataclasses
import inspect
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from threadpoolctl import threadpool_limits

from synth.audits.base import Audit, AuditInputs, AuditSection
from synth.cpus import free_cpus
from synth.execution.active import active_engine
from synth.execution.resources import peak_rss_mib, reset_peak_rss
from synth.errors import ConfigError, did_you_mean
from synth.registry import audit_class, audit_names
from synth.schema import DataKind


def audit_parameters(cls: type[Audit]) -> dict[str, Any]:
    """Parameter name -> default of an audit class (its explicit ``__init__`` keywords)."""
    sig = inspect.signature(cls.__init__)
    return {
        name: p.default
        for name, p in sig.parameters.items()
        if name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }


def build_audits(
    names: Sequence[str] | None, params: Mapping[str, Mapping[str, Any]] | None = None, *, source: str = "config"
) -> list[Audit]:
    """Instantiate the named audits (default: all installed) with their config parameters.

    Unknown audit names, parameters for audits that are not selected and unknown parameter
    keys are :class:`ConfigError` naming the key and the closest valid one.
    """
    params = dict(params or {})
    selected = list(names) if names is not None else audit_names()
    for extra in set(params) - set(selected):
        raise ConfigError(
            f"{source}: audit.params.{extra} gives parameters for an audit that is not selected."
            + did_you_mean(extra, selected) + f" Selected audits: {', '.join(selected)}."
        )
    audits = []
    for name in selected:
        cls = audit_class(name, key=f"{source}: audit.audits")
        given = dict(params.get(name, {}))
        valid = audit_parameters(cls)
        for key in given:
            if key not in valid:
                raise ConfigError(
                    f"{source}: unknown parameter 'audit.params.{name}.{key}'." + did_you_mean(key, valid)
                    + f" Parameters of '{name}': {', '.join(valid) or '(none)'}."
                )
        try:
            audits.append(cls(**given))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{source}: audit.params.{name}: {exc}") from None
    return audits


def split_by_kind(audits: Sequence[Audit], kind: DataKind) -> tuple[list[Audit], list[Audit]]:
    """``(applicable, not_applicable)``: the audits that apply to ``kind`` of data, and the rest."""
    return [a for a in audits if a.applies_to(kind)], [a for a in audits if not a.applies_to(kind)]


def not_applicable_reason(audit: Audit, kind: DataKind) -> str:
    """One sentence for the report: why an audit did not run on this kind of data."""
    kinds = " or ".join(sorted(k.value for k in audit.data_kinds))
    return f"applies to {kinds} data, not to {kind.value} data"


def provided_metrics(audits: Sequence[Audit]) -> list[str]:
    """Every headline metric name the given audits declare (what gates may refer to)."""
    return [m for a in audits for m in a.provides]


def run_audits(
    audits: Sequence[Audit],
    inputs: AuditInputs,
    *,
    on_start: Callable[[Audit], None] | None = None,
) -> list[AuditSection]:
    """Run each audit; a crashing audit becomes a section with ``skipped`` = the error.

    Before each audit the threads it may use (``inputs.n_jobs``) are lowered to the CPUs
    free at that moment (:func:`synth.cpus.free_cpus`), and native thread pools (OpenMP,
    BLAS) are capped to the same number: on a machine other processes keep busy, audits
    then run single-threaded instead of spinning threads that wait for each other.

    The crash is not swallowed silently: the pipeline turns it into a failed gate.
    """
    sections = []
    for audit in audits:
        if on_start:
            on_start(audit)
        started = time.perf_counter()
        engine = active_engine()
        first_timing = len(engine.timings)
        peak_resets = reset_peak_rss()  # so the peak read below is this audit's own
        if audit.needs_target and inputs.schema.target is None:
            section = audit.skip("no target column is set (data.target in the config)")
        else:
            n_jobs = min(inputs.n_jobs, free_cpus()) if inputs.n_jobs > 0 else free_cpus()
            try:
                # Native thread pools otherwise take every core whatever n_jobs says.
                with threadpool_limits(limits=n_jobs):
                    section = audit.run(dataclasses.replace(inputs, n_jobs=n_jobs))
            except Exception as exc:  # an audit bug must not take the whole report down
                section = audit.skip("the audit failed; see the error")
                section.error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        section.seconds = time.perf_counter() - started
        section.peak_rss_mib = peak_rss_mib() if peak_resets else None
        worker_peaks = [t.worker_peak_rss_mib for t in engine.timings[first_timing:] if t.worker_peak_rss_mib is not None]
        section.worker_peak_rss_mib = max(worker_peaks, default=None)
        sections.append(section)
    return sections


def failed_audits(sections: Sequence[AuditSection]) -> list[AuditSection]:
    """Sections whose audit crashed (as opposed to not applying)."""
    return [s for s in sections if s.error is not None]
