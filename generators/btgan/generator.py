"""The ``btgan`` generator plugin: fit, sample, save, load (see the package docstring for the method)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

import synth
from synth.errors import ConfigError, DataError, SynthUserError, did_you_mean
from synth.generators.base import Condition, Generator, PrivacyGuarantee
from synth.generators.btgan import persistence
from synth.generators.btgan.encoding import TableTransformer
from synth.generators.btgan.groups import Subgroups, level_index
from synth.generators.btgan.layout import RowLayout
from synth.generators.btgan.params import BtGANParams
from synth.generators.btgan.public_schema import check_public_schema
from synth.generators.btgan.rejection import RejectionSampler
from synth.generators.btgan.sampler import ConditionLayout, Conditions, ConditionTable, TrainingSampler
from synth.generators.btgan.trainer import Networks, PlainRecordStep, Records, Trainer, TrainingLog, record_optimizer
from synth.generators.btgan.validation import EarlyStopping
from synth.generators.btgan.weights import bucket_weights, density_buckets, density_scores
from synth.generators.sdv_adapter import check_seed, sample_request, seeded, to_schema_dtypes, training_frame
from synth.schema import ColumnKind, ColumnSpec, Schema

MAX_INTEGER_LEVELS = 20  # an integer outcome or sensitive column with at most this many values is discrete
MIN_VALIDATION_ROWS = 20
MAX_SAMPLING_ROUNDS = 100


class BtGANGenerator(Generator):
    """Bt-GAN: a Triple-GAN for clinical tables with a fairness constraint and density-weighted training."""

    name = "btgan"
    description = ("Bt-GAN: fair, density-preserving conditional GAN (generator, critic, outcome classifier); "
                   "optional DP-SGD with Opacus.")
    Params = BtGANParams
    supports_conditions: ClassVar[bool] = True

    def __init__(self, seed: int = 0, **params: Any) -> None:
        super().__init__(seed=check_seed(seed), **params)
        self.training_log: TrainingLog | None = None
        self._reset()

    def _reset(self) -> None:
        self._record: dict[str, Any] = {}  # how it was trained, for provenance() (counts and settings only)
        self._nets: Networks | None = None
        self._transformer: TableTransformer | None = None
        self._subgroups: Subgroups | None = None
        self._output_shares: np.ndarray | None = None
        self._rejection: RejectionSampler | None = None
        self._roles: dict[str, Any] = {}

    @classmethod
    def validate_params(cls, params: dict[str, Any]) -> BtGANParams:
        try:
            return super().validate_params(params)
        except ConfigError as exc:  # model-level checks have no key: say "generator.params" plainly
            raise ConfigError(str(exc).replace("generator.params.: Value error, ", "generator.params: ")) from None

    # -- roles ----------------------------------------------------------------------------
    def _resolve_roles(self, schema: Schema, frame: pd.DataFrame) -> tuple[Schema, str, list[str]]:
        """The outcome and sensitive columns, checked; returns the schema the networks model
        (small-range integer outcome/sensitive columns become categorical)."""
        p = self.params
        target = schema.target
        if target is None:
            raise ConfigError(
                "btgan needs an outcome: give one column the role 'target' (data.target in the config). Its classifier "
                "head labels every generated row, and the fairness penalty acts on that label."
            )
        sensitive = list(p.sensitive) if p.sensitive is not None else [c for c in schema.sensitive if c != target]
        for column in sensitive:
            if column not in schema:
                where = "generator.params.sensitive" if p.sensitive is not None else "data.sensitive"
                raise ConfigError(f"{where} names '{column}', which is not a modelled column of the data."
                                  + did_you_mean(column, schema.names) + f" Columns: {', '.join(schema.names)}.")
        if target in sensitive:
            raise ConfigError(f"'{target}' is both the outcome and a sensitive column; "
                              "drop it from the sensitive columns.")
        if p.fairness_weight > 0 and not sensitive:
            raise ConfigError(
                "btgan's fairness penalty needs at least one sensitive column (data.sensitive or "
                "generator.params.sensitive), e.g. [race, gender]; or set generator.params.fairness_weight: 0."
            )
        model_schema = schema
        for column in [target, *sensitive]:
            spec = _discrete_spec(schema.column(column), role="outcome" if column == target else "sensitive column")
            model_schema = model_schema.replace_column(spec)
        classes = frame[target].dropna().unique()
        if len(classes) < 2:
            raise DataError(
                f"The outcome '{target}' has a single class in the training data ({_few(classes)}): a classifier has "
                "nothing to learn and no fairness constraint can act on it. Choose another target."
            )
        for column in sensitive:
            levels = frame[column].dropna().unique()
            if len(levels) + int(frame[column].isna().any()) < 2:
                raise DataError(
                    f"The sensitive column '{column}' has a single level in the training data ({_few(levels)}): there "
                    "is no dependence on it to remove. Drop it from the sensitive columns."
                )
        return model_schema, target, sensitive

    # -- fit ------------------------------------------------------------------------------
    def fit(self, data: pd.DataFrame, schema: Schema) -> BtGANGenerator:
        """Fit on ``data`` (n_rows x the modelled columns of ``schema``). Returns self.

        Every check on the data and parameters (outcome, sensitive columns, DP delta)
        runs before training. Raises :class:`ConfigError` / :class:`DataError`.
        """
        p = self.params
        modelled = schema.modelled()
        frame = training_frame(data, modelled)
        model_schema, target, sensitive = self._resolve_roles(modelled, frame)
        n = len(frame)
        delta = None
        if p.dp:
            check_public_schema(model_schema, frame)
            delta = p.dp_delta if p.dp_delta is not None else 1.0 / (10 * n)
            if delta >= 1.0 / n:
                raise ConfigError(
                    f"generator.params.dp_delta is {delta:g}, but with {n} training rows delta must be below 1/n = "
                    f"{1.0 / n:.3g}: a delta of 1/n allows the mechanism to publish one record outright. Use e.g. "
                    f"{1.0 / (10 * n):.2g}, or leave it unset."
                )
        device = _device(p.device)
        self._reset()
        with seeded(self.seed):
            rng = np.random.default_rng(self.seed)
            noise = torch.Generator().manual_seed(self.seed)
            self._fit(frame, model_schema, target, sensitive, delta, device, rng, noise)
        self.schema = modelled
        return self

    def _fit(self, frame: pd.DataFrame, schema: Schema, target: str, sensitive: list[str], delta: float | None,
             device: torch.device, rng: np.random.Generator, noise: torch.Generator) -> None:
        p = self.params
        n = len(frame)
        n_val = int(round(p.effective_validation_fraction * n))
        order = rng.permutation(n)
        if n_val < MIN_VALIDATION_ROWS:
            n_val = 0
        held_out, train = frame.iloc[order[:n_val]], frame.iloc[np.sort(order[n_val:])]

        transformer = TableTransformer(schema, fixed_modes=p.dp, n_modes=p.n_modes).fit(train, rng)
        layout = RowLayout(transformer, sensitive, target)
        subgroups = Subgroups(sensitive, transformer)
        weighted = p.effective_weighted_sampling
        conditions = _condition_layout(transformer, layout, sensitive, dp=p.dp,
                                       buckets=p.density_buckets if weighted else 0)
        cond_columns = conditions.columns
        counts = subgroups.counts(subgroups.of_frame(frame, transformer))
        train_groups = subgroups.of_frame(train, transformer)
        train_codes = np.stack([transformer.codes(train, c) for c in cond_columns], axis=1) \
            if cond_columns else np.zeros((len(train), 0), dtype=np.int64)
        buckets = weights = None
        if weighted:
            scores = density_scores(train, schema, neighbors=p.density_neighbors)
            buckets = density_buckets(scores, p.density_buckets)
            weights = bucket_weights(scores, buckets, p.density_buckets, cap=p.weight_cap)
        plan = None
        accountant = None
        missing_rates: list = []  # (generated 'missing' span, released missing share) with DP
        if p.dp:
            # Opacus is imported only here: it pulls in torch.distributed, seconds of import time.
            from opacus.accountants import RDPAccountant

            from synth.generators.btgan.privacy import (
                ACCOUNTANT,
                PrivateRecordStep,
                epsilon_spent,
                plan_noise,
                release_counts,
            )

            sample_rate = min(p.batch_size / len(train), 1.0)
            steps_per_epoch = int(1 / sample_rate)
            nullable = [s for s in layout.generated_spans if s.role == "missing"]
            plan = plan_noise(p.dp_epsilon, delta, sample_rate, p.epochs * steps_per_epoch * p.discriminator_steps,
                              release_counts=len(subgroups) > 1 or bool(nullable), group_budget=p.dp_group_budget)
            accountant = RDPAccountant()
            if plan.counts is not None:
                released, rates = release_counts(counts if len(subgroups) > 1 else None,
                                                 [int(train[s.column].isna().sum()) for s in nullable],
                                                 plan.counts, noise)
                counts = released if released is not None else counts  # one subgroup: its count is n, public
                missing_rates = [(s, float(min(r / len(train), 1.0))) for s, r in zip(nullable, rates)]
                accountant.history.append((plan.counts, 1.0, 1))
            table = ConditionTable.empty(len(subgroups))
        else:
            table = ConditionTable.from_codes(train_groups, train_codes, buckets, len(subgroups), conditions.sizes,
                                              p.density_buckets if weighted else 1)
        shares = counts / counts.sum()
        targets = [(s.values, s.share) for s in p.subgroup_shares] if p.subgroup_shares else None
        output_shares = subgroups.target_shares(counts, targets)

        nets = Networks.build(p, layout, conditions, subgroups.onehots, shares, table, device)
        encoded = torch.as_tensor(transformer.transform(train, rng), device=device)
        outcome = encoded[:, torch.as_tensor(layout.outcome_index, device=device)].argmax(dim=1)
        records = Records(encoded, outcome, train_groups, buckets)
        optimizer = record_optimizer(nets.discriminator, nets.classifier, p)

        if p.dp:
            record_step = PrivateRecordStep(
                nets.discriminator, nets.classifier, optimizer, noise_multiplier=plan.sgd,
                max_grad_norm=p.dp_max_grad_norm, expected_batch_size=max(1, round(plan.sample_rate * len(train))),
                sample_rate=plan.sample_rate, accountant=accountant, gp_weight=p.gradient_penalty,
                noise_generator=torch.Generator(device=device).manual_seed(self.seed + 1),
            ).step

            def draw_records() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
                # Poisson sampling: every record independently with probability q (Opacus' sampler's rule).
                picked = torch.nonzero(torch.rand(len(train), generator=noise) < plan.sample_rate).squeeze(1).numpy()
                return picked, np.full(len(picked), -1), np.zeros(len(picked), dtype=np.int64)

            def draw_generator_conditions(b: int) -> Conditions:
                return Conditions.only_groups(rng.choice(len(shares), size=b, p=shares))
        else:
            record_step = PlainRecordStep(nets.discriminator, nets.classifier, optimizer, p.gradient_penalty)
            sampler = TrainingSampler(train_codes, weights if weights is not None else np.ones(len(train)),
                                      conditions.sizes, log_frequency=p.log_frequency, rng=rng)
            # The classifier must learn the real outcome rates, not those of the tilted draws.
            records.importance = 1.0 / (len(train) * sampler.inclusion())
            steps_per_epoch = max(len(train) // p.batch_size, 1)

            def draw_records() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
                return sampler.draw(p.batch_size)

            def draw_generator_conditions(b: int) -> Conditions:
                rows, column, level = sampler.draw(b)
                return Conditions(records.groups[rows], column, level,
                                  records.buckets[rows] if records.buckets is not None else np.full(b, -1))

        self._transformer, self._subgroups, self._nets = transformer, subgroups, nets
        self._output_shares = output_shares
        self._roles = {"target": target, "sensitive": sensitive,
                       "discrete": {c: list(schema.column(c).categories) for c in [target, *sensitive]}}
        self.schema = schema  # sampling during early stopping decodes with the modelled schema
        stopping = None
        if n_val:
            stopping = EarlyStopping(train, held_out, schema, lambda rows: self._sample_frame(rows, rng),
                                     patience=p.patience)
        trainer = Trainer(nets, p, records, draw_records=draw_records, record_step=record_step,
                          steps_per_epoch=steps_per_epoch, rng=rng, draw_generator_conditions=draw_generator_conditions,
                          penalise_records=not p.dp, missing_rates=missing_rates)
        self.training_log = trainer.fit(stopping=stopping, progress=p.progress)

        if p.rejection_sampling:
            self._rejection = self._calibrate_rejection(records, train_codes, rng)
        log = self.training_log
        self._record = {
            "device": str(device), "torch": torch.__version__, "training_rows": len(train), "held_out_rows": n_val,
            "subgroups": len(subgroups), "condition_columns": list(cond_columns),
            "density_buckets": p.density_buckets if weighted else 0, "steps_per_epoch": steps_per_epoch,
            "epochs_run": log.epochs_run, "best_epoch": log.best_epoch, "stopped_early": log.stopped_early,
        }
        if p.dp:
            self._record["dp_sgd"] = {"noise_multiplier": plan.sgd, "sample_rate": plan.sample_rate,
                                      "planned_steps": plan.steps, "count_noise_multiplier": plan.counts}
        if p.dp:
            spent = epsilon_spent(accountant, delta)
            self.privacy = PrivacyGuarantee(
                mechanism="DP-SGD (Opacus) on discriminator and classifier + Gaussian subgroup counts",
                epsilon=spent, delta=delta, accountant=ACCOUNTANT,
                notes=(f"({spent:.3g}, {delta:.2g})-DP for adding or removing one training record: "
                       f"{plan.steps} DP-SGD steps at sampling rate {plan.sample_rate:.3g}, noise multiplier "
                       f"{plan.sgd:.3g}, clipping norm {p.dp_max_grad_norm:g}"
                       + (f"; subgroup and missing-value counts with noise multiplier {plan.counts:.3g}"
                          if plan.counts else "")
                       + ". Public, outside the guarantee: the number of rows, the column kinds, and the bounds, "
                         "levels and nullability declared in the config (required with DP; never read off the "
                         "records)."),
            )

    def _calibrate_rejection(self, records: Records, codes: np.ndarray, rng: np.random.Generator) -> RejectionSampler:
        """Critic scores of the training records (each with a random condition column at its own
        level, and its own bucket) against as many generated rows drawn like the output."""
        nets, p = self._nets, self.params
        pac = nets.discriminator.pac
        n = (len(records.groups) // pac) * pac
        rows = rng.permutation(len(records.groups))[:n]
        if nets.conditions.columns:
            column = rng.integers(len(nets.conditions.columns), size=n)
            level = codes[rows, column]
        else:
            column, level = np.full(n, -1), np.zeros(n, dtype=np.int64)
        bucket = records.buckets[rows] if records.buckets is not None else np.full(n, -1)
        real_cond = Conditions(records.groups[rows], column, level, bucket)
        with torch.no_grad():
            real = torch.cat([records.rows[torch.as_tensor(rows, device=nets.device)],
                              nets.conditions.vectors(real_cond, nets.device)], 1)
            fake, cond, _, _ = nets.generate(nets.conditions_like_output(n, rng), hard=True)
            real_scores = nets.discriminator(real)
            fake_scores = nets.discriminator(torch.cat([fake, cond], 1))
        return RejectionSampler.calibrate(real_scores.cpu().numpy(), fake_scores.cpu().numpy(), p.rejection_quantile)

    # -- sample ---------------------------------------------------------------------------
    def sample(self, n: int, conditions: list[Condition] | None = None, seed: int | None = None) -> pd.DataFrame:
        """Return ``n`` rows (schema columns in schema order, schema dtypes, index 0..n-1).

        Subgroups get their real shares (or ``subgroup_shares``), allocated exactly. With
        ``conditions`` the rows are each condition's rows in turn; conditions may fix
        discrete columns only. ``seed`` (default: the constructor's) fixes the rows.
        """
        seed, plan = sample_request(self, n, conditions, seed)
        with seeded(seed):
            rng = np.random.default_rng(seed)
            if self._rejection is not None:
                self._rejection.max_logit, self._rejection.gamma = -np.inf, None
            parts = [self._sample_matrix(rows, values, rng, i) for i, (rows, values) in enumerate(plan, start=1)]
        matrix = np.vstack(parts) if parts else np.zeros((0, self._transformer.width))
        return to_schema_dtypes(self._transformer.inverse(matrix), self.schema)

    def _sample_frame(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        with torch.no_grad():
            return to_schema_dtypes(self._transformer.inverse(self._sample_matrix(n, {}, rng, 0)), self.schema)

    def _sample_matrix(self, n: int, values: dict[str, Any], rng: np.random.Generator, which: int) -> np.ndarray:
        """(n, width) encoded rows meeting ``values``, subgroups allocated exactly, rows shuffled."""
        nets = self._nets
        where = f"condition {which}" if which else "sample"
        sens_values = {c: v for c, v in values.items() if c in self._roles["sensitive"]}
        allowed = self._subgroups.matching(sens_values, where) & (self._output_shares > 0)
        if n and not allowed.any():
            raise ConfigError(f"{where}: no subgroup with rows matches {sens_values}; the generator never makes it.")
        counts = _allocate(n, np.where(allowed, self._output_shares, 0.0))
        checks = self._checks({c: v for c, v in values.items() if c not in sens_values}, where)
        fixed = next(((c, k) for c, k in checks if c in nets.conditions.columns), None)
        checks = [(c, k) for c, k in checks if fixed is None or c != fixed[0]]
        out = []
        with torch.no_grad():
            for g in np.flatnonzero(counts):
                out.append(self._sample_subgroup(int(g), int(counts[g]), fixed, checks, rng, where, values))
        rows = np.vstack(out) if out else np.zeros((0, self._transformer.width), dtype=np.float32)
        return rows[rng.permutation(len(rows))]

    def _checks(self, values: dict[str, Any], where: str) -> list[tuple[str, int]]:
        """(column, level index) for each condition on a discrete column; numeric conditions are refused."""
        checks = []
        for column, value in values.items():
            if column not in self._transformer.levels:
                raise ConfigError(
                    f"{where}: btgan can condition on discrete columns only; '{column}' is "
                    f"{self.schema.column(column).kind.value}. Condition on a categorical column, or sample and filter."
                )
            checks.append((column, level_index(self._transformer.levels[column], value, column, where)))
        return checks

    def _sample_subgroup(self, g: int, n: int, fixed: tuple[str, int] | None, checks: list[tuple[str, int]],
                         rng: np.random.Generator, where: str, values: dict[str, Any]) -> np.ndarray:
        nets, t = self._nets, self._transformer
        pac = nets.discriminator.pac
        wanted = 2 * n if checks or fixed or self._rejection is not None else n
        chunk = -(-max(self.params.batch_size, wanted) // pac) * pac  # whole packs for the critic
        kept, total = [], 0
        for _ in range(MAX_SAMPLING_ROUNDS):
            fix = (nets.conditions.columns.index(fixed[0]), fixed[1]) if fixed is not None else None
            asked = nets.table.draw(np.full(chunk, g), rng, fixed=fix)
            row, cond, _, _ = nets.generate(asked, hard=True, averaged=True)
            ok = torch.ones(chunk, dtype=torch.bool, device=row.device)
            for c, k in checks + ([fixed] if fixed else []):
                block = t.block(c)
                ok &= row[:, block.start : block.end].argmax(dim=1) == k
            if self._rejection is not None:
                scores = nets.discriminator(torch.cat([row, cond], 1)).cpu().numpy()
                ok &= torch.as_tensor(np.repeat(self._rejection.accept(scores, rng), pac), device=row.device)
            good = row[ok].cpu().numpy()
            kept.append(good)
            total += len(good)
            if total >= n:
                return np.vstack(kept)[:n]
        raise ConfigError(
            f"{where}: btgan produced only {total} of {n} rows with {values or 'its subgroup'} "
            f"({self._subgroups.label(g)}) after {MAX_SAMPLING_ROUNDS} rounds: the fitted model rarely generates these "
            "values. Ask for fewer rows or a more common combination, or train longer."
        )

    def provenance(self) -> dict[str, Any]:
        """How the fitted model was trained: device, library version, row and subgroup counts,
        epochs run and the early-stopping epoch, the DP-SGD noise plan. Counts and settings
        only, never a record's value (subgroups are counted, not named)."""
        return dict(self._record)

    # -- persistence ----------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write the fitted generator into folder ``path`` (safetensors + JSON, no pickle).

        The JSON holds the encoding's mixture modes and the subgroup/condition counts:
        aggregates of the training data, to be stored like a model trained on it.
        """
        if not self.is_fitted:
            raise SynthUserError(f"Generator '{self.name}' is not fitted: there is nothing to save.")
        nets = self._nets
        meta = {
            "generator": self.name, "params": self.params.model_dump(mode="json"), "seed": self.seed,
            "schema": self.schema.to_dict(), "roles": self._roles,
            "transformer": self._transformer.to_dict(), "training_shares": nets.shares.tolist(),
            "output_shares": self._output_shares.tolist(),
            "condition_table": nets.table.to_dict(),
            "rejection": self._rejection.to_dict() if self._rejection is not None else None,
            "privacy": self.privacy.to_dict(),
            "training": self._record,
            "synth_version": synth.__version__,
        }
        persistence.write(Path(path), nets.state(), meta)

    @classmethod
    def load(cls, path: Path, *, trusted: bool = False) -> BtGANGenerator:
        """Load a generator :meth:`save` wrote (no code runs on load, so ``trusted`` is not needed)."""
        state, meta = persistence.read(Path(path), cls.name)
        generator = cls(seed=meta["seed"], **meta["params"])
        p = generator.params
        schema = Schema.from_dict(meta["schema"])
        roles = meta["roles"]
        model_schema = schema
        for column, levels in roles["discrete"].items():
            spec = schema.column(column)
            if not spec.is_discrete:  # a small-range integer column modelled as categorical
                model_schema = model_schema.replace_column(
                    replace(spec, kind=ColumnKind.CATEGORICAL, categories=tuple(levels)))
        transformer = TableTransformer.from_dict(model_schema, meta["transformer"])
        for column, levels in transformer.levels.items():
            transformer.levels[column] = [_restore_level(v, model_schema.column(column)) for v in levels]
        layout = RowLayout(transformer, roles["sensitive"], roles["target"])
        subgroups = Subgroups(roles["sensitive"], transformer)
        table = ConditionTable.from_dict(meta["condition_table"])
        conditions = _condition_layout(transformer, layout, roles["sensitive"], dp=p.dp,
                                       buckets=p.density_buckets if table.buckets else 0)
        nets = Networks.build(p, layout, conditions, subgroups.onehots, np.asarray(meta["training_shares"]), table,
                              _device(p.device))
        nets.load_state(state)
        nets.train(False)
        generator._nets, generator._transformer, generator._subgroups = nets, transformer, subgroups
        generator._output_shares = np.asarray(meta["output_shares"], dtype=np.float64)
        generator._rejection = RejectionSampler.from_dict(meta["rejection"]) if meta.get("rejection") else None
        generator._roles = roles
        generator._record = dict(meta.get("training") or {})
        generator.privacy = PrivacyGuarantee(**meta["privacy"])
        generator.schema = schema
        return generator


# -- helpers ----------------------------------------------------------------------------


def _condition_layout(transformer: TableTransformer, layout: RowLayout, sensitive: list[str], *, dp: bool,
                      buckets: int) -> ConditionLayout:
    """Condition columns: every discrete column but the sensitive ones and the outcome (none with DP)."""
    columns = () if dp else tuple(b.column for b in transformer.blocks if b.column in transformer.levels
                                  and b.column not in sensitive and b.column != layout.target)
    return ConditionLayout(
        columns, tuple(len(transformer.levels[c]) for c in columns),
        tuple(s for s in layout.generated_spans if s.column in columns and s.role == "level"), buckets=buckets,
    )


def _device(choice: str) -> torch.device:
    if choice == "cuda" and not torch.cuda.is_available():
        raise ConfigError("generator.params.device is 'cuda' but no CUDA device is available; use 'auto' or 'cpu'.")
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(choice)


def _discrete_spec(spec: ColumnSpec, *, role: str) -> ColumnSpec:
    """``spec`` as a discrete column: categorical/boolean as is, a small-range integer as categorical."""
    if spec.is_discrete:
        return spec
    if spec.kind == ColumnKind.INTEGER and spec.categories is not None:  # levels declared on an integer column
        return replace(spec, kind=ColumnKind.CATEGORICAL)
    if (spec.kind == ColumnKind.INTEGER and spec.minimum is not None and spec.maximum is not None
            and spec.maximum - spec.minimum + 1 <= MAX_INTEGER_LEVELS):
        levels = tuple(range(int(math.ceil(spec.minimum)), int(math.floor(spec.maximum)) + 1))
        # levels from declared bounds are declared too, from inferred ones not (see .public_schema)
        public = {"categories"} if {"minimum", "maximum"} <= spec.declared else set()
        return replace(spec, kind=ColumnKind.CATEGORICAL, categories=levels,
                       declared=(spec.declared - {"categories"}) | public)
    raise ConfigError(
        f"The {role} '{spec.name}' is {spec.kind.value}; btgan needs it discrete (categorical, boolean, or an integer "
        f"with at most {MAX_INTEGER_LEVELS} values). Declare it categorical in data.columns.{spec.name}.kind, or "
        "bin it into a categorical column first."
    )


def _allocate(n: int, shares: np.ndarray) -> np.ndarray:
    """(G,) whole row counts summing to ``n`` in proportion to ``shares`` (largest remainder)."""
    if n == 0 or shares.sum() <= 0:
        return np.zeros(len(shares), dtype=np.int64)
    exact = n * shares / shares.sum()
    counts = np.floor(exact).astype(np.int64)
    remainder = n - counts.sum()
    counts[np.argsort(-(exact - counts), kind="stable")[:remainder]] += 1
    return counts


def _restore_level(value: Any, spec: ColumnSpec) -> Any:
    """A level read back from JSON as the schema's own category object (JSON turns tuples to lists)."""
    if value is None or spec.categories is None:
        return value
    for category in spec.categories:
        if category == value or str(category) == str(value):
            return category
    return value


def _few(values: Any) -> str:
    shown = [repr(v) for v in list(values)[:3]]
    return ", ".join(shown) if shown else "no values"
