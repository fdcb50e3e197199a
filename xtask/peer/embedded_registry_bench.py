"""Reference figures: DB-GPT's in-memory EmbeddedModelRegistry, through its async API.

Prints heartbeats/s with 100 and with 10,000 instances over 10 models, the same work as
registry-core's benchmark. Usage: python embedded_registry_bench.py
"""
import asyncio
import time

from dbgpt.model.base import ModelInstance
from dbgpt.model.cluster.registry import EmbeddedModelRegistry


async def heartbeat_rate(count: int, budget_secs: float = 1.5) -> float:
    registry = EmbeddedModelRegistry(heartbeat_interval_secs=3600, heartbeat_timeout_secs=7200)
    instances = [
        ModelInstance(model_name=f"model-{i % 10}", host="10.0.0.1", port=1 + i) for i in range(count)
    ]
    for instance in instances:
        await registry.register_instance(instance)
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < budget_secs:
        for instance in instances:
            await registry.send_heartbeat(instance)
        done += count
    return done / (time.perf_counter() - start)


async def main() -> None:
    for count in (100, 10_000):
        print(f"dbgpt EmbeddedModelRegistry heartbeats/s at {count} instances: {await heartbeat_rate(count):.0f}")


if __name__ == "__main__":
    asyncio.run(main())
