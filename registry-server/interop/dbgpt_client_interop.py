"""Interop test: DB-GPT's own registry client (PyPI dbgpt==0.8.2) against registry-server.

Usage: python registry-server/interop/dbgpt_client_interop.py http://127.0.0.1:PORT

The server must be freshly started (any storage; memory is fastest). Every registry call of
``ModelRegistryClient`` is exercised: register, heartbeat, get_all_instances with and without
model_name and healthy_only, get_all_model_instances, sync_get_all_instances, deregister with
and without remove_from_registry, and select_one_health_instance. Exits 0 when every check
passes, 1 otherwise; the last line reads "N passed, N failed".
"""

import asyncio
import sys
import traceback

from dbgpt.model.base import ModelInstance
from dbgpt.model.cluster.controller.controller import ModelRegistryClient

LLM = "interop-glm@llm"
EMBED = "interop-bge@text2vec"
HOST = "10.9.8.7"
CHECKS = []


def check(func):
    CHECKS.append(func)
    return func


def ports(instances):
    return sorted(i.port for i in instances)


@check
async def register_returns_true_and_listing_shows_all_fields(client):
    assert await client.register_instance(ModelInstance(model_name=LLM, host=HOST, port=8001)) is True
    second = ModelInstance(model_name=LLM, host=HOST, port=8002, weight=2.0, prompt_template="chatglm")
    assert await client.register_instance(second) is True
    assert await client.register_instance(ModelInstance(model_name=EMBED, host=HOST, port=9001)) is True
    instances = await client.get_all_instances(LLM)
    assert ports(instances) == [8001, 8002], instances
    by_port = {i.port: i for i in instances}
    assert isinstance(by_port[8001], ModelInstance)
    assert by_port[8002].weight == 2.0 and by_port[8002].prompt_template == "chatglm"
    for instance in instances:
        assert instance.model_name == LLM and instance.host == HOST
        assert instance.healthy is True and instance.enabled is True and instance.check_healthy is True
        assert instance.last_heartbeat, "last_heartbeat is set by the registry"
        assert instance.remove_from_registry is False


@check
async def registering_again_does_not_duplicate(client):
    assert await client.register_instance(ModelInstance(model_name=LLM, host=HOST, port=8001, weight=1.5))
    instances = await client.get_all_instances(LLM)
    assert ports(instances) == [8001, 8002], instances
    assert {i.port: i.weight for i in instances}[8001] == 1.5


@check
async def listing_every_model_with_and_without_healthy_only(client):
    everything = await client.get_all_model_instances()
    assert {(i.model_name, i.port) for i in everything} >= {(LLM, 8001), (LLM, 8002), (EMBED, 9001)}
    healthy = await client.get_all_model_instances(healthy_only=True)
    assert all(i.healthy for i in healthy) and len(healthy) == len(everything)
    via_get_all = await client.get_all_instances(healthy_only=True)
    assert len(via_get_all) == len(healthy)


@check
async def heartbeat_registers_an_unknown_instance(client):
    assert await client.send_heartbeat(ModelInstance(model_name=EMBED, host=HOST, port=9002)) is True
    assert ports(await client.get_all_instances(EMBED, healthy_only=True)) == [9001, 9002]


@check
async def deregister_marks_unhealthy_and_keeps_the_instance(client):
    assert await client.deregister_instance(ModelInstance(model_name=LLM, host=HOST, port=8001)) is True
    assert ports(await client.get_all_instances(LLM)) == [8001, 8002]
    assert ports(await client.get_all_instances(LLM, healthy_only=True)) == [8002]
    unhealthy = [i for i in await client.get_all_instances(LLM) if i.port == 8001][0]
    assert unhealthy.healthy is False


@check
async def sync_get_all_instances_answers_from_a_plain_thread(client):
    loop = asyncio.get_running_loop()
    all_llm = await loop.run_in_executor(None, lambda: client.sync_get_all_instances(LLM))
    healthy_llm = await loop.run_in_executor(None, lambda: client.sync_get_all_instances(LLM, True))
    assert ports(all_llm) == [8001, 8002] and ports(healthy_llm) == [8002]


@check
async def select_one_health_instance_picks_only_healthy_enabled_ones(client):
    for _ in range(20):
        chosen = await client.select_one_health_instance(LLM)
        assert chosen is not None and chosen.port == 8002, chosen
    assert await client.select_one_health_instance("interop-missing@llm") is None
    disabled = ModelInstance(model_name="interop-off@llm", host=HOST, port=7001, enabled=False)
    assert await client.register_instance(disabled)
    assert await client.select_one_health_instance("interop-off@llm") is None


@check
async def heartbeat_with_a_listed_instance_revives_it(client):
    listed = [i for i in await client.get_all_instances(LLM) if i.port == 8001][0]
    # A listed instance carries last_heartbeat as the server wrote it; sending it back works.
    assert await client.send_heartbeat(listed) is True
    assert ports(await client.get_all_instances(LLM, healthy_only=True)) == [8001, 8002]


@check
async def deregister_with_remove_from_registry_deletes(client):
    gone = ModelInstance(model_name=EMBED, host=HOST, port=9002, remove_from_registry=True)
    assert await client.deregister_instance(gone) is True
    assert ports(await client.get_all_instances(EMBED)) == [9001]
    # Deregistering what is not there is not an error.
    assert await client.deregister_instance(gone) is True


async def main(url: str) -> int:
    client = ModelRegistryClient(url)
    passed = failed = 0
    for func in CHECKS:
        try:
            await func(client)
        except Exception:  # noqa: BLE001 - report every failure, then go on
            failed += 1
            print(f"FAIL {func.__name__}", flush=True)
            traceback.print_exc()
        else:
            passed += 1
            print(f"ok   {func.__name__}", flush=True)
    print(f"{passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(asyncio.run(main(sys.argv[1].rstrip("/"))))
