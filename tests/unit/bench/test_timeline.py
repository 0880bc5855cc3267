"""bench.timeline: per-hop latency percentiles from each request's timestamps."""

from __future__ import annotations

from bench.stats import percentiles
from bench.timeline import HOPS, WAYS, Timeline, hop_latencies, summary_lines


def timeline(i: int, projected: bool = True) -> Timeline:
    """Request ``i``: sent at 100 + i s, each hop taking a known time (ms): 2, 10 + i,
    30, 5, 1 on the path; 20 to the answer, 40 + i to the projection."""
    sent = 100.0 + i
    accepted = sent + 0.002
    debited = accepted + (10 + i) / 1000
    credited = debited + 0.030
    terminal = credited + 0.005
    return {
        "sent": sent,
        "answered": accepted + 0.020,
        "accepted": accepted,
        "debited": debited,
        "credited": credited,
        "projected": credited + (40 + i) / 1000 if projected else None,
        "terminal": terminal,
        "committed": terminal + 0.001,
    }


def test_each_hop_s_percentiles_are_those_of_its_own_spans() -> None:
    # given 100 requests whose debit took 10..109 ms, and every other hop a fixed time
    hops = hop_latencies([timeline(i) for i in range(100)])
    # then the debit hop's percentiles are those of 10..109 ms, nearest rank
    debit = hops["accepted -> debited"]
    assert debit["n"] == 100
    assert (round(debit["p50"]), round(debit["p95"]), round(debit["p99"])) == (60, 105, 109)
    # and the fixed hops are what they took
    assert round(hops["sent -> accepted"]["p99"], 6) == 2
    assert round(hops["debited -> credited"]["p50"], 6) == 30
    assert round(hops["credited -> terminal"]["p95"], 6) == 5
    assert round(hops["terminal -> committed"]["p50"], 6) == 1
    assert round(hops["accepted -> answered"]["p50"], 6) == 20
    # and the whole is the sum of the path's hops: 2 + (10 + i) + 30 + 5 ms
    assert round(hops["sent -> terminal"]["p50"], 6) == 2 + 60 + 30 + 5


def test_the_whole_is_split_by_whether_the_credit_was_decided_with_its_debit() -> None:
    # given 10 transfers whose credit came in its debit's batch (the same time) and 30
    # whose credit was appended and read back (30 ms later)
    def together(i: int) -> Timeline:
        t = timeline(i)
        return {**t, "credited": t["debited"], "terminal": t["terminal"] - 0.030}

    hops = hop_latencies([together(i) for i in range(10)] + [timeline(i) for i in range(30)])
    # then each way counts its own transfers, from sent to terminal
    with_debit, appended = hops[WAYS[True]], hops[WAYS[False]]
    assert (with_debit["n"], appended["n"]) == (10, 30)
    assert round(with_debit["p50"], 6) == 2 + (10 + 5) + 5
    assert round(appended["p50"], 6) == 2 + (10 + 15) + 30 + 5


def test_a_hop_counts_only_the_requests_that_reached_both_its_ends() -> None:
    # given a failed request (never credited nor terminal-by-credit) and one not projected
    failed = {**timeline(0), "credited": None, "projected": None}
    unprojected = timeline(1, projected=False)
    hops = hop_latencies([failed, unprojected, timeline(2)])
    # then each hop counts only the requests that have both its points
    assert hops["accepted -> debited"]["n"] == 3
    assert hops["debited -> credited"]["n"] == 2
    assert hops["credited -> projected"]["n"] == 1
    assert round(hops["credited -> projected"]["p99"], 6) == 42
    assert hops["sent -> terminal"]["n"] == 3


def test_no_timelines_give_zeroes_for_every_hop_not_an_error() -> None:
    hops = hop_latencies([])
    assert list(hops) == [name for name, _, _ in HOPS] + list(WAYS.values())
    assert all(
        h == {"n": 0, "p50": 0.0, "p95": 0.0, "p99": 0.0, "mean": 0.0} for h in hops.values()
    )


def test_the_summary_has_a_line_per_hop_with_its_figures() -> None:
    hops = hop_latencies([timeline(i) for i in range(100)])
    lines = summary_lines({"sampled": 100, "hops": hops})
    assert "100 sampled" in lines[0]
    assert len(lines) == 1 + len(HOPS) + len(WAYS)
    debit = next(line for line in lines if "accepted -> debited" in line)
    assert debit.split()[-4:] == ["100", "60", "105", "109"]


def test_percentiles_are_nearest_rank_over_the_values_in_any_order() -> None:
    values = [float(v) for v in range(200, 0, -1)]  # 200 .. 1, descending
    assert percentiles(values) == {"p50": 101.0, "p95": 191.0, "p99": 199.0, "mean": 100.5}
