"""Where a request's time goes: per-hop latency from the timestamps each step leaves.

A sample of a phase's requests is followed through the rows they left in Postgres (no
Kafka read: the decider's events carry their ``occurred_at`` into ``wallets.entries``):

- ``sent``: the moment the load generator's schedule said to send it (its own clock);
- ``answered``: when the load generator got the 202 (its own clock);
- ``accepted``: ``transactions.created_at``, the command API's clock as it took the request;
- ``debited`` / ``credited``: the source's ``WalletDebited`` and the destination's
  ``WalletCredited`` entries' ``occurred_at``, the time the wallet decider decided the batch
  holding them;
- ``projected``: the commit time of the projector's transaction that wrote the credit's
  entry;
- ``terminal``: ``transactions.updated_at``, set to ``now()`` by the saga's transaction that
  made it terminal (the time the load generator's request-to-terminal latency ends at);
- ``committed``: that transaction's commit time (the saga produces its outputs and waits
  for their acknowledgements in between).

Commit times come from ``pg_xact_commit_timestamp``, which needs Postgres's
``track_commit_timestamp`` (the local stack's Postgres sets it); without it those two
points are missing and so are their hops. Every clock is the one machine's.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import asyncpg

from bench.stats import percentiles

Timeline = Mapping[str, float | None]  # point -> epoch seconds (None: not reached)

# (name, from point, to point): the path to the terminal state in order, then the two
# branches off it, then the whole request.
HOPS = (
    ("sent -> accepted", "sent", "accepted"),  # client, gateway, API until it reads its clock
    ("accepted -> debited", "accepted", "debited"),  # API's work and appends, decider's pick-up
    ("debited -> credited", "debited", "credited"),  # decider's commit, its fetch of the credit
    ("credited -> terminal", "credited", "terminal"),  # decider's commit, the saga's fetch
    ("terminal -> committed", "terminal", "committed"),  # the saga's appends and commit
    ("accepted -> answered", "accepted", "answered"),  # branch: the 202 back at the client
    ("credited -> projected", "credited", "projected"),  # branch: the balance read model
    ("sent -> terminal", "sent", "terminal"),  # the whole, as the phase's latency counts it
)
TERMINAL = ("completed", "failed", "reversed", "reversal_failed")
# The whole request again, split by the way its credit went (wallet_svc.batch): decided
# in its debit's batch (the credit's wallet on the debit's partition: both entries carry
# that batch's time) or appended to wallet-commands and read back, a Kafka hop more.
WAYS = {True: "  credit with debit", False: "  credit appended"}


def hop_latencies(timelines: Iterable[Timeline]) -> dict[str, dict[str, float]]:
    """Per hop, the percentiles in ms over the timelines that reached both its ends, and
    how many did (``n``)."""
    spans: dict[str, list[float]] = {name: [] for name, _, _ in HOPS}
    spans.update((way, []) for way in WAYS.values())
    for t in timelines:
        for name, start, end in HOPS:
            a, b = t.get(start), t.get(end)
            if a is not None and b is not None:
                spans[name].append((b - a) * 1000)
        sent, terminal = t.get("sent"), t.get("terminal")
        debited, credited = t.get("debited"), t.get("credited")
        if None not in (sent, terminal, debited, credited):
            assert sent is not None and terminal is not None  # for the type checker
            spans[WAYS[debited == credited]].append((terminal - sent) * 1000)
    return {name: {"n": len(ms), **percentiles(ms)} for name, ms in spans.items()}


def summary_lines(timeline: Mapping[str, Any]) -> list[str]:
    """The text form of a phase's timeline: one line per hop."""
    lines = [f"  per hop ({timeline['sampled']} sampled)        n   p50 ms   p95 ms   p99 ms"]
    for name, h in timeline["hops"].items():
        lines.append(f"  {name:<24} {h['n']:>6} {h['p50']:>8.0f} {h['p95']:>8.0f} {h['p99']:>8.0f}")
    return lines


def _epoch(at: datetime | None) -> float | None:
    return at.timestamp() if at is not None else None


QUERY = """
SELECT t.id, t.status, t.created_at, t.updated_at, {committed} AS committed,
       d.occurred_at AS debited, c.occurred_at AS credited, {projected} AS projected
FROM transactions.transactions t
LEFT JOIN wallets.entries d ON d.transaction_id = t.id AND d.kind = 'WalletDebited'
     AND d.wallet_id::text = t.from_wallet_id
LEFT JOIN wallets.entries c ON c.transaction_id = t.id AND c.kind = 'WalletCredited'
     AND c.wallet_id::text = t.to_wallet_id
WHERE t.id = ANY($1::text[])
"""


async def measure(
    dsn: str,
    sent: Mapping[str, float],
    answered: Mapping[str, float],
    sample: int,
    rng: random.Random | None = None,
) -> dict[str, Any]:
    """The per-hop latencies of up to ``sample`` of the ``sent`` requests (id -> scheduled
    epoch seconds; ``answered``: id -> when the 202 came), picked at random."""
    ids = list(sent)
    if len(ids) > sample:
        ids = (rng or random.Random()).sample(ids, sample)
    conn = await asyncpg.connect(dsn.replace("+asyncpg", ""))
    try:
        tracked = await conn.fetchval("SELECT current_setting('track_commit_timestamp')") == "on"
        query = QUERY.format(
            committed="pg_xact_commit_timestamp(t.xmin)" if tracked else "NULL::timestamptz",
            projected="pg_xact_commit_timestamp(c.xmin)" if tracked else "NULL::timestamptz",
        )
        rows = await conn.fetch(query, ids)
    finally:
        await conn.close()
    timelines: dict[str, Timeline] = {}
    for r in rows:
        terminal = r["status"] in TERMINAL
        timelines.setdefault(
            r["id"],
            {
                "sent": sent[r["id"]],
                "answered": answered.get(r["id"]),
                "accepted": _epoch(r["created_at"]),
                "debited": _epoch(r["debited"]),
                "credited": _epoch(r["credited"]),
                "projected": _epoch(r["projected"]),
                "terminal": _epoch(r["updated_at"]) if terminal else None,
                "committed": _epoch(r["committed"]) if terminal else None,
            },
        )
    return {
        "sampled": len(ids),
        "commit_timestamps": tracked,
        "hops": hop_latencies(timelines.values()),
    }
