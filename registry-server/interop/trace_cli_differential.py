"""Runs DB-GPT 0.8.2's own `dbgpt trace list|tree` and `registry-server trace list|tree` over the
same span files with the same flags, and compares what they print and how they exit.

Usage: python registry-server/interop/trace_cli_differential.py PATH/TO/registry-server

The files are written by DB-GPT's own tracer classes (`Span`, `FileSpanStorage`): a chat trace
with nested spans, metadata of every JSON type (nested objects, booleans, nulls, numbers,
non-ASCII text, a `conv_uid`), spans that start in the same millisecond, and a second file.
`list` runs with every filter, all five output formats and JSONPath extraction (`-j`, `-sj`,
`-jm`, `--value`); `tree` on known and unknown traces; `chat` with each of its flags and
formats, over run spans of DB-GPT's four services and two chats. Exits non-zero on the first difference, printing both outputs.
"""

import datetime
import os
import subprocess
import sys
import tempfile

from dbgpt.util.tracer.base import Span, SpanType
from dbgpt.util.tracer.span_storage import FileSpanStorage

BASE = datetime.datetime(2026, 12, 5, 10, 0, 0, 123000)


def at(millis: int) -> datetime.datetime:
    return BASE + datetime.timedelta(milliseconds=millis)


def write_corpus(folder: str) -> tuple[list[str], dict]:
    """Two span files written by DB-GPT's tracer; returns their paths and some ids."""
    first = FileSpanStorage(os.path.join(folder, "dbgpt_webserver_tracer.jsonl"))
    second = FileSpanStorage(os.path.join(folder, "dbgpt_model_controller_tracer.jsonl"))

    def span(storage, trace, sid, parent, name, kind, start, end, metadata, end_metadata=None):
        record = Span(trace, f"{trace}:{sid}", kind, parent and f"{trace}:{parent}", name, metadata)
        record.start_time = at(start)
        storage.append_span(record)
        record.end_time = at(end)
        if end_metadata is not None:
            record.metadata = end_metadata
        return record

    chat = "c0ffee00-0000-4000-8000-000000000001"
    ends = []
    root = span(first, chat, "1", None, "get_chat_instance", SpanType.CHAT, 0, 900,
                {"conv_uid": "conv-1", "user_input": "你好, world", "chat_mode": "chat_normal",
                 "stream": True, "echo": False, "temperature": 0.7, "max_new_tokens": 1024,
                 "select_param": None, "nested": {"a": [1, 2.5, None, "x'y"], "b": {"c": True}}})
    ends.append(root)
    stream = span(first, chat, "2", "1", "BaseChat.stream_call", SpanType.BASE, 10, 800,
                  {"temperature": 0.7, "echo": False})
    ends.append(stream)
    # Two spans starting in the same millisecond: the sort must keep file order.
    ends.append(span(first, chat, "3", "2", "DefaultModelWorker_call.generate_stream_func",
                     SpanType.RUN, 20, 700, {"llm_adapter": "proxy", "prompt": "say hi"},
                     {"output": "hi there"}))
    ends.append(span(first, chat, "4", "2", "same_millisecond", SpanType.BASE, 20, 30, {}))
    for record in reversed(ends):
        first.append_span(record)
    # A span whose end was never written, and an orphan whose parent is in no file.
    open_one = Span(chat, f"{chat}:5", SpanType.BASE, f"{chat}:1", "never_ended", {"n": 0})
    open_one.start_time = at(40)
    first.append_span(open_one)
    orphan = Span(chat, f"{chat}:7", SpanType.BASE, f"{chat}:6", "orphan", None)
    orphan.start_time = at(50)
    first.append_span(orphan)

    controller = "5eed0000-0000-4000-8000-000000000002"
    register = span(second, controller, "1", None, "/api/controller/models", SpanType.BASE,
                    1000, 1010, {"path": "/api/controller/models"})
    child = span(second, controller, "2", "1", "register_instance", SpanType.BASE, 1001, 1009,
                 {"model_name": "glm-4@llm", "host": "127.0.0.1", "port": 8001, "weight": 1.0,
                  "check_healthy": True, "healthy": False})
    second.append_span(child)
    second.append_span(register)
    # `trace chat` reads the services' `run` spans and the chat's details.
    third = FileSpanStorage(os.path.join(folder, "dbgpt_run_tracer.jsonl"))
    services = {
        "Webserver": ({"port": 5670, "light": False, "model": "glm-4", "log": None},
                      {"platform": "Linux", "python": "3.11", "cpu": {"cores": 2}}),
        "WorkerManager": ({"host": "0.0.0.0", "port": 8001, "limit": 1.5}, {"gpu": []}),
        "ModelWorker": ({"model_name": "glm-4", "model_path": "/models/glm-4" * 3}, None),
        "EmbeddingModel": ({"model_name": "bge", "device": "cpu"}, None),
    }
    for offset, (service, (params, infos)) in enumerate(services.items()):
        metadata = {"run_service": service, "params": params}
        if infos is not None:
            metadata["sys_infos"] = infos
        run = Span(f"run-{offset}", f"run-{offset}:1", SpanType.RUN, None, "run_service",
                   metadata)
        run.start_time = at(-5000 + offset)
        third.append_span(run)
    older = "0ld0c4a7-0000-4000-8000-000000000003"
    span(third, older, "1", None, "get_chat_instance", SpanType.CHAT, -3000, -2000,
         {"conv_uid": "conv-0", "user_input": "first question", "chat_mode": "chat_excel",
          "select_param": "sheet.xlsx", "model_name": "glm-4"})
    action = Span(chat, f"{chat}:8", SpanType.BASE, f"{chat}:2", "BaseChat.do_action",
                  {"model_output": {"text": "model says " * 20, "error_code": 0},
                   "ai_response_text": "最终回答 " * 30,
                   "prompt_define_response": {"sql": "SELECT 1", "thoughts": ["a", "b"]}})
    action.start_time = at(600)
    first.append_span(action)
    generate = Span(chat, f"{chat}:9", SpanType.BASE, f"{chat}:3",
                    "DefaultModelWorker.generate_stream", {"error": "CUDA out of memory"})
    generate.start_time = at(650)
    generate.end_time = at(660)
    first.append_span(generate)
    files = [first.filename, second.filename, third.filename]
    return files, {"chat": chat, "controller": controller, "root": f"{chat}:1", "older": older}


def cases(ids: dict) -> list[list[str]]:
    mid = "2026-12-05 10:00:00.143"
    listed = [
        [], ["--desc"], ["-l", "3"], ["--limit", "100"], ["-l", "0"],
        ["--search", "True"], ["--search", "true"], ["--search", "None"], ["--search", "x'y"],
        ["--search", "{'c': True}"], ["--search", "conv-1"], ["--search", "0.7"],
        ["--span_type", "chat"], ["--span_type", "run"], ["--trace_id", ids["controller"]],
        ["--span_id", ids["root"]], ["--parent_span_id", ids["root"]],
        ["--start_time", mid], ["--end_time", mid], ["--start_time", mid, "--desc", "-l", "2"],
    ]
    for output in ["text", "html", "csv", "latex", "json"]:
        listed.append(["--output", output])
        listed.append(["--output", output, "--desc", "--search", "glm"])
    # JSONPath extraction (DB-GPT needs the python-jsonpath package for it).
    listed += [
        ["-j", "metadata.conv_uid"], ["-j", "$.metadata.nested.a[1]"], ["-j", "metadata.nested"],
        ["-j", "metadata.nested", "--value"], ["-j", "metadata.nested", "--output", "json"],
        ["-j", "metadata.nested", "--value", "--output", "json"], ["-j", "$..c"],
        ["-j", "operation_name", "-sj", "span_type", "-jm", "run"],
        ["--json_path", "metadata.temperature", "-l", "1", "--desc"], ["-j", "metadata.nope"],
        ["-j", "metadata.user_input", "--value"], ["-j", "metadata", "--search", "glm"],
    ]
    commands = [["list", *flags] for flags in listed]
    commands += [["tree", "--trace_id", ids["chat"]], ["tree", "--trace_id", ids["controller"]],
                 ["tree", "--trace_id", "no-such-trace"]]
    chats = [[], ["--tree"], ["--hide_conv"], ["--hide_run_params"], ["--trace_id", ids["older"]],
             ["--trace_id", ids["chat"], "--tree", "--hide_run_params"],
             ["--trace_id", "no-such-trace"]]
    chats += [["--output", output] for output in ["html", "csv", "latex", "json"]]
    commands += [["chat", *flags] for flags in chats]
    return commands


# DB-GPT prints "Setting random seed to 42" on stdout when `CI` is set (dbgpt/configs); a user's
# shell has no `CI`, so neither does either CLI here.
ENV = {k: v for k, v in os.environ.items() if k != "CI"}


def run(command: list[str]) -> tuple[int, str]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=ENV)
    return done.returncode, done.stdout


def main() -> int:
    binary = sys.argv[1]
    dbgpt = os.path.join(os.path.dirname(sys.executable), "dbgpt")
    with tempfile.TemporaryDirectory() as folder:
        files, ids = write_corpus(folder)
        compared = 0
        # Also `chat` over the first file alone: no `run` spans, so no parameter tables.
        runs = [(command, files) for command in cases(ids)]
        runs += [(["chat"], files[:1]), (["chat", "--output", "json"], files[:1])]
        for command, named in runs:
            theirs = run([dbgpt, "trace", *command, *named])
            ours = run([binary, "trace", *command, *named])
            compared += 1
            if ours != theirs:
                print(f"DIFFERENT: trace {' '.join(command)}")
                print(f"--- dbgpt trace (exit {theirs[0]}) ---\n{theirs[1]}")
                print(f"--- registry-server trace (exit {ours[0]}) ---\n{ours[1]}")
                return 1
    print(f"trace CLI: {compared} commands print the same as DB-GPT 0.8.2's `dbgpt trace`, "
          f"byte for byte, with the same exit code", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
