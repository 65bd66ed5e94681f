"""Aggregate statistics with intervals, so that a table can carry a conclusion.

The field's standard (Agarwal et al., 2021, "Deep RL at the Edge of the Statistical Precipice",
the `rliable` library) is a stratified bootstrap: resample the runs of each task independently,
recompute the aggregate, and read the interval off the percentiles. textgym's unit is an
*episode* (a test variation, under one training seed when several were trained), and tasks are
the strata. Tasks may hold different numbers of episodes (ScienceWorld tasks have different
numbers of test variations), which `rliable`'s rectangular score matrices cannot express, so the
resampling is `scipy.stats.bootstrap` with one sample per task (scipy resamples each sample
independently: exactly a stratified bootstrap). The aggregates are rliable's:

- **mean**: the mean over tasks of the per-task mean score (each task counts once, as in the papers);
- **IQM**: the interquartile mean of all episode scores (rliable's `aggregate_iqm`);
- **paired difference** to another agent on the same episodes: the mean over tasks of the
  per-task mean of (score A - score B);
- **probability of improvement**: the mean over tasks of P(A > B) + P(A = B) / 2 on paired
  episodes (rliable's P(X > Y) compares unpaired runs; here both agents played the same
  episode, so the pairs are compared).

>>> scores = {"a": [0.0, 100.0], "b": [50.0, 50.0, 50.0]}
>>> round(mean_over_tasks(scores).estimate, 1)
50.0
>>> mean_over_tasks({"a": [30.0, 30.0]}).low
30.0

A task with a single episode has no spread to resample, so no interval can be read off: the
interval is undefined (NaN, printed `[n/a]`) rather than a point that would look certain.

>>> print(f"{mean_over_tasks({'a': [30.0], 'b': [0.0, 100.0]})}")
40.0 [n/a]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
RESAMPLES = 2000
SEED = 0


@dataclass(frozen=True)
class Interval:
    """A point estimate with its confidence interval."""

    estimate: float
    low: float
    high: float

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    @property
    def defined(self) -> bool:
        """False when some task had a single episode (see the module doc)."""
        return not (np.isnan(self.low) or np.isnan(self.high))

    def to_dict(self) -> dict[str, float]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high}

    def __format__(self, spec: str) -> str:
        spec = spec or ".1f"
        if not self.defined:
            return f"{self.estimate:{spec}} [n/a]"
        return f"{self.estimate:{spec}} [{self.low:{spec}}, {self.high:{spec}}]"


ScoresByTask = Mapping[str, Sequence[float]]


def _samples(scores: ScoresByTask) -> list[np.ndarray]:
    samples = [np.asarray(values, dtype=float) for values in scores.values()]
    if not samples or any(sample.size == 0 for sample in samples):
        raise ValueError("Every task needs at least one episode score to compute an interval.")
    return samples


def _task_means(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean([np.mean(sample, axis=axis) for sample in samples], axis=0)


def _iqm(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
    return stats.trim_mean(np.concatenate(samples, axis=axis), 0.25, axis=axis)


def stratified_bootstrap(scores: ScoresByTask, statistic: Callable[..., np.ndarray],
                         confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
                         seed: int = SEED) -> Interval:
    """`statistic(*per_task_samples, axis=-1)` with a percentile interval from resampling the
    episodes of each task independently (deterministic for a given `seed`)."""
    samples = _samples(scores)
    estimate = float(statistic(*samples, axis=-1))
    if any(sample.size == 1 for sample in samples):
        return Interval(estimate, float("nan"), float("nan"))  # one episode: no spread to resample
    if all(np.all(sample == sample[0]) for sample in samples):
        return Interval(estimate, estimate, estimate)  # nothing to resample: the interval is a point
    result = stats.bootstrap(samples, statistic, n_resamples=resamples, confidence_level=confidence,
                             method="percentile", vectorized=True, paired=False, axis=-1,
                             rng=np.random.default_rng(seed))
    return Interval(estimate, float(result.confidence_interval.low), float(result.confidence_interval.high))


def mean_over_tasks(scores: ScoresByTask, **kwargs) -> Interval:
    """Mean over tasks of the per-task mean score, with its stratified-bootstrap interval."""
    return stratified_bootstrap(scores, _task_means, **kwargs)


def interquartile_mean(scores: ScoresByTask, **kwargs) -> Interval:
    """IQM of all episode scores (the middle 50%), with its stratified-bootstrap interval."""
    return stratified_bootstrap(scores, _iqm, **kwargs)


def paired_difference(scores_a: ScoresByTask, scores_b: ScoresByTask, **kwargs) -> Interval:
    """Mean over tasks of the per-episode difference A - B (episodes aligned by position)."""
    return mean_over_tasks(_differences(scores_a, scores_b, lambda a, b: a - b), **kwargs)


def probability_of_improvement(scores_a: ScoresByTask, scores_b: ScoresByTask, **kwargs) -> Interval:
    """Mean over tasks of P(A > B) + P(A = B) / 2 on paired episodes, with its interval."""
    wins = _differences(scores_a, scores_b, lambda a, b: (a > b) + 0.5 * (a == b))
    return mean_over_tasks(wins, **kwargs)


def _differences(scores_a: ScoresByTask, scores_b: ScoresByTask,
                 combine: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> dict[str, np.ndarray]:
    if set(scores_a) != set(scores_b):
        different = sorted(set(scores_a) ^ set(scores_b))
        raise ValueError(f"The agents were evaluated on different tasks: {different}.")
    out = {}
    for task in scores_a:
        a, b = np.asarray(scores_a[task], dtype=float), np.asarray(scores_b[task], dtype=float)
        if a.shape != b.shape:
            raise ValueError(f"{task}: {a.size} episodes against {b.size}; paired statistics need the same "
                             "episodes.")
        out[task] = combine(a, b).astype(float)
    return out
