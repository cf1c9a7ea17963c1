"""Downstream models shared by the utility and fairness audits.

What lives here: the prediction *task* read from the schema's target (binary or multiclass
classification, or regression), the feature frame built from the schema, the small model
zoo (a linear model and a histogram gradient-boosting model, both scikit-learn), the
holdout scores of a fitted model, the metrics computed from those scores, and the paired
bootstrap over holdout rows that gives every metric its interval without retraining.

Conventions:

- labels of a classification task are integer codes ``0..k-1`` into ``Task.classes``
  (class keys, see :func:`label_key`); ``-1`` marks a missing or unknown label;
- a classifier's scores are an ``(n_rows, k)`` float array of class probabilities over
  *all* task classes (a class the model never saw in training gets probability 0);
  a regressor's scores are an ``(n_rows,)`` float array in the target's units;
- a training set whose target has a single class cannot fit a classifier: the model
  becomes scikit-learn's ``DummyClassifier(strategy="prior")``, a constant scorer whose
  AUROC is 0.5 by construction (chance), and ``FittedModel.degenerate`` says why.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from synth.audits.base import Interval
from synth.cpus import map_single_threaded
from synth.errors import ConfigError, DataError, did_you_mean
from synth.schema import ColumnKind, Schema

#: Model names accepted by the audits' ``models`` / ``model`` parameters. ``logistic`` and
#: ``linear`` both mean "the linear model for the task" (logistic regression for a
#: classification target, ridge-regularised linear regression for a regression target).
MODEL_NAMES = ("logistic", "linear", "gradient_boosting")

#: A numeric/integer target with at most this many distinct whole-number values is a
#: classification target (a 0/1 outcome stored as integers); more values mean regression.
FEW_VALUES = 10

#: More classes than this make per-class AUROC meaningless on a realistic holdout.
MAX_CLASSES = 50

MISSING_LEVEL = "<missing>"
_POSITIVE_KEYS = ("1", "true", "yes", "y", "positive", "pos")
# HistGradientBoosting takes at most 255 bins per feature, one kept for missing values.
_MAX_GBM_LEVELS = 250
_MAX_ONEHOT_LEVELS = 50

TaskKind = Literal["binary", "multiclass", "regression"]


class NoTaskError(Exception):
    """The target cannot define a prediction task; the message says why (the audit skips)."""


def label_key(value: Any) -> str | None:
    """A canonical string for a label or category value, ``None`` when missing.

    Whole numbers compare equal whatever their type (``1``, ``1.0``, ``"1"`` -> ``"1"``),
    so a generator that writes a 0/1 outcome as floats or strings still matches the real
    labels; booleans stay ``"True"``/``"False"``.
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return None
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    text = str(value)
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def label_keys(series: pd.Series) -> list[str | None]:
    """:func:`label_key` of every value of ``series``, in order (list of length n)."""
    if series.dtype == object:  # values of mixed types: 1 and True are equal but have different keys
        return [label_key(v) for v in series.to_numpy(dtype=object)]
    # One type for every value, so equal values have equal keys: key the distinct values only.
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    keys = np.array([label_key(u) for u in pd.Series(uniques).to_numpy(dtype=object)] + [None], dtype=object)
    return keys[codes].tolist()


@dataclass(frozen=True)
class Task:
    """The prediction task of a target column.

    ``classes`` are the class keys (classification only, in a stable order);
    ``positive`` indexes the positive class of a binary task (``None`` otherwise).
    """

    target: str
    kind: TaskKind
    classes: tuple[str, ...] = ()
    positive: int | None = None

    @property
    def is_classification(self) -> bool:
        return self.kind != "regression"

    def labels(self, frame: pd.DataFrame) -> np.ndarray:
        """Labels of ``frame``'s target: int codes (``-1`` missing/unknown) or floats (NaN missing)."""
        column = frame[self.target]
        if not self.is_classification:
            return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        index = {c: i for i, c in enumerate(self.classes)}
        return np.array([index.get(k, -1) if k is not None else -1 for k in label_keys(column)], dtype=int)

    def describe(self) -> str:
        if self.kind == "regression":
            return f"regression on '{self.target}'"
        if self.kind == "binary":
            return f"binary classification of '{self.target}' (positive class {self.classes[self.positive]!s})"
        return f"{len(self.classes)}-class classification of '{self.target}'"


def detect_task(
    schema: Schema,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    *,
    positive_class: Any = None,
    key: str = "audit.params.positive_class",
) -> Task:
    """Read the task from ``schema.target``'s kind and the real data.

    Categorical/boolean targets are classification; numeric/integer targets are
    classification when they hold at most :data:`FEW_VALUES` distinct whole numbers, and
    regression otherwise. The class list is what the real train and holdout hold.
    The positive class of a binary task is ``positive_class`` when given, else the class
    that reads as "1"/"true"/"yes"/"positive", else the second class in sorted order.

    Raises :class:`NoTaskError` when no task can be formed (no target, one real class,
    a datetime/text target) and :class:`ConfigError` naming ``key`` for an unknown
    ``positive_class``.
    """
    target = schema.target
    if target is None:
        raise NoTaskError("the schema has no target column (give one column the role 'target')")
    spec = schema.column(target)
    for name, frame in (("train", train), ("holdout", holdout)):
        if target not in frame.columns:
            raise DataError(f"The target column '{target}' is missing from the real {name} data.")
    if spec.kind in (ColumnKind.DATETIME, ColumnKind.ID, ColumnKind.TEXT):
        raise NoTaskError(f"the target '{target}' is a {spec.kind.value} column; "
                          "choose a categorical, boolean or numeric target")
    observed = pd.concat([train[target], holdout[target]], ignore_index=True).dropna()
    if spec.is_numeric:
        values = pd.to_numeric(observed, errors="coerce").dropna().to_numpy(dtype=float)
        distinct = np.unique(values)
        if distinct.size > FEW_VALUES or not np.all(np.mod(distinct, 1) == 0):
            if distinct.size < 2:
                raise NoTaskError(f"the target '{target}' is constant in the real data")
            return Task(target, "regression")
    keys = sorted({k for k in label_keys(observed) if k is not None}, key=_class_order)
    if len(keys) < 2:
        raise NoTaskError(f"the target '{target}' has fewer than two classes in the real data ({keys or 'none'})")
    if len(keys) > MAX_CLASSES:
        raise NoTaskError(
            f"the target '{target}' has {len(keys)} classes (at most {MAX_CLASSES} are audited); "
            "choose a target with fewer levels or group its levels"
        )
    if len(keys) > 2:
        return Task(target, "multiclass", tuple(keys))
    if positive_class is not None:
        wanted = label_key(positive_class)
        if wanted not in keys:
            raise ConfigError(
                f"{key}: '{positive_class}' is not a class of the target '{target}' (classes: {', '.join(keys)})."
                + did_you_mean(str(wanted), keys)
            )
        return Task(target, "binary", tuple(keys), keys.index(wanted))
    lowered = [k.lower() for k in keys]
    positive = next((lowered.index(p) for p in _POSITIVE_KEYS if p in lowered), 1)
    return Task(target, "binary", tuple(keys), positive)


def _class_order(k: str) -> tuple[int, float, str]:
    try:
        return (0, float(k), k)
    except ValueError:
        return (1, 0.0, k)


# -- features ---------------------------------------------------------------------------


def feature_columns(schema: Schema, target: str) -> list[str]:
    """The modelled columns other than ``target`` (identifiers and free text excluded)."""
    return [c.name for c in schema.modelled().columns if c.name != target]


def check_columns(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    """Raise :class:`DataError` naming the columns of ``columns`` that ``frame`` lacks."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"The {what} lacks the column(s) {', '.join(repr(c) for c in missing)} that the schema models; "
            f"give it the same columns as the real training data."
        )


def feature_frame(frame: pd.DataFrame, schema: Schema, columns: list[str]) -> pd.DataFrame:
    """A new frame of ``columns`` ready for :func:`make_model`.

    Numeric, integer and datetime columns become float64 (datetimes in nanoseconds since
    the epoch; missing stays NaN); categorical and boolean columns become strings
    (:func:`label_key`), with missing values as their own level ``"<missing>"``.
    """
    out: dict[str, Any] = {}
    for name in columns:
        spec = schema.column(name)
        col = frame[name]
        if spec.kind == ColumnKind.DATETIME:
            stamps = pd.to_datetime(col, errors="coerce")
            out[name] = np.where(stamps.isna(), np.nan, stamps.astype("int64").astype(float))
        elif spec.is_numeric:
            out[name] = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        else:
            out[name] = np.array([MISSING_LEVEL if k is None else k for k in label_keys(col)], dtype=object)
    return pd.DataFrame(out, index=frame.index)


def cap_rows(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    """At most ``max_rows`` rows of ``frame`` drawn uniformly without replacement (a new frame)."""
    if len(frame) <= max_rows:
        return frame
    return frame.sample(n=max_rows, random_state=seed).sort_index()


# -- the model zoo ----------------------------------------------------------------------


def model_label(name: str, task: Task) -> str:
    """A human name for model ``name`` on ``task``."""
    if name == "gradient_boosting":
        return "gradient boosting"
    return "logistic regression" if task.is_classification else "linear regression"


def check_model_names(names: Any, key: str) -> list[str]:
    """Validate a list of model names; duplicates (and the logistic/linear alias) collapse."""
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list | tuple) or not names:
        raise ConfigError(f"{key}: expected a non-empty list of model names from {', '.join(MODEL_NAMES)}; got {names!r}.")
    out: list[str] = []
    for name in names:
        if name not in MODEL_NAMES:
            raise ConfigError(
                f"{key}: unknown model '{name}'." + did_you_mean(str(name), MODEL_NAMES)
                + f" Choose from {', '.join(MODEL_NAMES)}."
            )
        canonical = "logistic" if name == "linear" else name
        if canonical not in out:
            out.append(canonical)
    return out


def make_model(name: str, task: Task, schema: Schema, columns: list[str], seed: int) -> Pipeline:
    """An unfitted scikit-learn pipeline that takes :func:`feature_frame` output.

    - ``logistic``/``linear``: median imputation with missing-value indicators and
      standardisation for numeric columns, one-hot encoding (unseen levels ignored, rare
      levels pooled beyond 50) for categorical ones; then ``LogisticRegression`` or
      ``Ridge(alpha=1)`` (the small penalty keeps collinear one-hot blocks stable).
    - ``gradient_boosting``: numeric columns as they are (HistGradientBoosting handles NaN
      natively), categorical columns ordinal-encoded and declared categorical (unseen
      levels become missing); then ``HistGradientBoosting{Classifier,Regressor}``.
    """
    numeric = [c for c in columns if schema.column(c).is_numeric]
    discrete = [c for c in columns if not schema.column(c).is_numeric]
    if name in ("logistic", "linear"):
        pre = ColumnTransformer(
            [
                ("numeric", Pipeline([("impute", SimpleImputer(strategy="median", add_indicator=True)),
                                      ("scale", StandardScaler())]), numeric),
                ("discrete", OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=_MAX_ONEHOT_LEVELS),
                 discrete),
            ]
        )
        head = LogisticRegression(max_iter=2000) if task.is_classification else Ridge(alpha=1.0)
        return Pipeline([("features", pre), ("model", head)])
    if name == "gradient_boosting":
        pre = ColumnTransformer(
            [
                ("numeric", "passthrough", numeric),
                ("discrete", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                            max_categories=_MAX_GBM_LEVELS), discrete),
            ]
        )
        is_categorical = [False] * len(numeric) + [True] * len(discrete)
        gbm_cls = HistGradientBoostingClassifier if task.is_classification else HistGradientBoostingRegressor
        head = gbm_cls(categorical_features=is_categorical if discrete else None, random_state=seed)
        return Pipeline([("features", pre), ("model", head)])
    raise ValueError(f"unknown model {name!r}")  # names are validated by check_model_names


@dataclass
class FittedModel:
    """A fitted downstream model; ``degenerate`` says why it is a constant scorer, if it is."""

    name: str
    label: str
    estimator: Any
    n_train: int
    degenerate: str | None = None


def fit_model(
    name: str, task: Task, schema: Schema, columns: list[str], frame: pd.DataFrame, seed: int, what: str
) -> FittedModel:
    """Fit model ``name`` on the rows of ``frame`` with a usable label.

    ``what`` names the training data in messages ("real train", "synthetic").
    Raises :class:`NoTaskError` when no row has a usable label.
    """
    y = task.labels(frame)
    usable = (y >= 0) if task.is_classification else np.isfinite(y)
    if not usable.any():
        raise NoTaskError(f"no {what} row has a usable value of the target '{task.target}'")
    X = feature_frame(frame.loc[usable], schema, columns)
    y = y[usable]
    label = model_label(name, task)
    if task.is_classification and np.unique(y).size < 2:
        only = task.classes[int(y[0])]
        dummy = DummyClassifier(strategy="prior").fit(X, y)
        return FittedModel(name, label, dummy, int(usable.sum()),
                           degenerate=f"the {what} target has a single class ({only}); no classifier can be trained")
    estimator = make_model(name, task, schema, columns, seed).fit(X, y)
    return FittedModel(name, label, estimator, int(usable.sum()))


def fit_models(
    jobs: Sequence[tuple[str, Task, Schema, list[str], pd.DataFrame, int, str]], n_jobs: int
) -> list[FittedModel]:
    """:func:`fit_model` for each argument tuple of ``jobs``, up to ``n_jobs`` fits at a time,
    each fit single-threaded; results in the order of ``jobs`` (the first error is raised).

    Why not one fit after the other on all cores: HistGradientBoosting synchronises its
    OpenMP threads thousands of times per fit, and on a machine shared with other processes
    every barrier waits for a descheduled thread -- a 50,000-row fit took 13 s on two
    threads against 1.1 s on one while one other process kept a core busy. Separate
    single-threaded fits use the cores without barriers (:func:`synth.cpus.map_single_threaded`).
    Fits are seeded, so a model does not depend on the thread that fits it (and on the
    audits' test data the predictions equal those of multi-threaded fits).
    """
    return map_single_threaded(lambda args: fit_model(*args), jobs, n_jobs)


def predict_scores(model: FittedModel, X: pd.DataFrame, task: Task) -> np.ndarray:
    """Scores of ``model`` on feature frame ``X``: ``(n, k)`` probabilities or ``(n,)`` predictions."""
    if not task.is_classification:
        return np.asarray(model.estimator.predict(X), dtype=float)
    proba = np.asarray(model.estimator.predict_proba(X), dtype=float)
    full = np.zeros((len(X), len(task.classes)), dtype=float)
    full[:, np.asarray(model.estimator.classes_, dtype=int)] = proba
    return full


# -- metrics on holdout scores ----------------------------------------------------------


def _roc_auc(truth: np.ndarray, score: np.ndarray) -> float:
    # Mann-Whitney form with average ranks for ties: equal to sklearn's roc_auc_score,
    # without its input validation, which dominates the cost of a bootstrap replicate.
    n_pos = int(truth.sum())
    n_neg = truth.size - n_pos
    ranks = stats.rankdata(score)
    return float((ranks[truth].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _average_precision(truth: np.ndarray, score: np.ndarray) -> float:
    # sum over distinct thresholds of (recall step) x precision: sklearn's
    # average_precision_score, computed directly for the same reason as _roc_auc.
    order = np.argsort(-score, kind="mergesort")
    score, truth = score[order], truth[order]
    last = np.r_[np.nonzero(np.diff(score))[0], truth.size - 1]
    tp = np.cumsum(truth)[last]
    precision = tp / (last + 1)
    recall_step = np.diff(np.r_[0, tp]) / tp[-1]
    return float(np.sum(recall_step * precision))


def _per_class(y: np.ndarray, scores: np.ndarray, task: Task, score_fn: Callable[[np.ndarray, np.ndarray], float]) -> float:
    if task.kind == "binary":
        truth = y == task.positive
        if truth.all() or not truth.any():
            return float("nan")
        return score_fn(truth, scores[:, task.positive])
    values = []
    for c in range(len(task.classes)):
        truth = y == c
        if truth.any() and not truth.all():
            values.append(score_fn(truth, scores[:, c]))
    return float(np.mean(values)) if values else float("nan")


def auroc(y: np.ndarray, scores: np.ndarray, task: Task) -> float:
    """AUROC of the positive class (binary) or macro one-vs-rest AUROC over the classes
    present in ``y`` (multiclass); NaN when ``y`` holds a single class.

    ``y``: ``(n,)`` int codes; ``scores``: ``(n, k)`` class probabilities.
    """
    return _per_class(y, scores, task, _roc_auc)


def auprc(y: np.ndarray, scores: np.ndarray, task: Task) -> float:
    """Average precision (area under the precision-recall curve) of the positive class,
    or its macro one-vs-rest average over the classes present in ``y``."""
    return _per_class(y, scores, task, _average_precision)


def r2(y: np.ndarray, predictions: np.ndarray, task: Task) -> float:
    """Coefficient of determination R² (1 = perfect, 0 = the holdout mean, can be < 0);
    NaN when ``y`` is constant."""
    total = float(np.sum((y - y.mean()) ** 2))
    if y.size < 2 or total == 0:
        return float("nan")
    return 1.0 - float(np.sum((y - predictions) ** 2)) / total


def mae(y: np.ndarray, predictions: np.ndarray, task: Task) -> float:
    """Mean absolute error in the target's units."""
    return float(np.mean(np.abs(y - predictions)))


# -- paired bootstrap over holdout rows -------------------------------------------------


def resamples(n_items: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """``n_boot`` arrays of ``n_items`` row indices drawn with replacement.

    Every statistic computed on the same ``(n_items, n_boot, seed)`` sees the same
    resamples, which is what makes a difference of two statistics a *paired* bootstrap.
    """
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        yield rng.integers(0, n_items, n_items)


def resample_weights(n_items: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """The resamples of :func:`resamples` (same ``n_items, n_boot, seed``) as row
    multiplicities: ``n_boot`` float arrays of shape (n_items,) summing to ``n_items``."""
    for idx in resamples(n_items, n_boot, seed):
        yield np.bincount(idx, minlength=n_items).astype(float)


class _Ranked:
    """One score vector sorted once, so that AUROC and average precision of any resample,
    given as row multiplicities, cost O(n) instead of a sort."""

    def __init__(self, truth: np.ndarray, score: np.ndarray) -> None:
        self.order = np.argsort(score, kind="mergesort")
        s = score[self.order]
        self.truth = truth[self.order].astype(float)
        self.group = np.r_[0, np.cumsum(s[1:] != s[:-1])] if s.size else np.zeros(0, dtype=int)
        self.n_groups = int(self.group[-1]) + 1 if s.size else 0

    def _per_group(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positive weight, total weight) per tie group of scores, lowest score first."""
        w = weights[self.order]
        pos = np.bincount(self.group, weights=w * self.truth, minlength=self.n_groups)
        return pos, np.bincount(self.group, weights=w, minlength=self.n_groups)

    def auroc(self, weights: np.ndarray) -> float:
        # Mann-Whitney with ties counted half, as _roc_auc on the resampled rows.
        pos, total = self._per_group(weights)
        neg = total - pos
        n_pos, n_neg = pos.sum(), neg.sum()
        if n_pos <= 0 or n_neg <= 0:
            return float("nan")
        below = np.cumsum(neg) - neg
        return float((pos * (below + 0.5 * neg)).sum() / (n_pos * n_neg))

    def average_precision(self, weights: np.ndarray) -> float:
        # As _average_precision on the resampled rows: thresholds from the highest score down.
        pos, total = self._per_group(weights)
        present = total[::-1] > 0
        pos, total = pos[::-1][present], total[::-1][present]
        tp = np.cumsum(pos)
        if tp.size == 0 or tp[-1] <= 0:
            return float("nan")
        return float(np.sum(pos / tp[-1] * tp / np.cumsum(total)))


class ResampledMetrics:
    """The two metrics of a task for one model's holdout scores, on bootstrap resamples given
    as row multiplicities (see :func:`resample_weights`).

    Classification: :func:`auroc` and :func:`auprc`; regression: :func:`r2` and :func:`mae`.
    On multiplicities ``w`` the values equal those functions on the resampled rows (up to
    floating-point summation order), at O(n) per resample: the scores are sorted once.
    ``y``: (n,) labels as in those functions; ``scores``: (n, k) probabilities or (n,) predictions.
    """

    def __init__(self, y: np.ndarray, scores: np.ndarray, task: Task) -> None:
        self.task = task
        if task.kind == "binary":
            self.ranked = [_Ranked(y == task.positive, scores[:, task.positive])]
        elif task.is_classification:
            self.ranked = [_Ranked(y == c, scores[:, c]) for c in range(len(task.classes))]
        else:
            self.y, self.pred = np.asarray(y, dtype=float), np.asarray(scores, dtype=float)

    def values(self, weights: np.ndarray) -> tuple[float, float]:
        """(AUROC, AUPRC) or (R², MAE) on the resample with row multiplicities ``weights`` (n,)."""
        if self.task.is_classification:
            pairs = [(r.auroc(weights), r.average_precision(weights)) for r in self.ranked]
            pairs = [p for p in pairs if np.isfinite(p[0])]  # classes present with both outcomes
            if not pairs:
                return float("nan"), float("nan")
            return float(np.mean([p[0] for p in pairs])), float(np.mean([p[1] for p in pairs]))
        total = weights.sum()
        mean = float((weights * self.y).sum() / total)
        spread = float((weights * (self.y - mean) ** 2).sum())
        resid = self.y - self.pred
        r2_value = 1.0 - float((weights * resid**2).sum()) / spread if total >= 2 and spread > 0 else float("nan")
        return r2_value, float((weights * np.abs(resid)).sum() / total)


def format_estimate(value: float, ci: Interval | None, digits: int = 3) -> str:
    """``"0.812 [0.781, 0.842]"`` for table cells; ``"n/a"`` for NaN."""
    if value is None or not np.isfinite(value):
        return "n/a"
    text = f"{value:.{digits}f}"
    if ci is not None and np.isfinite(ci.low) and np.isfinite(ci.high):
        text += f" [{ci.low:.{digits}f}, {ci.high:.{digits}f}]"
    return text
