"""The ceiling: a raw aiokafka consumer + `json.loads` of every value, no Faust, no domain code
(what reading the topic costs at all; docs/architecture.md puts it at ~150k/s)."""

from __future__ import annotations

import asyncio
import json
import time

from benchmarks.harness import Context, Figure, broker_cpu, console, per_event

NAME = "ceiling: raw aiokafka + json.loads"


async def _consume(
    bootstrap: str, topic: str, partitions: int, total: int
) -> tuple[float, float, float | None]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        await consumer.seek_to_beginning()
        count, first, cpu = 0, 0.0, 0.0
        broker: float | None = None
        loads = json.loads
        while count < total:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for messages in batches.values():
                if messages and not first:
                    first, cpu, broker = time.perf_counter(), time.process_time(), broker_cpu()
                for message in messages:
                    loads(message.value)
            count += sum(len(m) for m in batches.values())
        return (
            total / (time.perf_counter() - first),
            (time.process_time() - cpu) / total * 1e6,
            per_event(broker, broker_cpu(), total),
        )
    finally:
        await consumer.stop()


def run(ctx: Context) -> list[Figure]:
    with console.status("ceiling: raw aiokafka consumer + json.loads"):
        rate, cpu, broker = asyncio.run(_consume(ctx.bootstrap, ctx.topic, ctx.partitions, ctx.total))
    return [Figure(NAME, rate, "events/s", cpu_us=cpu, broker_us=broker)]
