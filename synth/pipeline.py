"""The run, step by step: config -> data -> split -> fit -> sample -> audit -> outputs.

The CLI and the library call these same functions. Every user mistake is found before
any output is written (config, plugins, parameters, gates, data), and outputs are staged
so a failed run leaves nothing half-written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synth.audits.base import Audit, AuditInputs, AuditSection
from synth.audits.runner import (
    build_audits,
    failed_audits,
    not_applicable_reason,
    provided_metrics,
    run_audits,
    split_by_kind,
)
from synth.config.load import AUDIT_DATA_SOURCE, config_hash, load_config, parse_config
from synth.config.model import MAX_SAMPLE_ROWS, SEED_LIMIT, AuditConfig, DataConfig, RunConfig
from synth.data.coerce import clip_to_bounds, coerce_to_schema, infinite_values
from synth.data.overlap import check_groups_disjoint, check_holdout_disjoint
from synth.disclosure import public_schema
from synth.errors import ConfigError, DataError, InternalError
from synth.execution import active_engine, use_engine
from synth.execution.select import open_configured
from synth.generators.base import Condition, Generator
from synth.manifest import StepTimer, build_manifest, file_entry, folder_entry
from synth.outputs import StagedOutputs
from synth.prepare import (
    IMAGE_SOURCES,
    PreparedData,
    declared_kind,
    dropped_columns,
    load_real,
    prepare,
    resolve_root,
    resolve_source,
)
from synth.privacy_accounting import dp_claim_check
from synth.registry import generator_class
from synth.result import AuditResult, GateOutcome
from synth.schema import DataKind, Schema
from synth.verdict import Gate, evaluate_gates, parse_gates

Progress = Callable[[str], None]

# Audits that compare against real records the generator never saw.
_NEEDS_HOLDOUT_FAMILIES = ("privacy", "membership", "utility", "fairness")
# Chance of an all-missing synthetic column, at the training missing rate, below which it is a failure.
EMPTY_COLUMN_P = 1e-9


@dataclass
class RunResult:
    """What `synth generate` produced: the audit result and where every output went."""

    result: AuditResult | None
    output_dir: Path
    outputs: dict[str, Path] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    synthetic: pd.DataFrame | None = None

    @property
    def passed(self) -> bool:
        """The verdict: every gate passed (True when auditing was switched off)."""
        return self.result.passed if self.result is not None else True


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _as_config(
    config: str | Path | Mapping[str, Any] | RunConfig, *, require_data: bool = True
) -> tuple[RunConfig, Path | None, str]:
    """A RunConfig, the folder relative paths resolve against, and a label for messages."""
    if isinstance(config, RunConfig):
        return config, None, "config"
    if isinstance(config, Mapping):
        return parse_config(dict(config), "config", require_data=require_data), None, "config"
    path = Path(config)
    return load_config(path, require_data=require_data), path.resolve().parent, str(path)


def _input_files(*candidates: Any) -> list[Path]:
    """The given values that name files (not DataFrames, not ``builtin:`` names, not None)."""
    return [Path(c) for c in candidates
            if isinstance(c, (str, Path)) and str(c).strip() and not str(c).startswith("builtin:")]


def _checked_synthetic(synthetic: pd.DataFrame, prep: PreparedData, generator: str) -> pd.DataFrame:
    """The generator's ``synthetic`` rows in the schema's dtypes, inside the declared bounds, checked."""
    synthetic = coerce_to_schema(synthetic, prep.modelled)
    synthetic = clip_to_bounds(synthetic, prep.declared_bounds)
    _check_synthetic(synthetic, prep, generator)
    return synthetic


def _check_synthetic(synthetic: pd.DataFrame, prep: PreparedData, generator: str) -> None:
    """A generator must fill every column the training data fills (else it failed, not the data).

    An all-missing synthetic column is a failure when the training data's share ``q`` of
    missing values makes it implausible: ``q ** n_synthetic < EMPTY_COLUMN_P`` (always, for a
    column with no missing value). A mostly-missing column may come out empty in a few rows.
    For image data only the image and prompt columns are checked: a finding label left
    missing means "not mentioned" (a condition that names one finding leaves the others so).
    """
    n = len(synthetic)
    schema = prep.modelled
    checked = [c for c in (*schema.images, schema.prompt) if c] if schema.images else schema.names
    for name in checked:
        q = float(prep.train[name].isna().mean()) if len(prep.train) else 1.0
        if n and synthetic[name].isna().all() and q ** n < EMPTY_COLUMN_P:
            raise InternalError(
                f"generator '{generator}' produced no values for column '{name}' (all {n} synthetic "
                f"values are missing although {1 - q:.0%} of the training values are present). This is a failure of "
                "the generator on this data, not a result; nothing was written."
            )


def _conditions(config: RunConfig, schema: Schema, label: str) -> list[Condition] | None:
    conds = config.sample.conditions
    if not conds:
        return None
    for i, c in enumerate(conds):
        for col in c.values:
            if col not in schema:
                raise ConfigError(
                    f"{label}: sample.conditions[{i}].values names the column '{col}', which the generator does not model "
                    f"(modelled columns: {', '.join(schema.names)})."
                )
    return [Condition(rows=c.rows, values=dict(c.values)) for c in conds]


def _plan_audits(
    audit_cfg: AuditConfig, gates: Sequence[str] | None, label: str, kind: DataKind | None = DataKind.TABLE
) -> tuple[list[Audit], list[Gate]]:
    """Build the audits and parse the gates up front, so mistakes surface before any work.

    With ``kind`` (the kind of data, when known) a gate may name only metrics of audits
    that apply to that kind, and the defaults are that kind's.
    """
    if not audit_cfg.enabled:
        return [], []
    audits = build_audits(audit_cfg.audits, audit_cfg.params, source=label)
    applicable = audits if kind is None else split_by_kind(audits, kind)[0]
    parsed = parse_gates(gates, provided_metrics(applicable), source=f"{label}: gates", kind=kind or DataKind.TABLE)
    return audits, parsed


def _verdict(sections: list[AuditSection], gates: list[Gate], kind: DataKind = DataKind.TABLE,
             none_applied: bool = False) -> list[GateOutcome]:
    metrics = {m.name: m for s in sections for m in s.metrics}
    outcomes = evaluate_gates(gates, metrics)
    for s in failed_audits(sections):
        outcomes.append(GateOutcome(expression=f"audit '{s.audit}' completed", metric=s.audit, field="ran", op="==",
                                    threshold=1.0, observed=0.0, passed=False, error=s.error))
    if none_applied:  # a release is never passed on missing evidence
        outcomes.append(GateOutcome(
            expression=f"at least one audit applies to {kind.value} data", metric="audits", field="applied", op=">=",
            threshold=1.0, observed=0.0, passed=False,
            error=f"none of the selected audits applies to {kind.value} data, so nothing was checked; install or "
            f"select audits for {kind.value} data"))
    return outcomes


def _write_frame(df: pd.DataFrame, path: Path, fmt: str) -> None:
    if fmt == "csv":
        df.to_csv(path, index=False, lineterminator="\n")
    else:
        df.to_parquet(path, index=False)


def _set_seeds(seed: int) -> None:
    import random

    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def generate(
    config: str | Path | Mapping[str, Any] | RunConfig,
    *,
    data: pd.DataFrame | None = None,
    output_dir: str | Path | None = None,
    progress: Progress | None = None,
    engine: str | None = None,
) -> RunResult:
    """Run the whole pipeline described by ``config`` and write its outputs.

    Args:
        config: a YAML path, a dict with the same structure, or a :class:`RunConfig`.
        data: a DataFrame to use instead of ``data.source`` (library use).
        output_dir: overrides ``output.dir``.
        progress: called with a short message as each step starts.
        engine: ``"local"`` or ``"ray"``, overriding ``execution.engine``.

    Returns:
        A :class:`RunResult`; ``result.passed`` is the verdict of the gates.

    Raises:
        SynthUserError: for any mistake in the config or data, before any output exists.
    """
    say = progress or (lambda _msg: None)
    started = _now()
    timer = StepTimer()
    cfg, base_dir, label = _as_config(config)
    if output_dir is not None:
        out_dir, out_what = Path(output_dir), "--out"
        if not str(output_dir).strip():
            raise ConfigError("--out is empty: give the folder to write the outputs to.")
    else:
        out_dir, out_what = Path(cfg.output.dir).expanduser(), f"{label}: output.dir"
        if not cfg.output.dir.strip():
            raise ConfigError(f"{label}: output.dir is empty: give the folder to write the outputs to.")
        if not out_dir.is_absolute() and base_dir is not None:
            out_dir = base_dir / out_dir

    # Everything a user can get wrong is checked before the first expensive step.
    gen_cls = generator_class(cfg.generator.name, key=f"{label}: generator.name")
    gen_cls.validate_params(cfg.generator.params)
    declared = declared_kind(cfg.data) if data is None else None
    if declared is not None:
        gen_cls.check_kind(declared, label)
    audits, gates = _plan_audits(cfg.audit, cfg.gates, label, declared)
    source = resolve_source(cfg.data.source, base_dir) if data is None else None
    # an image folder (data.root) is an input too: the output folder may not hold it
    root = resolve_root(cfg.data, base_dir) if data is None else None
    input_files = _input_files(source, root, config if not isinstance(config, (Mapping, RunConfig)) else None)
    # Connected before the data is read: an unreachable cluster is a user error with nothing done.
    run_engine = open_configured(cfg.execution, engine) if cfg.audit.enabled else None

    with StagedOutputs(out_dir, inputs=input_files, what=out_what) as staged:
        if staged.cleaned:
            say(f"removed {len(staged.cleaned)} leftover folder(s) of an interrupted run into {out_dir}")
        say("loading and checking the data")
        with timer.step("load_and_split"):
            prep: PreparedData = prepare(cfg.data, seed=cfg.seed, base_dir=base_dir, frame=data, source_label=label)
        kind = prep.modelled.data_kind
        gen_cls.check_schema(prep.modelled, label)
        applicable, not_applicable = split_by_kind(audits, kind)
        if declared is None and cfg.audit.enabled:
            _, gates = _plan_audits(cfg.audit, cfg.gates, label, kind)
        conditions = _conditions(cfg, prep.modelled, label)
        n_rows = sum(c.rows for c in conditions) if conditions else (cfg.sample.rows or len(prep.train))
        if n_rows > MAX_SAMPLE_ROWS:
            raise ConfigError(f"{label}: sample.conditions ask for {n_rows:,} rows in all; at most "
                              f"{MAX_SAMPLE_ROWS:,} synthetic rows fit in one run.")
        if conditions and cfg.sample.rows is not None and cfg.sample.rows != n_rows:
            raise ConfigError(
                f"{label}: sample.rows is {cfg.sample.rows} but sample.conditions ask for {n_rows} rows in all. "
                "Drop sample.rows or make the condition rows add up to it."
            )

        say(f"fitting {cfg.generator.name} on {len(prep.train)} rows")
        _set_seeds(cfg.seed)
        generator: Generator = gen_cls(seed=cfg.seed, **cfg.generator.params)
        with timer.step("fit"):
            generator.fit(prep.train, prep.modelled)
        say(f"sampling {n_rows} synthetic {'images' if kind == DataKind.IMAGE else 'rows'}")
        with timer.step("sample"):
            synthetic = generator.sample(n_rows, conditions=conditions, seed=cfg.seed).reset_index(drop=True)
            if kind != DataKind.IMAGE:  # generated images are typed once written as files (below)
                synthetic = _checked_synthetic(synthetic, prep, cfg.generator.name)
        with timer.step("write_synthetic"):
            folders = []
            if kind == DataKind.IMAGE:
                synthetic = _stage_images(synthetic, prep.modelled, staged, cfg.data.source if data is None else "")
                folders.append("images")
                synthetic = _checked_synthetic(synthetic, prep, cfg.generator.name)
            for fmt in cfg.output.formats:
                _write_frame(synthetic, staged.path(f"synthetic.{fmt}"), fmt)
            if cfg.output.save_generator:
                generator.save(staged.path("generator"))
                folders.append("generator")

        result = None
        if cfg.audit.enabled:
            inputs = AuditInputs(
                train=prep.train, holdout=prep.holdout,
                synthetic=_absolute_images(synthetic, prep.modelled, staged.staging),
                schema=prep.modelled, seed=cfg.seed,
                generator_factory=generator.clone, generator=generator,
                include_real_records=cfg.audit.include_real_records,
                train_groups=None if prep.train_groups is None else prep.train_groups.to_numpy(),
                holdout_groups=None if prep.holdout_groups is None else prep.holdout_groups.to_numpy(),
                rare_level_k=cfg.audit.rare_level_k,
            )
            with timer.step("audit"), use_engine(run_engine):
                sections = run_audits(applicable, inputs, on_start=lambda a: say(f"auditing: {a.title}"))
            outcomes = _verdict(sections, gates, kind, none_applied=bool(audits) and not applicable)
            # A DP claim contradicted by the membership audit's epsilon bound fails the run.
            dp_check = dp_claim_check(generator.privacy, {m.name: m for s in sections for m in s.metrics})
            if dp_check is not None:
                outcomes.append(dp_check)
            result = AuditResult(
                sections=sections,
                gates=outcomes,
                data=_data_summary(prep.source, prep.modelled, prep.train, prep.holdout, synthetic, prep.dropped,
                                   cfg.audit.rare_level_k),
                generator={"name": cfg.generator.name, "params": generator.params.model_dump(mode="json"),
                           "privacy": generator.privacy.to_dict(),
                           **({"fit": generator.fit_summary} if getattr(generator, "fit_summary", None) else {})},
                applied=[a.name for a in applicable],
                not_applicable=[{"audit": a.name, "reason": not_applicable_reason(a, kind)} for a in not_applicable],
            )
        say("writing outputs")
        config_dump = cfg.model_dump(mode="json")
        outputs = [file_entry(staged.path(f"synthetic.{fmt}"), staged.staging) for fmt in cfg.output.formats]
        outputs += [folder_entry(staged.staging / name, staged.staging) for name in folders]
        manifest = build_manifest(config_hash=config_hash(cfg), seed=cfg.seed, config=config_dump,
                                  timings=timer.seconds, outputs=outputs, started_utc=started, finished_utc=_now(),
                                  command="generate")
        manifest["generator"] = {"name": cfg.generator.name, "provenance": generator.provenance()}
        if staged.cleaned:
            manifest["cleaned_leftovers"] = list(staged.cleaned)
        if result is not None:
            _record_execution(manifest, run_engine, result.sections)
            with timer.step("report"):
                _write_result(staged, result, manifest, report=cfg.output.report, audience=cfg.report.audience)
        manifest["timings_s"] = timer.seconds
        manifest["finished_utc"] = _now()
        _write_json(staged.path("manifest.json"), manifest)
        final = staged.commit()
    if run_engine is not None:
        run_engine.close()
    say("done")
    return RunResult(result=result, output_dir=out_dir, outputs={p.name: p for p in final}, manifest=manifest,
                     synthetic=_absolute_images(synthetic, prep.modelled, out_dir))


def _stage_images(synthetic: pd.DataFrame, schema: Schema, staged: StagedOutputs, source: str) -> pd.DataFrame:
    """Write the generated images as PNGs under images/ (in the real set's layout); paths relative to the output."""
    from synth.data.images.synthetic_set import write_synthetic_images

    name = source.removeprefix("builtin:")
    layout = "mimic-cxr-jpg" if name in IMAGE_SOURCES else "flat"
    return write_synthetic_images(synthetic, schema, staged.path("images"), layout=layout)


def _absolute_images(frame: pd.DataFrame, schema: Schema, root: Path) -> pd.DataFrame:
    """``frame`` with its image paths (relative to the output folder) made absolute under ``root``."""
    if not schema.images:
        return frame
    out = frame.copy()
    for column in schema.images:
        out[column] = [str(root / p) for p in frame[column]]
    return out


def _record_execution(manifest: dict[str, Any], engine: Any, sections: Sequence[AuditSection]) -> None:
    """The engine that ran the audits, and each audit's wall time and peak memory (this
    process's, and the largest of one engine worker's where shards ran elsewhere), into ``manifest``."""
    manifest["execution"] = engine.describe() if engine is not None else {"engine": "local"}
    manifest["audits"] = [
        {"audit": s.audit, "seconds": round(s.seconds, 3),
         "peak_rss_mib": None if s.peak_rss_mib is None else round(s.peak_rss_mib, 1),
         "worker_peak_rss_mib": None if s.worker_peak_rss_mib is None else round(s.worker_peak_rss_mib, 1)}
        for s in sections
    ]


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, default=_json_default))


def _write_result(staged: StagedOutputs, result: AuditResult, manifest: dict[str, Any], *, report: bool,
                  audience: str = "steward") -> None:
    """Stage result.json (carrying ``manifest``) and, if asked, report.html for ``audience``; list both in the manifest."""
    from synth.reports import write_report

    result.manifest = manifest
    result_dict = result.to_dict()
    _write_json(staged.path("result.json"), result_dict)
    names = ["result.json"]
    if report:
        write_report(result_dict, staged.path("report.html"), audience=audience)  # type: ignore[arg-type]
        names.append("report.html")
    manifest["outputs"].extend(file_entry(staged.path(n), staged.staging) for n in names)


def _data_summary(
    source: str, schema: Schema, train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
    dropped: list[dict[str, str]], k: int,
) -> dict[str, Any]:
    """result.json's ``data``: counts, and the schema as outputs may state it (rare levels unnamed, coarse ranges)."""
    return {
        "source": source,
        "n_train": len(train),
        "n_holdout": len(holdout),
        "n_synthetic": len(synthetic),
        "kind": schema.data_kind.value,
        "columns": schema.names,
        "schema": public_schema(schema, train, k),
        "dropped_columns": dropped,
    }


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (pd.Timestamp, datetime)):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


def _check_gates_without_holdout(audits: Sequence[Audit], gates: Sequence[Gate], label: str) -> None:
    """:class:`ConfigError` when a gate needs an audit that cannot run without a holdout."""
    family = {metric: a.family for a in audits for metric in a.provides}
    blocked = [g for g in gates if family.get(g.metric) in _NEEDS_HOLDOUT_FAMILIES]
    if not blocked:
        return
    listed = "; ".join(g.expression + (" (a default gate)" if g.default else "") for g in blocked)
    raise ConfigError(
        f"{label}: no holdout was given, so the gate(s) {listed} cannot be computed: the privacy, membership, "
        "utility and fairness audits compare the synthetic data with real records the generator never saw. "
        "Pass --holdout (holdout= in Python) with such records, for example the rows held out before training; "
        "or, for a fidelity-only check, give a config whose gates use fidelity metrics only (or gates: [])."
    )


def _frame(value: str | Path | pd.DataFrame, role: str) -> pd.DataFrame:
    from synth.data.load import load_table

    try:
        return load_table(value)
    except DataError as exc:
        raise DataError(f"{role}: {exc}") from None


def audit(
    *,
    real: str | Path | pd.DataFrame,
    synthetic: str | Path | pd.DataFrame,
    holdout: str | Path | pd.DataFrame | None = None,
    config: str | Path | Mapping[str, Any] | RunConfig | None = None,
    target: str | None = None,
    sensitive: Sequence[str] | None = None,
    quasi_identifiers: Sequence[str] | None = None,
    audits: Sequence[str] | None = None,
    gates: Sequence[str] | None = None,
    seed: int | None = None,
    generator: Generator | None = None,
    output_dir: str | Path | None = None,
    progress: Progress | None = None,
    engine: str | None = None,
) -> AuditResult:
    """Audit ``synthetic`` against the ``real`` training table and a ``holdout``.

    ``real`` is what the generator was trained on; ``holdout`` is real data from the same
    population it never saw. Without it the privacy, membership, utility and fairness
    audits cannot run, so only the fidelity audits do, and a gate on any other metric
    (the default privacy gates included) is a :class:`ConfigError` raised before any work:
    a release is never judged on missing evidence. The schema is inferred from ``real`` with the config's ``data`` overrides
    and roles; keyword roles override the config. With ``output_dir`` the result.json,
    report.html and manifest.json are written there.
    """
    say = progress or (lambda _msg: None)
    started, timer = _now(), StepTimer()
    if config is not None:
        cfg, _, label = _as_config(config, require_data=False)
    else:
        cfg, label = RunConfig(data=DataConfig(source=AUDIT_DATA_SOURCE)), "synth audit"
    data_cfg = cfg.data.model_copy()
    for key, val in (("target", target), ("sensitive", sensitive), ("quasi_identifiers", quasi_identifiers)):
        if val is not None:
            # model_copy(update=) marks the key as set, so it overrides a built-in dataset's roles.
            data_cfg = data_cfg.model_copy(update={key: list(val) if key != "target" else val})
    audit_cfg = cfg.audit if audits is None else cfg.audit.model_copy(update={"audits": list(audits)})
    gate_specs = list(gates) if gates is not None else cfg.gates
    selected, parsed_gates = _plan_audits(audit_cfg, gate_specs, label)
    run_seed = cfg.seed if seed is None else seed
    if isinstance(run_seed, bool) or not isinstance(run_seed, int) or not 0 <= run_seed < SEED_LIMIT:
        raise ConfigError(f"{label}: the seed (--seed) must be a whole number from 0 to 2**32 - 1, got {run_seed!r}.")
    if isinstance(real, (str, Path)) and isinstance(holdout, (str, Path)) and _input_files(real, holdout) \
            and Path(real).expanduser().resolve() == Path(holdout).expanduser().resolve():
        raise DataError(f"--holdout '{holdout}' is the same file as --real: the holdout must be real records the "
                        "generator never saw, disjoint from the training data.")
    # Connected before the data is read: an unreachable cluster is a user error with nothing done.
    run_engine = open_configured(cfg.execution, engine)

    staged = None
    if output_dir is not None:
        staged = StagedOutputs(output_dir, inputs=_input_files(real, synthetic, holdout, config), what="--out")
    try:
        with use_engine(run_engine):
            result = _audit_into(staged, cfg, data_cfg, audit_cfg, selected, parsed_gates, gate_specs, run_seed, label,
                                 real, synthetic, holdout, generator, config, started, timer, say)
    except BaseException:
        if staged is not None:
            staged.abort()
        raise
    finally:
        run_engine.close()
    return result


def _audit_into(
    staged: StagedOutputs | None, cfg: RunConfig, data_cfg: DataConfig, audit_cfg: AuditConfig, selected: list[Audit],
    parsed_gates: list[Gate], gate_specs: list[Any], run_seed: int, label: str, real: Any, synthetic: Any, holdout: Any,
    generator: Generator | None, config: Any, started: str, timer: StepTimer, say: Progress,
) -> AuditResult:
    """The work of :func:`audit` once its output folder (if any) is taken."""
    if staged is not None and staged.cleaned:
        say(f"removed {len(staged.cleaned)} leftover folder(s) of an interrupted run into {staged.out_dir}")
    say("loading and checking the data")
    with timer.step("load"):
        real_df, full_schema = load_real(data_cfg, _frame(real, "--real"), None, label, _where(real, "--real"))
        schema = full_schema.modelled()
        frames = {"--synthetic": (synthetic, _frame(synthetic, "--synthetic"))}
        if holdout is not None:
            frames["--holdout"] = (holdout, _frame(holdout, "--holdout"))
        checked, raw = {}, {}
        for role, (given, df) in frames.items():
            where = _where(given, role)
            missing = [c for c in schema.names if c not in df.columns]
            if missing:
                raise DataError(
                    f"{where}: the table lacks the column(s) {', '.join(missing)} that the real data has. "
                    "Synthetic, holdout and real tables must share the modelled columns."
                )
            df = infinite_values(df, policy=data_cfg.infinite, source=where)
            try:
                checked[role] = coerce_to_schema(df[schema.names], schema)
            except DataError as exc:
                raise DataError(f"{where}: {exc}") from None
            raw[role] = df
    if holdout is None:  # after the data checks (a wrong path is the first thing to fix), before any audit
        _check_gates_without_holdout(selected, parsed_gates, label)
    train = real_df[schema.names]
    hold = checked.get("--holdout")
    train_groups = holdout_groups = None
    if hold is None:
        hold = train.iloc[:0]
    else:
        check_holdout_disjoint(train, hold, source=f"{_where(holdout, '--holdout')} and {_where(real, '--real')}")
        group = full_schema.group
        if group is not None:
            if group not in raw["--holdout"].columns:
                raise DataError(f"{_where(holdout, '--holdout')}: the table lacks the group column '{group}' "
                                "(data.group) that the real data has; the audit needs it to judge leaks per person.")
            train_groups, holdout_groups = real_df[group], raw["--holdout"][group]
            check_groups_disjoint(train_groups, holdout_groups, column=group,
                                  source=f"{_where(holdout, '--holdout')} and {_where(real, '--real')}")
    inputs = AuditInputs(train=train, holdout=hold, synthetic=checked["--synthetic"], schema=schema, seed=run_seed,
                         generator_factory=generator.clone if generator is not None else None,
                         generator=generator, include_real_records=audit_cfg.include_real_records,
                         train_groups=None if train_groups is None else train_groups.to_numpy(),
                         holdout_groups=None if holdout_groups is None else holdout_groups.to_numpy(),
                         rare_level_k=audit_cfg.rare_level_k)
    kind = schema.data_kind
    applicable, not_applicable = split_by_kind(selected, kind)
    if kind != DataKind.TABLE:  # the gates were read as for a table: read them again for this kind of data
        _, parsed_gates = _plan_audits(audit_cfg, gate_specs, label, kind)
    with timer.step("audit"):
        runnable = [a for a in applicable if holdout is not None or a.family not in _NEEDS_HOLDOUT_FAMILIES]
        sections = run_audits(runnable, inputs, on_start=lambda a: say(f"auditing: {a.title}"))
        for a in applicable:
            if a not in runnable:
                sections.append(a.skip("no holdout was given: this audit compares against real records the generator "
                                       "never saw (pass --holdout / holdout=)"))
    result = AuditResult(
        sections=sections,
        gates=_verdict(sections, parsed_gates, kind, none_applied=bool(selected) and not applicable),
        applied=[a.name for a in applicable],
        not_applicable=[{"audit": a.name, "reason": not_applicable_reason(a, kind)} for a in not_applicable],
        data=_data_summary(str(real) if not isinstance(real, pd.DataFrame) else "<DataFrame>", schema, train, hold,
                           inputs.synthetic, dropped_columns(full_schema, real_df), audit_cfg.rare_level_k),
        generator=None,
    )
    if staged is not None:
        manifest = build_manifest(config_hash=config_hash(cfg) if config is not None else None, seed=run_seed,
                                  config=cfg.model_dump(mode="json") if config is not None else None,
                                  timings=timer.seconds, outputs=[], started_utc=started, finished_utc=_now(),
                                  command="audit")
        if staged.cleaned:
            manifest["cleaned_leftovers"] = list(staged.cleaned)
        _record_execution(manifest, active_engine(), result.sections)
        _write_result(staged, result, manifest, report=True, audience=cfg.report.audience)
        _write_json(staged.path("manifest.json"), manifest)
        staged.commit()
    return result


def _where(given: Any, role: str) -> str:
    """How messages name an input: the flag and the file (or that it was a DataFrame)."""
    return f"{role} '{given}'" if isinstance(given, (str, Path)) else f"{role} (DataFrame)"
