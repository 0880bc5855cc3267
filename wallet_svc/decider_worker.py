"""The wallet decider: the only writer of wallet state.

Every command for a wallet goes through one partition of ``wallet-commands`` and is
decided here, in order, by one instance at a time. For each input partition the worker
holds a transactional producer whose ``transactional_id`` names that partition: starting
it fences any zombie that still thinks it owns the partition and aborts its open
transaction. Only then is the partition's state rebuilt: its latest snapshot (if any) is
loaded and ``wallet-events`` replayed from the snapshot's offset (the same partition
number: the decider writes a wallet's events to the partition its commands came from) up
to the last stable offset. Then each batch of commands is
decided in memory and its events and input offsets are committed in ONE Kafka
transaction. A crash anywhere before the commit leaves nothing visible to
``read_committed`` consumers; the batch is decided again on restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import IllegalStateError, ProducerFenced
from prometheus_client import Counter, Histogram

from common.db import LOG_DERIVED, make_engine
from common.health import ReadyCheck
from common.kafka.consumer import make_consumer, record_context, report_lag
from common.kafka.headers import message_headers
from common.kafka.partitioner import partition_of
from common.kafka.producer import make_producer
from common.metrics import CONSUMER_LAG
from common.topics import WALLET_COMMANDS, WALLET_EVENTS
from common.worker import serve_worker
from contracts.envelope import Envelope
from contracts.time import epoch_ms
from contracts.wallet import ExpireHolds, command_envelope, decode_event
from wallet_svc import snapshots
from wallet_svc.batch import States, decide_records
from wallet_svc.domain import WalletState, evolve
from wallet_svc.settings import WalletSettings

log = logging.getLogger("paystream.decider")

GROUP = "wallet-decider"
BATCH_SECONDS = Histogram(
    "paystream_decider_batch_seconds", "Decide + transactional commit of one batch"
)
HOLDS_SWEPT = Counter("paystream_decider_holds_swept_total", "ExpireHolds sent by the sweep")
REBUILD_SECONDS = Histogram("paystream_decider_rebuild_seconds", "State rebuild per partition")


async def rebuild_partition(
    bootstrap: str,
    partition: int,
    start: int = 0,
    states: States | None = None,
    end: int | None = None,
) -> tuple[States, int]:
    """Replay ``wallet-events`` partition ``partition`` from ``start`` (over ``states``, a
    snapshot taken there) up to ``end`` (by default its last stable offset when the replay
    starts); returns (states, that end). Records appended meanwhile may be fetched too:
    they are left out, so the states are exactly those of the log below ``end``."""
    tp = TopicPartition(WALLET_EVENTS, partition)
    reader = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, isolation_level="read_committed", enable_auto_commit=False
    )
    await reader.start()
    states = dict(states or {})
    try:
        reader.assign([tp])
        reader.seek(tp, start)
        if end is None:
            end = (await reader.end_offsets([tp]))[tp]
        while await reader.position(tp) < end:
            batch = await reader.getmany(tp, timeout_ms=500, max_records=5000)
            for record in batch.get(tp, []):
                if record.offset >= end:
                    break
                event = decode_event(Envelope.from_bytes(record.value).payload)
                wallet_id = event.wallet_id
                states[wallet_id] = evolve(states.get(wallet_id) or WalletState(), event)
    finally:
        await reader.stop()
    return states, end


class DeciderWorker(ConsumerRebalanceListener):
    """Consumes ``wallet-commands``; per partition: rebuild, then decide in transactions."""

    def __init__(self, settings: WalletSettings) -> None:
        self.settings = settings
        # snapshots only shorten a rebuild: a lost one costs a longer replay (common.db)
        self.engine = make_engine(settings.postgres_dsn, pool_size=2, server_settings=LOG_DERIVED)
        self.next_event_offset: dict[int, int] = {}
        self.snapshot_at: dict[int, float] = {}
        self.dirty: set[int] = set()  # partitions decided on since their last snapshot
        self.with_holds: dict[int, set[str]] = {}  # per partition: wallets holding funds
        self.swept_at = 0.0
        self.consumer = make_consumer(
            settings.kafka_bootstrap,
            GROUP,
            client_id=settings.service_name,
            max_poll_records=2000,
            fetch=settings.fetch_tuning(prompt=True),
        )
        self.producers: dict[int, AIOKafkaProducer] = {}
        self.taking: dict[int, asyncio.Task[None]] = {}  # takeovers under way, by partition
        self.states: dict[int, States] = {}
        self.checks: dict[str, ReadyCheck] = {"kafka": self._check}

    async def _check(self) -> None:
        await self.consumer.topics()  # a metadata round trip to the cluster

    # --- partition ownership -------------------------------------------------------
    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        for tp in revoked:
            if tp.partition in self.dirty and tp.partition in self.producers:
                self.snapshot_at.pop(tp.partition, None)  # hand over a fresh snapshot
                await self.snapshot_due()
            await self._release(tp.partition)
            with contextlib.suppress(KeyError):  # its lag is the next owner's to report
                CONSUMER_LAG.remove(self.settings.service_name, GROUP, tp.topic, str(tp.partition))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        """Take the new partitions over in the background: the rebalance is not held up
        by rebuilds, and a takeover that fails (a broker restarting) is tried again."""
        for tp in assigned:
            self._own(tp)

    async def _release(self, partition: int) -> None:
        """Forget a partition: its takeover (if under way), state and producer."""
        task = self.taking.pop(partition, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self.states.pop(partition, None)
        self.with_holds.pop(partition, None)
        producer = self.producers.pop(partition, None)
        if producer is not None:
            with contextlib.suppress(Exception):  # a broken producer has nothing to flush
                await asyncio.wait_for(producer.stop(), 10)

    def _own(self, tp: TopicPartition) -> None:
        """Take ``tp`` over in the background unless it is decided here already or being
        taken over; until then its fetched commands are read again later (``run``)."""
        if tp.partition not in self.producers and tp.partition not in self.taking:
            task = asyncio.create_task(self._take_over_until_done(tp))
            self.taking[tp.partition] = task

            def forget(done: asyncio.Task[None]) -> None:
                if self.taking.get(tp.partition) is done:  # not a later takeover's
                    del self.taking[tp.partition]

            task.add_done_callback(forget)

    async def _take_over_until_done(self, tp: TopicPartition) -> None:
        """``_take_over``, tried again (a broker or Postgres may be restarting) while the
        partition is still assigned to this instance."""
        delay = 0.2
        while tp in self.consumer.assignment():
            try:
                await self._take_over(tp)
                return
            except Exception:
                log.warning("partition takeover failed; retrying", exc_info=True,
                            extra={"partition": tp.partition})  # fmt: skip
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5)

    async def _take_over(self, tp: TopicPartition) -> None:
        """Decide ``tp`` from here on, as its one writer: fence the previous owner (which
        also ends its open transaction, committed or aborted), rebuild the states from
        the log up to its last stable offset, and read the commands from the offset
        committed with the last transaction. Done again after a failed batch, whose
        commit may have passed unseen: the log, not memory, says what was decided."""
        producer = make_producer(
            self.settings.kafka_bootstrap,
            client_id=f"{self.settings.service_name}-{tp.partition}",
            transactional_id=f"{GROUP}-{tp.partition}",
            linger_ms=2,
        )
        try:
            await producer.start()  # InitProducerId: fences the previous owner
            started = time.perf_counter()
            offset, snapshot = await snapshots.load(self.engine, tp.partition)
            states, next_event_offset = await rebuild_partition(
                self.settings.kafka_bootstrap, tp.partition, offset, snapshot
            )
            committed = await self.consumer.committed(tp)  # stable: the fence ended any
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 10)
            raise
        if tp not in self.consumer.assignment():  # revoked meanwhile
            await producer.stop()
            return
        self.consumer.seek(tp, committed or 0)
        self.states[tp.partition], self.next_event_offset[tp.partition] = states, next_event_offset
        self.with_holds[tp.partition] = {
            wallet_id for wallet_id, state in states.items() if state.holds
        }
        self.snapshot_at[tp.partition] = time.monotonic()
        REBUILD_SECONDS.observe(time.perf_counter() - started)
        self.producers[tp.partition] = producer
        log.info(
            "partition ready",
            extra={
                "partition": tp.partition,
                "wallets": len(states),
                "snapshot_offset": offset,
                "command_offset": committed or 0,
            },
        )

    # --- deciding --------------------------------------------------------------------
    def _decided_here(self, partition: int) -> Callable[[str], bool]:
        """Whether a wallet's commands come to ``partition`` (``wallet_svc.batch``: a
        transfer's credit for such a wallet is decided with its debit); none while the
        topic's partition count is not known."""
        partitions = self.consumer.partitions_for_topic(WALLET_COMMANDS)
        if not partitions:
            return lambda wallet_id: False
        count = len(partitions)
        return lambda wallet_id: partition_of(wallet_id.encode(), count) == partition

    async def decide_batch(
        self, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]
    ) -> None:
        producer = self.producers[tp.partition]
        known = self.states[tp.partition]
        batch = decide_records(
            records, known, datetime.now(UTC), self._decided_here(tp.partition), GROUP
        )
        outgoing, working = batch.outgoing, batch.working
        sent = []
        async with producer.transaction():
            for topic, value, key, hdrs in outgoing:
                # a wallet's events go to its command partition; continuations and dead
                # letters are partitioned by key like every other producer's messages
                partition = tp.partition if topic == WALLET_EVENTS else None
                fut = await producer.send(topic, value, key=key, partition=partition, headers=hdrs)
                if topic == WALLET_EVENTS:
                    sent.append(fut)
            await producer.send_offsets_to_transaction({tp: records[-1].offset + 1}, GROUP)
        # The states and the offset they reflect change together, with no await between
        # them: a revoke's snapshot (the rebalance callback runs in another task) must never
        # hold this batch's states with the offset before it (the next owner would apply the
        # batch twice), so the acknowledgements are read first.
        last = max(meta.offset for meta in await asyncio.gather(*sent)) if sent else None
        known.update(working)  # only once the transaction is committed
        if last is not None:
            self.next_event_offset[tp.partition] = last + 1
        holding = self.with_holds[tp.partition]
        for wallet_id, state in working.items():
            if state.holds:
                holding.add(wallet_id)
            else:
                holding.discard(wallet_id)
        self.dirty.add(tp.partition)

    async def snapshot_due(self) -> None:
        """Save each changed partition's states at most every ``decider_snapshot_interval_s``
        seconds; called after every poll, so a quiet partition's last changes are saved too."""
        interval = self.settings.decider_snapshot_interval_s
        if not interval:
            return
        now = time.monotonic()
        for partition in list(self.dirty):
            if partition not in self.producers:  # revoked since
                self.dirty.discard(partition)
                continue
            if now - self.snapshot_at.get(partition, 0) < interval:
                continue
            self.snapshot_at[partition] = now
            self.dirty.discard(partition)
            try:
                await snapshots.save(
                    self.engine, partition, self.next_event_offset[partition],
                    self.states[partition],
                )  # fmt: skip
            except Exception:  # a missed snapshot only lengthens the next rebuild
                self.dirty.add(partition)
                log.exception("snapshot failed", extra={"partition": partition})

    async def sweep_holds(self) -> None:
        """Every ``hold_sweep_interval_s``, send ``ExpireHolds`` for each wallet holding a
        hold past its expiry, so its available balance comes back without waiting for the
        wallet's next command. The command goes through ``wallet-commands`` like any other
        (decided in order, in a transaction); its id names the earliest expired hold, so a
        sweep that runs again before it is decided sends a duplicate the decider ignores."""
        interval = self.settings.hold_sweep_interval_s
        if not interval or time.monotonic() - self.swept_at < interval:
            return
        self.swept_at = time.monotonic()
        now = epoch_ms(datetime.now(UTC))
        for partition, holding in list(self.with_holds.items()):
            states, producer = self.states.get(partition), self.producers.get(partition)
            if not holding or states is None or producer is None:
                continue
            due = []
            for wallet_id in holding:
                earliest = min(hold.expires_at for hold in states[wallet_id].holds)
                if earliest <= now:
                    due.append((wallet_id, earliest))
            if not due:
                continue
            async with producer.transaction():
                for wallet_id, earliest in due:
                    command = ExpireHolds(
                        command_id=f"expire-holds:{wallet_id}:{earliest}",
                        wallet_id=wallet_id,
                        now=now,
                    )
                    env = command_envelope(command, self.settings.service_name)
                    await producer.send(
                        WALLET_COMMANDS,
                        env.to_bytes(),
                        key=wallet_id.encode(),
                        partition=partition,
                        headers=message_headers(env),
                    )
            HOLDS_SWEPT.inc(len(due))

    async def start(self) -> None:
        await self.consumer.start()
        self.consumer.subscribe([WALLET_COMMANDS], listener=self)

    async def run(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=200, max_records=2000)
            deciders = dict(self.producers)  # who decided each partition when it was read
            await self.snapshot_due()
            try:
                await self.sweep_holds()
            except ProducerFenced:
                raise
            except Exception:  # the next sweep sends the same commands again
                log.exception("hold sweep failed")
            # Partitions are decided at once, each in its own Kafka transaction on its own
            # producer: a command waits for its own partition's commit, not for every
            # other partition's before it (docs/benchmarks.md, "decider").
            await asyncio.gather(
                *(
                    self._decide_read(tp, records, deciders.get(tp.partition))
                    for tp, records in batches.items()
                    if records
                )
            )
            await self._report_lag()

    async def _decide_read(
        self,
        tp: TopicPartition,
        records: list[ConsumerRecord[bytes, bytes]],
        decider: AIOKafkaProducer | None,
    ) -> None:
        """Decide the commands read from ``tp`` if ``decider`` (the partition's producer
        when they were read) still decides it; else leave them to be read again."""
        producer = self.producers.get(tp.partition)
        if producer is None:
            # fetched before the partition's state was rebuilt: read it again later
            # (the takeover, once done, seeks to the committed offset itself)
            with contextlib.suppress(IllegalStateError):  # revoked meanwhile
                self.consumer.seek(tp, records[0].offset)
                self._own(tp)
            return
        if producer is not decider:
            return  # taken over again since it was read: read from its new offset
        started = time.perf_counter()
        try:
            await self.decide_batch(tp, records)
        except ProducerFenced:
            raise  # another instance owns this partition now: exit, let it work
        except Exception:
            # Whether its transaction committed is not known (a broker that went away
            # mid-commit): take the partition over again, which ends that transaction,
            # rebuilds the states from the log and reads on from the committed offset
            # (a fenced producer ends the process instead).
            log.exception("batch aborted; taking the partition over again",
                          extra=record_context(records))  # fmt: skip
            await self._release(tp.partition)
            if tp in self.consumer.assignment():
                self._own(tp)
            return
        BATCH_SECONDS.observe(time.perf_counter() - started)

    async def _report_lag(self) -> None:
        """The lag of the partitions this instance decides: its position there is the
        offset its last Kafka transaction committed."""
        positions = {}
        for tp in self.consumer.assignment():
            if tp.partition in self.producers:
                with contextlib.suppress(IllegalStateError):  # revoked meanwhile
                    positions[tp] = await self.consumer.position(tp)
        report_lag(self.consumer, self.settings.service_name, GROUP, positions)

    async def stop(self) -> None:
        await self.consumer.stop()
        for partition in list(self.producers) + list(self.taking):
            await self._release(partition)
        await self.engine.dispose()


if __name__ == "__main__":
    serve_worker(DeciderWorker, WalletSettings(service_name="wallet_decider"))
