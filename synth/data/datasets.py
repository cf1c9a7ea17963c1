"""Built-in real clinical datasets that ship inside installed dependencies (no download).

==============  =====  =======  ==========================================================
name            rows   columns  what
==============  =====  =======  ==========================================================
actg175         2139   27       ACTG 175 HIV trial (Hammer et al., NEJM 1996); CSV inside
                                lifelines. Target ``cens``; sensitive ``race``, ``gender``.
breast_cancer   569    31       Breast Cancer Wisconsin (Diagnostic), inside scikit-learn.
                                Target ``diagnosis`` ('malignant'/'benign').
gbsg2           686    10       German Breast Cancer Study Group 2 trial; CSV inside
                                lifelines. Target ``cens`` (recurrence or death observed).
==============  =====  =======  ==========================================================

Load one with :func:`load_dataset` (or ``load_table("builtin:NAME")``); each comes with a
:class:`DatasetInfo` giving its provenance, licence and suggested roles, which
:meth:`DatasetInfo.role_arguments` turns into :func:`synth.data.infer.infer_schema`
keyword arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import pandas as pd

from synth.errors import DataError, did_you_mean


@dataclass(frozen=True)
class DatasetInfo:
    """Provenance and suggested roles of a dataset.

    ``rows``/``columns`` are the shape :func:`load_dataset` returns (``rows`` is None for
    an extract whose size depends on the source, e.g. the MIMIC-IV cohort).
    ``column_meanings`` maps column name -> meaning and value codes.
    """

    name: str
    title: str
    description: str
    rows: int | None
    columns: int
    source: str
    licence: str
    target: str | None
    sensitive: tuple[str, ...] = ()
    quasi_identifiers: tuple[str, ...] = ()
    identifiers: tuple[str, ...] = ()
    group: str | None = None  # the column naming the person a row belongs to, if rows repeat people
    prompt: str | None = None  # the text that conditions an image generator (image data sets)
    column_meanings: dict[str, str] = field(default_factory=dict)

    def role_arguments(self) -> dict[str, Any]:
        """``target``, ``sensitive``, ``quasi_identifiers``, ``identifiers``, ``group``, ``prompt`` for ``infer_schema``."""
        return {
            "target": self.target,
            "sensitive": self.sensitive,
            "quasi_identifiers": self.quasi_identifiers,
            "identifiers": self.identifiers,
            "group": self.group,
            "prompt": self.prompt,
        }


_ACTG175_MEANINGS = {
    "pidnum": "patient id",
    "age": "age at baseline, years",
    "wtkg": "weight at baseline, kg",
    "hemo": "haemophilia (0 = no, 1 = yes)",
    "homo": "homosexual activity (0 = no, 1 = yes)",
    "drugs": "history of intravenous drug use (0 = no, 1 = yes)",
    "karnof": "Karnofsky score (0-100)",
    "oprior": "non-zidovudine antiretroviral therapy before the trial (0 = no, 1 = yes)",
    "z30": "zidovudine in the 30 days before treatment (0 = no, 1 = yes)",
    "zprior": "zidovudine before treatment (always 1 in this table)",
    "preanti": "days of antiretroviral therapy before the trial",
    "race": "race (0 = white, 1 = non-white)",
    "gender": "gender (0 = female, 1 = male)",
    "str2": "antiretroviral history (0 = naive, 1 = experienced)",
    "strat": "antiretroviral history stratum (1 = naive, 2 = 1-52 weeks, 3 = over 52 weeks)",
    "symptom": "symptomatic at baseline (0 = no, 1 = yes)",
    "treat": "treatment (0 = zidovudine only, 1 = other arms)",
    "offtrt": "off treatment before 96 +/- 5 weeks (0 = no, 1 = yes)",
    "cd40": "CD4 count at baseline, cells/mm3",
    "cd420": "CD4 count at 20 +/- 5 weeks",
    "cd496": "CD4 count at 96 +/- 5 weeks (missing when not measured)",
    "r": "CD4 count at 96 weeks observed (0 = missing, 1 = observed)",
    "cd80": "CD8 count at baseline",
    "cd820": "CD8 count at 20 +/- 5 weeks",
    "cens": "primary event observed: CD4 drop of at least 50 %, AIDS-defining event or death (1) vs censored (0)",
    "days": "days to the primary event or censoring",
    "arms": "arm (0 = zidovudine, 1 = zidovudine + didanosine, 2 = zidovudine + zalcitabine, 3 = didanosine)",
}

_GBSG2_MEANINGS = {
    "horTh": "hormonal therapy (no / yes)",
    "age": "age, years",
    "menostat": "menopausal status (Pre / Post)",
    "tsize": "tumour size, mm",
    "tgrade": "tumour grade (I / II / III)",
    "pnodes": "number of positive lymph nodes",
    "progrec": "progesterone receptor, fmol",
    "estrec": "oestrogen receptor, fmol",
    "time": "recurrence-free survival time, days",
    "cens": "recurrence or death observed (1) vs censored (0)",
}


def _lifelines_csv(filename: str, **read_csv: Any) -> pd.DataFrame:
    with resources.as_file(resources.files("lifelines.datasets") / filename) as path:
        return pd.read_csv(path, **read_csv)


def _load_actg175() -> pd.DataFrame:
    # The CSV was written by R: its first, unnamed column is R's row names 1..n, not data.
    frame = _lifelines_csv("ACTG175.csv", index_col=0).reset_index(drop=True)
    # CD4 at 96 weeks is a count with missing entries: keep it integer rather than float.
    frame["cd496"] = frame["cd496"].astype("Int64")
    return frame


def _load_gbsg2() -> pd.DataFrame:
    return _lifelines_csv("gbsg2.csv")


def _load_breast_cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.data.copy()
    # snake_case names ("mean radius" -> "mean_radius") so configs can name them without quoting
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    frame["diagnosis"] = [str(bunch.target_names[t]) for t in bunch.target]
    return frame


_REGISTRY: dict[str, tuple[DatasetInfo, Callable[[], pd.DataFrame]]] = {
    "actg175": (
        DatasetInfo(
            name="actg175",
            title="ACTG 175: zidovudine, didanosine and zalcitabine in HIV-infected adults",
            description=(
                "Baseline covariates, CD4/CD8 counts and outcome of 2139 participants of AIDS Clinical "
                "Trials Group study 175 (Hammer et al., N Engl J Med 1996;335:1081-90). The R row-name "
                "column of the shipped CSV is not a variable and becomes the index; every variable is "
                "kept. Target: 'cens' (the primary event: CD4 decline of at least 50 %, an AIDS-defining "
                "event or death, 1, vs censored, 0)."
            ),
            rows=2139,
            columns=27,
            source="lifelines/datasets/ACTG175.csv (from the R package speff2trial)",
            licence="GPL-2 (speff2trial), redistributed with lifelines (MIT)",
            target="cens",
            sensitive=("race", "gender"),
            quasi_identifiers=("age", "race", "gender", "wtkg"),
            identifiers=("pidnum",),
            column_meanings=_ACTG175_MEANINGS,
        ),
        _load_actg175,
    ),
    "breast_cancer": (
        DatasetInfo(
            name="breast_cancer",
            title="Breast Cancer Wisconsin (Diagnostic)",
            description=(
                "30 features of cell nuclei measured on digitised fine-needle aspirate images of breast "
                "masses (mean, standard error and worst value of ten measurements; names in snake_case), "
                "and the diagnosis. Target: 'diagnosis' ('malignant' / 'benign'). No demographic column, "
                "so no sensitive attribute."
            ),
            rows=569,
            columns=31,
            source="scikit-learn sklearn.datasets.load_breast_cancer (UCI ML repository, Wolberg, Street, Mangasarian)",
            licence="CC BY 4.0 (UCI), shipped with scikit-learn (BSD-3-Clause)",
            target="diagnosis",
        ),
        _load_breast_cancer,
    ),
    "gbsg2": (
        DatasetInfo(
            name="gbsg2",
            title="GBSG2: German Breast Cancer Study Group 2 trial",
            description=(
                "686 node-positive breast cancer patients of a randomised 2x2 trial of hormonal treatment "
                "and chemotherapy duration (Schumacher et al., J Clin Oncol 1994;12:2086-93). Target: "
                "'cens' (recurrence or death observed). No protected attribute is recorded other than "
                "age, so no sensitive attribute is suggested."
            ),
            rows=686,
            columns=10,
            source="lifelines/datasets/gbsg2.csv (from the R package TH.data)",
            licence="GPL-2 (TH.data), redistributed with lifelines (MIT)",
            target="cens",
            quasi_identifiers=("age", "menostat"),
            column_meanings=_GBSG2_MEANINGS,
        ),
        _load_gbsg2,
    ),
}


def list_datasets() -> list[DatasetInfo]:
    """The built-in datasets, sorted by name."""
    return [info for _, (info, _) in sorted(_REGISTRY.items())]


def dataset_info(name: str) -> DatasetInfo:
    """The :class:`DatasetInfo` of ``name``; :class:`DataError` listing the choices if unknown."""
    return _entry(name)[0]


def load_dataset(name: str) -> tuple[pd.DataFrame, DatasetInfo]:
    """Load the built-in dataset ``name``: a (rows, columns) frame with a RangeIndex, and its info."""
    info, loader = _entry(name)
    frame = loader()
    if frame.shape != (info.rows, info.columns):  # the shipped file changed under us
        raise DataError(
            f"Built-in dataset '{name}' has shape {frame.shape}, expected ({info.rows}, {info.columns}): "
            "the copy installed with its package differs from the one synth knows; reinstall that package."
        )
    return frame.reset_index(drop=True), info


def _entry(name: str) -> tuple[DatasetInfo, Callable[[], pd.DataFrame]]:
    if name not in _REGISTRY:
        names = sorted(_REGISTRY)
        raise DataError(
            f"Unknown built-in dataset '{name}': available are {', '.join(names)} (use 'builtin:NAME')."
            + did_you_mean(name, names)
        )
    return _REGISTRY[name]
