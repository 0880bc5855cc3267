"""The py-spy summary of bench.profile: own and cumulative shares of the samples."""

from __future__ import annotations

from pathlib import Path

from bench.profile import summarise


def test_own_and_cumulative_shares_count_each_frame_once_per_stack(tmp_path: Path) -> None:
    raw = tmp_path / "svc.txt"
    raw.write_text(
        "main (a.py:1);handle (a.py:5);query (db.py:9) 6\n"
        "main (a.py:1);handle (a.py:5);encode (j.py:2);encode (j.py:2) 3\n"
        "main (a.py:1);idle (loop.py:1) 1\n"
        "garbage line without a count\n"
    )
    lines = summarise(raw, top=3)
    assert lines[0] == "  10 samples; own:"
    assert "   60.0%  query (db.py:9)" in lines
    assert "   30.0%  encode (j.py:2)" in lines  # a recursive frame counts once per stack
    cumulative = lines[lines.index("  cumulative:") + 1 :]
    assert cumulative[:2] == ["  100.0%  main (a.py:1)", "   90.0%  handle (a.py:5)"]


def test_an_empty_profile_says_so(tmp_path: Path) -> None:
    raw = tmp_path / "idle.txt"
    raw.write_text("")
    assert summarise(raw, top=5) == ["  (no samples)"]
