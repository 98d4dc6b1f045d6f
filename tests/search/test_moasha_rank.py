"""MOASHA's ranking and per-configuration decisions on hand-made rung tables (no Ray)."""

from __future__ import annotations

import math

import pytest

from ambientsweep.search.moasha_rank import (
    CONTINUE,
    STOP,
    MultiObjectiveRungs,
    crowding_distance,
    keep_count,
    non_dominated_fronts,
    rank,
    rungs_from,
)

MIN2 = ["min", "min"]


def test_fronts_of_a_hand_made_table() -> None:
    pts = [(1, 5), (2, 2), (5, 1), (3, 3), (6, 6), (2, 2)]
    # (3,3) is dominated by (2,2) only; (6,6) by everything else; the copies of (2,2) share.
    assert non_dominated_fronts(pts) == [[0, 1, 2, 5], [3], [4]]


def test_crowding_distance_follows_deb_2002() -> None:
    pts = [(0.0, 4.0), (1.0, 2.0), (3.0, 1.0), (4.0, 0.0)]
    d = crowding_distance(pts, [0, 1, 2, 3])
    assert math.isinf(d[0]) and math.isinf(d[3])
    # point 1: (3 - 0)/4 on f1 + (4 - 1)/4 on f2; point 2: (4 - 1)/4 + (2 - 0)/4
    assert d[1] == pytest.approx(1.5) and d[2] == pytest.approx(1.25)


def test_rank_orders_fronts_then_crowding_then_key() -> None:
    table = {"a": (0.0, 4.0), "b": (1.0, 2.0), "c": (3.0, 1.0), "d": (4.0, 0.0),
             "e": (4.0, 4.0)}
    # boundary a, d (infinite, by key), then b (1.5) before c (1.25); e is dominated.
    assert rank(table, MIN2) == ["a", "d", "b", "c", "e"]


def test_max_objectives_are_flipped() -> None:
    table = {"x": (1.0, 10.0), "y": (1.0, 5.0)}
    assert rank(table, ["min", "max"]) == ["x", "y"]
    assert rank(table, ["min", "min"]) == ["y", "x"]


def test_nan_counts_as_worst() -> None:
    table = {"x": (float("nan"), 1.0), "y": (2.0, 1.0)}
    assert rank(table, MIN2) == ["y", "x"]


def test_rungs_and_keep_count() -> None:
    assert rungs_from(1 / 9, 3) == pytest.approx([1 / 9, 1 / 3])
    assert keep_count(1, 3) == 1 and keep_count(4, 3) == 2 and keep_count(9, 3) == 3
    with pytest.raises(ValueError, match="fraction"):
        rungs_from(1.5, 3)


def test_dominated_configuration_is_stopped_non_dominated_promoted() -> None:
    r = MultiObjectiveRungs(rungs=[0.25], reduction_factor=2, modes=MIN2)
    assert r.on_result("a", 0, 0.1, (9.0, 9.0)) == CONTINUE  # before the rung: no decision
    assert r.on_result("a", 0, 0.25, (1.0, 3.0)) == CONTINUE  # first at the rung goes on
    assert r.on_result("b", 0, 0.25, (2.0, 4.0)) == STOP  # dominated by a
    assert r.on_result("c", 0, 0.3, (3.0, 1.0)) == CONTINUE  # non-dominated: front of 2, 3 keep 2
    assert r.stopped == {"b": 0.25}
    assert [d.action for d in r.decisions] == [CONTINUE, STOP, CONTINUE]
    # the stopped one stays stopped; a later result of a promoted one is not decided again
    assert r.on_result("b", 0, 0.5, (0.0, 0.0)) == STOP
    assert r.on_result("a", 0, 0.6, (5.0, 5.0)) == CONTINUE
    assert len(r.decisions) == 3


def test_ties_within_a_front_follow_crowding_then_key() -> None:
    # Four mutually non-dominated points on one front; 5 recorded, keep ceil(5/2) = 3.
    r = MultiObjectiveRungs(rungs=[0.5], reduction_factor=2, modes=MIN2)
    for key, v in [("a", (0.0, 4.0)), ("d", (4.0, 0.0)), ("b", (1.0, 2.0)), ("e", (5.0, 5.0))]:
        r.on_result(key, 0, 0.5, v)
    # c lands between b and d: in the front a, b, c, d its crowding distance (0.75+0.5) is below
    # b's ((3-0)/4 + (4-1)/4 = 1.5), so the ranking is a, d, b, c, e and c is 4th of 5.
    assert r.on_result("c", 0, 0.5, (3.0, 1.0)) == STOP
    assert r.decisions[-1].position == 3 and r.decisions[-1].recorded == 5
    # the same point under a key that sorts first still loses on crowding, not on its name
    r2 = MultiObjectiveRungs(rungs=[0.5], reduction_factor=2, modes=MIN2)
    for key, v in [("b", (0.0, 4.0)), ("d", (4.0, 0.0)), ("c", (1.0, 2.0)), ("e", (5.0, 5.0))]:
        r2.on_result(key, 0, 0.5, v)
    assert r2.on_result("a", 0, 0.5, (3.0, 1.0)) == STOP


def test_equal_crowding_ties_go_by_key() -> None:
    # two boundary points (both infinite): keep 1 of 2 -> the smaller key wins
    r = MultiObjectiveRungs(rungs=[0.5], reduction_factor=3, modes=MIN2)
    assert r.on_result("m", 0, 0.5, (0.0, 1.0)) == CONTINUE
    assert r.on_result("z", 0, 0.5, (1.0, 0.0)) == STOP
    r = MultiObjectiveRungs(rungs=[0.5], reduction_factor=3, modes=MIN2)
    assert r.on_result("m", 0, 0.5, (0.0, 1.0)) == CONTINUE
    assert r.on_result("a", 0, 0.5, (1.0, 0.0)) == CONTINUE  # "a" ranks before "m"


def test_three_objectives() -> None:
    modes = ["min", "min", "max"]
    r = MultiObjectiveRungs(rungs=[0.3], reduction_factor=2, modes=modes)
    assert r.on_result("a", 0, 0.3, (1.0, 1.0, 1.0)) == CONTINUE
    # better on the third (max) objective only: non-dominated, front of 2, keep 1 -> by key
    assert r.on_result("b", 0, 0.3, (2.0, 2.0, 5.0)) == STOP  # ranks after "a" by key
    # dominated on all three
    assert r.on_result("c", 0, 0.3, (3.0, 3.0, 0.0)) == STOP
    # dominates everything recorded: first of 4, keep 2
    assert r.on_result("d", 0, 0.3, (0.5, 0.5, 9.0)) == CONTINUE
    assert rank(r.recorded[0], modes)[0] == "d"


def test_replicates_are_decided_as_a_whole() -> None:
    r = MultiObjectiveRungs(rungs=[0.25], reduction_factor=2, modes=MIN2, replicates=2)
    assert r.on_result("good", 0, 0.25, (1.0, 1.0)) == CONTINUE  # waits for replicate 1
    assert r.on_result("good", 1, 0.25, (1.0, 1.0)) == CONTINUE  # decided: first at the rung
    # "bad" replicate 0 is great on its own, replicate 1 poor: the mean (2.5, 2.5) is dominated
    assert r.on_result("bad", 0, 0.25, (0.5, 0.5)) == CONTINUE  # not decided yet
    assert r.on_result("bad", 0, 0.5, (0.5, 0.5)) == CONTINUE  # still waiting for replicate 1
    assert r.on_result("bad", 1, 0.25, (4.5, 4.5)) == STOP
    assert r.decisions[-1].values == (2.5, 2.5)
    assert r.on_result("bad", 0, 0.6, (0.5, 0.5)) == STOP  # its sibling stops at its next result


def test_full_budget_is_never_stopped_and_keeps_its_configuration() -> None:
    r = MultiObjectiveRungs(rungs=[0.25], reduction_factor=3, modes=MIN2, replicates=2)
    r.on_result("a", 0, 0.25, (0.0, 0.0))
    r.on_result("a", 1, 0.25, (0.0, 0.0))
    # b's replicate 0 reaches its full budget before replicate 1 reaches the rung
    assert r.on_result("b", 0, 1.0, (5.0, 5.0)) == CONTINUE
    assert r.on_result("b", 1, 0.25, (5.0, 5.0)) == CONTINUE  # dominated, but not split
    assert "b" not in r.stopped
    # a trial whose first metric-carrying result is its final one is recorded, never stopped
    assert r.on_result("c", 0, 1.0, (9.0, 9.0)) == CONTINUE
    assert r.on_result("c", 1, 1.0, (9.0, 9.0)) == CONTINUE


def test_two_rungs_jumped_at_once_stop_at_the_first_failed() -> None:
    r = MultiObjectiveRungs(rungs=[0.1, 0.3], reduction_factor=3, modes=MIN2)
    r.on_result("a", 0, 0.3, (0.0, 0.0))
    assert r.on_result("b", 0, 0.5, (1.0, 1.0)) == STOP
    assert r.stopped == {"b": 0.1} and "b" not in r.recorded[1]


def test_bad_rungs_are_refused() -> None:
    with pytest.raises(ValueError, match="increasing"):
        MultiObjectiveRungs(rungs=[0.5, 0.2], reduction_factor=3, modes=MIN2)
    with pytest.raises(ValueError, match="reduction_factor"):
        MultiObjectiveRungs(rungs=[0.5], reduction_factor=1, modes=MIN2)
