"""Reference figure: spans/s through DB-GPT's SpanStorageContainer into a FileSpanStorage,
ending when every span is on disk. Usage: python span_container_bench.py [spans]
"""
import os
import sys
import tempfile
import time
import uuid

from dbgpt.util.tracer.base import Span, SpanType
from dbgpt.util.tracer.span_storage import FileSpanStorage, SpanStorageContainer


def spans(count):
    trace_id = uuid.uuid4().hex
    made = []
    for i in range(count):
        span = Span(trace_id, f"{trace_id}:{uuid.uuid4().hex[:16]}", span_type=SpanType.BASE,
                    parent_span_id=None, operation_name="bench.op",
                    metadata={"i": i, "model_name": "vicuna-13b", "host": "10.0.0.1"})
        span.end()
        made.append(span)
    return made


def lines(path):
    with open(path, "rb") as file:
        return sum(1 for _ in file)


def main(count):
    path = os.path.join(tempfile.mkdtemp(), "spans.jsonl")
    container = SpanStorageContainer(batch_size=100, flush_interval=1)
    container.append_storage(FileSpanStorage(path))
    batch = spans(count)
    start = time.perf_counter()
    for span in batch:
        container.append_span(span)
    # Stopping drains the queue; waiting on its executor waits for the last batch's write.
    container.before_stop()
    container.executor.shutdown(wait=True)
    elapsed = time.perf_counter() - start
    print(f"dbgpt SpanStorageContainer -> file spans/s: {count / elapsed:.0f} (lines on disk: {lines(path)} of {count})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
