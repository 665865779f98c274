"""The evaluation gate: every figure in `benchmarks/results/*.json` holds its recorded limit.

A benchmark script writes its measured figures there (`benchmarks/results.py`); a human sets a
floor under each quality figure (and may set a ceiling over a cost). This test fails, naming the
file and the figure, when a figure written by the last run of a benchmark fell below its floor
or rose above its ceiling, or when a figure with a limit is no longer measured. It reads JSON
only: the benchmarks themselves are run by hand (their docstrings say how).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.results import RESULTS, record, set_limits, violations

FILES = sorted(RESULTS.glob("*.json"))


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_figures_hold_their_limits(path: Path) -> None:
    result = json.loads(path.read_text("utf-8"))
    for key in ("command", "measured_at", "machine", "figures", "direction", "floors"):
        assert key in result, f"{path.name}: no {key!r}"
    broken = violations(result)
    assert not broken, f"{path.name} (measured {result['measured_at']}): " + "; ".join(broken)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_limits_follow_directions(path: Path) -> None:
    result = json.loads(path.read_text("utf-8"))
    direction = result["direction"]
    for key in result["floors"]:
        assert direction.get(key) == "higher", f"{path.name}: floor on {key}, not a quality figure"
    for key in result.get("ceilings", {}):
        assert direction.get(key) == "lower", f"{path.name}: ceiling on {key}, not a cost"


def test_the_gate_fails_below_a_floor(tmp_path: Path) -> None:
    record(
        "demo", {"f1": 0.91, "seconds": 3.0}, {"f1": "higher", "seconds": "lower"}, "x", tmp_path
    )
    path = tmp_path / "demo.json"
    result = json.loads(path.read_text("utf-8"))
    assert result["floors"] == {"f1": None} and result["ceilings"] == {"seconds": None}
    assert violations(result) == []  # unset limits check nothing

    result["floors"]["f1"] = 0.95
    result["ceilings"]["seconds"] = 2.5
    path.write_text(json.dumps(result), "utf-8")
    broken = violations(json.loads(path.read_text("utf-8")))
    assert broken == ["f1: 0.91 is below its floor 0.95", "seconds: 3.0 is above its ceiling 2.5"]


def test_a_rewrite_keeps_limits_and_notes(tmp_path: Path) -> None:
    record("demo", {"f1": 0.96}, {"f1": "higher"}, "x", tmp_path)
    path = tmp_path / "demo.json"
    result = json.loads(path.read_text("utf-8"))
    result["floors"]["f1"] = 0.95
    result["limits_note"] = "set by hand"
    result["note"] = "about this measurement"
    path.write_text(json.dumps(result), "utf-8")

    record("demo", {"f1": 0.97, "recall": 0.9}, {"f1": "higher", "recall": "higher"}, "y", tmp_path)
    again = json.loads(path.read_text("utf-8"))
    assert again["floors"] == {"f1": 0.95, "recall": None}
    assert again["limits_note"] == "set by hand" and again["command"] == "y"
    assert "note" not in again

    record("demo", {"recall": 0.9}, {"recall": "higher"}, "z", tmp_path)  # f1 no longer measured
    assert violations(json.loads(path.read_text("utf-8"))) == [
        "f1: has a floor of 0.95 but was not measured"
    ]


def test_set_limits_fills_only_unset_ones(tmp_path: Path) -> None:
    figures = {"f1": 0.9, "recall": 0.8, "seconds": 10.0, "docs": 601}
    directions = {"f1": "higher", "recall": "higher", "seconds": "lower"}
    record("demo", figures, directions, "x", tmp_path)  # type: ignore[arg-type]
    path = tmp_path / "demo.json"
    result = json.loads(path.read_text("utf-8"))
    result["floors"]["recall"] = 0.5
    path.write_text(json.dumps(result), "utf-8")
    assert set_limits(path, 0.01, relative=False, note="n") == 1
    result = json.loads(path.read_text("utf-8"))
    assert result["floors"] == {"f1": 0.89, "recall": 0.5}
    assert result["ceilings"] == {"seconds": None}  # costs only when asked
    assert set_limits(path, 0.1, True, "m", kind="ceilings", keys=("sec*",)) == 1
    result = json.loads(path.read_text("utf-8"))
    assert result["ceilings"] == {"seconds": 11.0}
    assert "docs" not in result["floors"] and result["limits_note"] == "n; m"


def test_figures_must_be_numbers(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a number"):
        record("demo", {"f1": float("nan")}, {}, "x", tmp_path)
    with pytest.raises(ValueError, match="not measured"):
        record("demo", {"f1": 0.5}, {"recall": "higher"}, "x", tmp_path)
