"""Reference figures: DB-GPT's StorageModelRegistry on a SQLite file, through its async API.

Usage: python storage_registry_bench.py [instances] [heartbeat_rounds]
"""
import asyncio
import os
import sys
import tempfile
import time

from dbgpt.model.base import ModelInstance
from dbgpt.model.cluster.registry_impl.storage import StorageModelRegistry


async def main(count: int, rounds: int) -> None:
    path = os.path.join(tempfile.mkdtemp(), "registry.db")
    registry = StorageModelRegistry.from_url(
        f"sqlite:///{path}", "registry", try_to_create_db=True,
        heartbeat_interval_secs=3600, heartbeat_timeout_secs=7200,
    )
    from dbgpt.storage.metadata import db

    db.create_all()
    instances = [
        ModelInstance(model_name=f"model-{i % 10}", host="10.0.0.1", port=1 + i) for i in range(count)
    ]
    start = time.perf_counter()
    for instance in instances:
        await registry.register_instance(instance)
    registered = time.perf_counter()
    for _ in range(rounds):
        for instance in instances:
            await registry.send_heartbeat(instance)
    done = time.perf_counter()
    print(f"dbgpt StorageModelRegistry/SQLite registrations/s at {count} instances: {count / (registered - start):.0f}")
    print(f"dbgpt StorageModelRegistry/SQLite heartbeats/s at {count} instances: {count * rounds / (done - registered):.0f}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100, int(sys.argv[2]) if len(sys.argv) > 2 else 5))
