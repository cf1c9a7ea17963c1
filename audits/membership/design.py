"""Who is evaluated, against which reference sample: the membership audit's design.

Members are training persons, non-members holdout persons (a person is a row unless a
group column says otherwise, see :mod:`synth.neighbors.persons`). Every attack needs a
*reference* sample of the population that is disjoint from the record it scores, and the
old design spent half the holdout on it, leaving few non-members (1,000 at most), so TPR at
0.1 % FPR could never be resolved. Here the holdout is *cross-fitted* instead:

- the holdout persons are cut at random into ``n_folds`` folds (default 5);
- every holdout person is a non-member (up to ``max_eval`` of them), scored against a
  reference made of the *other* folds;
- an equal number of training persons, drawn at random, are the members; each is given a
  fold at random and scored against the same reference as that fold's non-members.

So members and non-members of a fold are scored against one and the same reference
sample of ``(n_folds - 1) / n_folds`` of the holdout, which never holds the scored person;
a member and a non-member of a fold are exchangeable when the generator did not memorise.
The lowest false-positive rate the evaluation resolves (with at least 10 false positives
allowed) is ``10 / n_nonmembers``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synth.neighbors.persons import Persons


@dataclass(frozen=True)
class Evaluation:
    """The evaluated persons and their folds.

    ``members`` / ``nonmembers``: person codes (see :class:`Persons`), equal counts;
    ``member_fold`` / ``nonmember_fold``: fold of each; ``holdout_fold``: (n_holdout_persons,)
    fold of every holdout person (indexed by ``code - persons.n_train``); ``n_folds``.
    """

    members: np.ndarray
    nonmembers: np.ndarray
    member_fold: np.ndarray
    nonmember_fold: np.ndarray
    holdout_fold: np.ndarray
    n_folds: int

    @property
    def persons(self) -> np.ndarray:
        """Members then non-members, (2 n,) person codes."""
        return np.r_[self.members, self.nonmembers]

    @property
    def folds(self) -> np.ndarray:
        return np.r_[self.member_fold, self.nonmember_fold]

    @property
    def labels(self) -> np.ndarray:
        return np.r_[np.ones(self.members.size, dtype=int), np.zeros(self.nonmembers.size, dtype=int)]

    @property
    def lowest_reliable_fpr(self) -> float:
        """The lowest FPR with at least 10 false positives allowed on these non-members."""
        return 10.0 / self.nonmembers.size if self.nonmembers.size else float("nan")


def cross_fitted(persons: Persons, *, max_eval: int, n_folds: int, seed: int) -> Evaluation:
    """Draw the evaluation (see the module docstring); ``seed`` fixes every random choice."""
    rng = np.random.default_rng([seed, 0x6D656D62])
    n_h, n_t = persons.n_holdout, persons.n_train
    holdout_fold = np.resize(np.arange(n_folds), n_h)[rng.permutation(n_h)]
    n_eval = min(max_eval, n_h, n_t)
    nonmembers = np.sort(rng.choice(n_h, n_eval, replace=False)) + n_t
    members = np.sort(rng.choice(n_t, n_eval, replace=False))
    member_fold = np.resize(np.arange(n_folds), n_eval)[rng.permutation(n_eval)]
    return Evaluation(members, nonmembers, member_fold, holdout_fold[nonmembers - n_t], holdout_fold, n_folds)


def reference_rows(persons: Persons, evaluation: Evaluation, fold: int) -> np.ndarray:
    """Positions (into the holdout rows) of the reference sample of ``fold``: every holdout
    row whose person is in another fold."""
    return np.flatnonzero(evaluation.holdout_fold[persons.holdout - persons.n_train] != fold)


def rows_of(persons: Persons, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pool row positions (training rows first, then holdout rows) of the persons ``codes``,
    and for each row the position of its person within ``codes``."""
    pool = persons.pool
    where = np.full(persons.n, -1, dtype=np.int64)
    where[np.asarray(codes)] = np.arange(len(codes))
    pos = where[pool]
    rows = np.flatnonzero(pos >= 0)
    return rows, pos[rows]
