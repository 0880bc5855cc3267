"""The Postgres read models ``paystream rebuild`` makes again: each a pure projection of
events, written by its projector's own writer.

- ``wallets``: the balances (``wallets.wallets``, ``entries``, ``postings``,
  ``system_balances``, with their own ``offsets``), from wallet-events, by the balance
  projector's ``PgBalanceStore``;
- ``directory``: ``transactions.wallet_directory`` and ``transactions.merchants``, from
  wallet-events and user-events, by the saga worker's ``PgDirectoryStore``. Their offsets
  are the saga's (``transactions.offsets``, consumer ``saga``), shared with the sagas'
  states, so they are read and locked but never swapped.

The other tables of the services are not projections (docs/operations.md says why).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import ConsumerRecord
from sqlalchemy.ext.asyncio import AsyncConnection

from common.topics import USER_EVENTS, WALLET_EVENTS
from transaction_svc.directory_store import TABLES as DIRECTORY_TABLES
from transaction_svc.directory_store import PgDirectoryStore
from transaction_svc.saga_worker import CONSUMER as SAGA_CONSUMER
from transaction_svc.saga_worker import read_answer
from wallet_svc.projection import Record, check_envelope
from wallet_svc.store import CONSUMER as BALANCE_CONSUMER
from wallet_svc.store import READ_MODEL_TABLES, PgBalanceStore

# a writer into one schema: applies decoded records inside a connection's transaction
Write = Callable[[AsyncConnection, list[Any]], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class ReadModel:
    """Where a read model lives, what it is made from and how its rows are compared."""

    name: str
    schema: str  # the live schema
    tables: tuple[str, ...]  # made again and swapped (``offsets`` among them if its own)
    offsets: str  # the live offsets table (in ``schema``)
    consumer: str  # the projector's name in it
    topics: tuple[str, ...]
    decode: Callable[[ConsumerRecord[bytes, bytes]], Any]  # the projector's; raises for poison
    writer: Callable[[str], Write]  # schema -> the projector's writer there
    parts: tuple[tuple[str, str], ...]  # (title, SELECT key, value FROM {s}...) compared
    differences: str  # what a difference's value shows

    @property
    def owns_offsets(self) -> bool:
        return "offsets" in self.tables


def balance_record(m: ConsumerRecord[bytes, bytes]) -> Record:
    return Record(m.partition, m.offset, *check_envelope(m.value or b""))


def balances_writer(schema: str) -> Write:
    store = PgBalanceStore(schema)

    async def write(conn: AsyncConnection, records: list[Record]) -> int:
        if records:
            await store.write(conn, records)
        return len(records)

    return write


def directory_writer(schema: str) -> Write:
    return PgDirectoryStore(schema).write


# per wallet: its status, balances and number of entries (its version)
_WALLETS = """SELECT w.id::text AS key, concat_ws(':', w.status, w.currency, w.ledger,
    w.available, coalesce(e.n, 0)) AS value
FROM {s}.wallets w LEFT JOIN (SELECT wallet_id, count(*) AS n FROM {s}.entries
    GROUP BY wallet_id) e ON e.wallet_id = w.id"""
_SYSTEM = """SELECT account || ':' || currency AS key, sum(balance)::text AS value
FROM {s}.system_balances GROUP BY account, currency"""
_DIRECTORY = """SELECT wallet_id AS key, owner_id || ':' || currency AS value
FROM {s}.wallet_directory"""
_MERCHANTS = "SELECT user_id AS key, role AS value FROM {s}.merchants"

WALLETS = ReadModel(
    name="wallets",
    schema="wallets",
    tables=READ_MODEL_TABLES,
    offsets="offsets",
    consumer=BALANCE_CONSUMER,
    topics=(WALLET_EVENTS,),
    decode=balance_record,
    writer=balances_writer,
    parts=(("wallets", _WALLETS), ("system accounts", _SYSTEM)),
    differences="status:currency:ledger:available:entries, or the account's balance",
)
DIRECTORY = ReadModel(
    name="directory",
    schema="transactions",
    tables=DIRECTORY_TABLES,
    offsets="offsets",
    consumer=SAGA_CONSUMER,
    topics=(WALLET_EVENTS, USER_EVENTS),
    decode=read_answer,
    writer=directory_writer,
    parts=(("wallet directory", _DIRECTORY), ("merchants", _MERCHANTS)),
    differences="owner:currency of a wallet, or a user's role",
)
READ_MODELS = {m.name: m for m in (WALLETS, DIRECTORY)}
