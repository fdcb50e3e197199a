"""DB-GPT's model controller as `dbgpt start controller` runs it, tracer included.

Usage: python dbgpt_traced_controller.py PORT SPAN_FILE

This is `run_model_controller` without its configuration file: the registry it creates for
the default parameters (embedded, in memory), then `initialize_controller` without an app,
which builds DB-GPT's FastAPI app, installs DB-GPT's tracer (its `TraceIDMiddleware`, root
operation `DB-GPT-ModelController`, a `SpanStorageContainer` over a `FileSpanStorage`) and
serves it on 127.0.0.1:PORT with uvicorn. The span file is SPAN_FILE instead of
`logs/dbgpt_model_controller_tracer.jsonl`. On SIGTERM or SIGINT uvicorn stops; every queued
span is then written before the process exits.
"""

import os
import signal
import sys

from dbgpt.component import ComponentType
from dbgpt.model.cluster.controller.controller import _create_registry, initialize_controller
from dbgpt.model.parameter import ModelControllerParameters
from dbgpt.util.tracer.base import SpanStorage
from dbgpt.util.tracer.tracer_impl import TracerParameters, root_tracer


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    port = int(sys.argv[1])
    span_file = os.path.abspath(sys.argv[2])
    params = ModelControllerParameters(host="127.0.0.1", port=port)
    # uvicorn raises the signal that stopped it again once it has stopped; with the default
    # handlers that would end the process before the last spans are written.
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, lambda *_: None)
    # The line a registry-server prints when it listens; the caller then waits for
    # `/api/health` to answer.
    print(f"DB-GPT's controller on http://127.0.0.1:{port}", flush=True)
    initialize_controller(
        registry=_create_registry(params),
        controller_params=params,
        trace_config=TracerParameters(file=span_file),
    )
    # uvicorn has stopped: write what the container still queues, and wait for the writes.
    system_app = root_tracer._system_app
    container = system_app.get_component(ComponentType.TRACER_SPAN_STORAGE, SpanStorage)
    container.before_stop()
    container.executor.shutdown(wait=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
