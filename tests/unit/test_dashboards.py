"""The committed Grafana dashboards are what ``infra.grafana.generate`` writes from
``infra/grafana/panels.py`` (edit the panels, run the generator, commit both)."""

from __future__ import annotations

from infra.grafana.generate import OUT, rendered
from infra.grafana.panels import DASHBOARDS


def test_committed_dashboards_equal_the_generated_ones() -> None:
    wanted = rendered()
    assert {p.name for p in OUT.glob("*.json")} == set(wanted)
    for name, text in wanted.items():
        assert (OUT / name).read_text() == text, (
            f"{name} differs: run python -m infra.grafana.generate"
        )


def test_panel_titles_and_uids_are_unique() -> None:
    assert len({b.uid for b in DASHBOARDS}) == len(DASHBOARDS)
    for board in DASHBOARDS:
        titles = [p.title for p in board.panels]
        assert len(set(titles)) == len(titles), board.uid
