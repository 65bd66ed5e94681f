"""Intervals on inputs whose bootstrap distribution can be worked out by hand."""

import pytest

from textgym.evaluation.statistics import (
    interquartile_mean,
    mean_over_tasks,
    paired_difference,
    probability_of_improvement,
)


def test_one_task_two_episodes_interval_spans_the_resampled_means():
    # Resampling [0, 100] gives means 0 (p=1/4), 50 (1/2), 100 (1/4): the 95% interval is [0, 100].
    interval = mean_over_tasks({"a": [0.0, 100.0]})
    assert (interval.estimate, interval.low, interval.high) == (50.0, 0.0, 100.0)


def test_strata_are_resampled_separately():
    # Task b never varies, so the overall mean is (mean_a + 100) / 2 in {50, 75, 100}: a pooled
    # bootstrap would mix b's episodes into a and could reach below 50.
    interval = mean_over_tasks({"a": [0.0, 100.0], "b": [100.0, 100.0, 100.0]})
    assert (interval.estimate, interval.low, interval.high) == (75.0, 50.0, 100.0)


def test_each_task_counts_once_whatever_its_episode_count():
    assert mean_over_tasks({"a": [0.0], "b": [100.0] * 9}).estimate == 50.0


def test_a_task_with_one_episode_has_no_interval():
    # One episode has no spread to resample: a point interval would look certain, so it is undefined.
    interval = mean_over_tasks({"a": [30.0], "b": [0.0, 100.0]})
    assert interval.estimate == 40.0 and not interval.defined
    assert f"{interval}" == "40.0 [n/a]"
    assert not paired_difference({"t": [1.0]}, {"t": [0.0]}).defined


def test_constant_scores_give_a_point_interval():
    interval = mean_over_tasks({"a": [100.0] * 4, "b": [0.0] * 2})
    assert (interval.low, interval.high) == (50.0, 50.0)


def test_same_seed_same_interval_and_more_episodes_narrower():
    few = {"a": [0.0, 100.0] * 2, "b": [0.0, 0.0, 100.0, 100.0]}
    many = {task: values * 10 for task, values in few.items()}
    assert mean_over_tasks(few) == mean_over_tasks(few)
    assert mean_over_tasks(many).half_width < mean_over_tasks(few).half_width


def test_iqm_ignores_the_extreme_quarters():
    scores = {"a": [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 1000.0]}
    assert interquartile_mean(scores).estimate == pytest.approx(35.0)


def test_paired_difference_and_probability_of_improvement():
    a = {"t": [100.0, 100.0, 0.0, 50.0]}
    b = {"t": [0.0, 100.0, 0.0, 0.0]}
    assert paired_difference(a, b).estimate == pytest.approx(37.5)
    # wins on episodes 1 and 4, ties on 2 and 3: (2 + 0.5 * 2) / 4
    assert probability_of_improvement(a, b).estimate == pytest.approx(0.75)
    assert paired_difference(a, a).low == paired_difference(a, a).high == 0.0


def test_paired_statistics_refuse_different_episodes():
    with pytest.raises(ValueError, match="different tasks"):
        paired_difference({"t": [1.0]}, {"u": [1.0]})
    with pytest.raises(ValueError, match="same episodes"):
        paired_difference({"t": [1.0, 2.0]}, {"t": [1.0]})


def test_no_episodes_is_a_clear_error():
    with pytest.raises(ValueError, match="at least one episode"):
        mean_over_tasks({"t": []})
    with pytest.raises(ValueError, match="at least one episode"):
        mean_over_tasks({})
