"""Every hop gets a span of its own in the trace of what caused it (W3C traceparent)."""

from __future__ import annotations

import pytest

from common.trace import TRACEPARENT, child_traceparent, trace_id_of

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"


def test_a_child_keeps_the_trace_and_its_flags_with_a_new_span() -> None:
    children = {child_traceparent(PARENT) for _ in range(100)}
    assert len(children) == 100
    for child in children:
        m = TRACEPARENT.match(child)
        assert m is not None
        assert m.group(1) == "0af7651916cd43dd8448eb211c80319c" and m.group(3) == "00"
        assert m.group(2) != "b7ad6b7169203331" and m.group(2) != "0" * 16


@pytest.mark.parametrize(
    "parent",
    [None, "", "garbage", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b71-01", PARENT.upper()],
)
def test_without_a_well_formed_parent_a_new_trace_begins(parent: str | None) -> None:
    child = child_traceparent(parent)
    m = TRACEPARENT.match(child)
    assert m is not None and m.group(3) == "01"
    assert m.group(1) != "0af7651916cd43dd8448eb211c80319c" and m.group(1) != "0" * 32
    assert child_traceparent(parent) != child


def test_the_trace_id_of_a_traceparent() -> None:
    assert trace_id_of(PARENT) == "0af7651916cd43dd8448eb211c80319c"
    assert trace_id_of("nope") is None and trace_id_of(None) is None
