"""A whole DB-GPT 0.8.2 cluster, unmodified, on registry-server: workers, API server and CLI.

Usage: python registry-server/interop/dbgpt_cluster.py PATH/TO/registry-server

The script serves a small OpenAI-compatible endpoint itself (chat completions, streamed or
not, deterministic embeddings, a model list), so no network and no weights are needed. Then,
once without a token and once with registry-server at --token and every DB-GPT process given
`controller_addr = "http://registry:TOKEN@127.0.0.1:PORT"`:

1. registry-server starts with a 6 s heartbeat timeout; `dbgpt start worker -c FILE` runs
   two proxy/openai LLM workers of one model and a proxy/openai embedding worker, beating
   every 2 s, and `dbgpt start apiserver -c FILE` DB-GPT's OpenAI-compatible API server;
2. once the three instances are healthy, the API server lists both models and answers a chat
   (plain and streamed) and an embedding with the endpoint's own answers, and `dbgpt model
   --address URL list` lists the instances (with the token, a write without it is 401);
3. SIGKILL to one chat worker: its instance expires, the other stays healthy and chats still
   succeed; SIGTERM to the other: it deregisters at once and the API server drops the model;
4. registry-server exits 0 on SIGTERM.

Exits non-zero at the first failed check, after printing the tails of the relevant logs.
"""

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "cluster-s3cret"
CHAT, EMBED = "cluster-chat", "cluster-embed"
DBGPT = os.path.join(os.path.dirname(sys.executable), "dbgpt")
# Everything here is on 127.0.0.1: a proxy from the environment must not get in the way.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
ENV = {k: v for k, v in os.environ.items()
       if not k.startswith("REGISTRY_") and "proxy" not in k.lower()}
ENV["NO_PROXY"] = ENV["no_proxy"] = "127.0.0.1,localhost"

WORKER_TOML = """
[system]
log_level = "INFO"
[service.model.worker]
host = "127.0.0.1"
port = {port}
controller_addr = "{controller}"
heartbeat_interval = 2
"""
# An LLM takes the API's base URL (openai's client adds the paths); an embedding model the
# full URL of the embeddings endpoint (DB-GPT's OpenAPIEmbeddings posts to it as it is).
MODEL_TOML = """
[[models.{section}]]
name = "{name}"
provider = "proxy/openai"
{url}
api_key = "sk-interop"
"""
APISERVER_TOML = """
[service.model.api]
host = "127.0.0.1"
port = {port}
controller_addr = "{controller}"
"""


def reply(prompt) -> str:
    """The stub's answer names the last user message, so a reply proves the prompt got through."""
    return f"stub answer to {prompt!r}"


def vector(text: str) -> list:
    # Multiples of 1/256 survive every float round trip exactly, so answers compare with ==.
    return [b / 256 for b in hashlib.sha256(text.encode()).digest()[:8]]


class Stub(BaseHTTPRequestHandler):
    """The OpenAI API as DB-GPT's clients use it: openai's AsyncOpenAI for chat (the worker
    streams even for a non-streamed API request) and a plain requests POST for embeddings."""

    seen: set = set()  # (path, model) of every request, to check what the workers sent

    def log_message(self, *args):
        pass

    def answer(self, body: dict, status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path != "/v1/models":
            return self.answer({"error": {"message": "not found"}}, 404)
        self.answer({"object": "list", "data": [{"id": m, "object": "model", "created": 0,
                                                 "owned_by": "interop"} for m in (CHAT, EMBED)]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        Stub.seen.add((self.path, body.get("model")))
        if self.path == "/v1/embeddings":
            texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
            return self.answer({"object": "list", "model": body.get("model"), "data": [
                {"object": "embedding", "index": i, "embedding": vector(t)}
                for i, t in enumerate(texts)],
                "usage": {"prompt_tokens": len(texts), "total_tokens": len(texts)}})
        if self.path != "/v1/chat/completions":
            return self.answer({"error": {"message": "not found"}}, 404)
        text = reply([m.get("content") for m in body["messages"] if m["role"] == "user"][-1])
        base = {"id": "chatcmpl-interop", "created": int(time.time()), "model": body.get("model")}
        usage = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
        if not body.get("stream"):
            return self.answer({**base, "object": "chat.completion", "usage": usage, "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text},
                 "finish_reason": "stop"}]})
        # No Content-Length: HTTP/1.0 ends the event stream by closing the connection.
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        pieces = [text[:5], text[5:12], text[12:]]  # several deltas, to be put together again
        for n, piece in enumerate(pieces):
            last = n == len(pieces) - 1
            chunk = {**base, "object": "chat.completion.chunk", "choices": [
                {"index": 0, "delta": {"role": "assistant", "content": piece},
                 "finish_reason": "stop" if last else None}]}
            if last:
                chunk["usage"] = usage
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")


def http(method: str, url: str, body=None, timeout: float = 60) -> tuple:
    """(status, body bytes); status 0 when nothing answers yet."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"}, method=method)
    try:
        with OPENER.open(request, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def comparable(model_list: dict) -> dict:
    """A model list without the creation times and permission ids DB-GPT draws per call."""
    for card in model_list.get("data", []):
        card.pop("created", None)
        for permission in card.get("permission", []):
            permission.pop("id", None)
            permission.pop("created", None)
    return model_list


class Run:
    """One cluster: registry-server, the DB-GPT processes, their logs, and the checks."""

    passed = 0

    def __init__(self, binary: str, token):
        self.token, self.procs, self.logs = token, {}, {}
        self.workdir = tempfile.mkdtemp(prefix="dbgpt-cluster-")
        flags = ["--token", token] if token else []
        self.server = subprocess.Popen(
            [binary, "serve", "--listen", "127.0.0.1:0", "--storage-url", "memory",
             "--span-file", "off", "--log-level", "warn", "--heartbeat-interval", "1s",
             "--heartbeat-timeout", "6s", *flags], stdout=subprocess.PIPE, text=True, env=ENV)
        line = self.server.stdout.readline().strip()
        if "http://" not in line:
            self.server.kill()
            sys.exit(f"registry-server did not start: {line!r}")
        self.port = int(line.rsplit(":", 1)[1].strip("/"))
        auth = f"registry:{token}@" if token else ""
        self.controller = f"http://{auth}127.0.0.1:{self.port}"

    def check(self, condition: bool, what: str, *relevant: str) -> None:
        print(("ok   " if condition else "FAIL ") + what, flush=True)
        if condition:
            Run.passed += 1
            return
        for name in relevant or self.logs:
            with open(self.logs[name], errors="replace") as text:
                print(f"--- {name} log (tail) ---\n" + "".join(text.readlines()[-30:]), flush=True)
        print(f"(logs kept in {self.workdir})", flush=True)
        raise SystemExit(1)

    def start(self, name: str, command: str, config: str) -> None:
        """`dbgpt start COMMAND -c FILE` in a directory of its own, DB-GPT's log files too."""
        home = os.path.join(self.workdir, name)
        os.makedirs(home)
        with open(os.path.join(home, "dbgpt.toml"), "w") as file:
            file.write(config)
        self.logs[name] = os.path.join(home, "out.log")
        with open(self.logs[name], "w") as log:
            self.procs[name] = subprocess.Popen(
                [DBGPT, "start", command, "-c", "dbgpt.toml"], cwd=home, stdout=log,
                stderr=subprocess.STDOUT, env={**ENV, "DBGPT_LOG_DIR": home},
                start_new_session=True)  # its own group, so cleanup reaches any child too

    def health(self) -> dict:
        """registry-server's listing: (model_name, port) -> healthy."""
        status, data = http("GET", f"http://127.0.0.1:{self.port}/api/controller/models")
        return {(i["model_name"], i["port"]): i["healthy"]
                for i in (json.loads(data) if status == 200 else [])}

    def wait(self, condition, seconds: float):
        deadline = time.monotonic() + seconds
        while not (result := condition()) and time.monotonic() < deadline:
            time.sleep(0.5)
        return result

    def api(self, path: str, body=None) -> tuple:
        status, data = http("GET" if body is None else "POST",
                            f"http://127.0.0.1:{self.api_port}/api/v1/{path}", body)
        return status, data.decode(errors="replace")

    def api_models(self) -> set:
        status, data = self.api("models")
        return {m["id"] for m in json.loads(data)["data"]} if status == 200 else set()

    def chat(self, prompt: str, stream: bool = False) -> str:
        messages = [{"role": "user", "content": prompt}]
        status, data = self.api("chat/completions", {"model": CHAT, "messages": messages,
                                                     "stream": stream})
        if status != 200:
            return f"HTTP {status}: {data[:300]}"
        if not stream:
            return json.loads(data)["choices"][0]["message"].get("content") or data[:300]
        events = [line[6:] for line in data.splitlines() if line.startswith("data: ")]
        return "".join(json.loads(e)["choices"][0]["delta"].get("content") or ""
                       for e in events if e != "[DONE]")

    def scenario(self, stub: str) -> None:
        ports = {name: free_port() for name in ("chat-a", "chat-b", "embed", "apiserver")}
        chat = MODEL_TOML.format(section="llms", name=CHAT, url=f'api_base = "{stub}/v1"')
        embedding = MODEL_TOML.format(section="embeddings", name=EMBED,
                                      url=f'api_url = "{stub}/v1/embeddings"')
        for name, model in (("chat-a", chat), ("chat-b", chat), ("embed", embedding)):
            self.start(name, "worker", WORKER_TOML.format(
                port=ports[name], controller=self.controller) + model)
        self.api_port = ports["apiserver"]
        self.start("apiserver", "apiserver", APISERVER_TOML.format(
            port=self.api_port, controller=self.controller))
        a, b = (CHAT + "@llm", ports["chat-a"]), (CHAT + "@llm", ports["chat-b"])
        e = (EMBED + "@text2vec", ports["embed"])
        # Each worker also registers its WorkerManager@service, which DB-GPT beats every 20 s
        # whatever heartbeat_interval says: under a 6 s timeout it flaps, so only its presence
        # is waited for.
        services = {("WorkerManager@service", ports[n]) for n in ("chat-a", "chat-b", "embed")}

        def ready() -> bool:
            health = self.health()
            return all(health.get(k) for k in (a, b, e)) and services <= health.keys()

        up = self.wait(ready, 240)
        print("     registered: " + ", ".join(f"{m}:{p}{'' if ok else ' (unhealthy)'}"
                                              for (m, p), ok in sorted(self.health().items())))
        self.check(up, "both chat instances and the embedding instance are healthy,"
                   " each worker's WorkerManager@service registered", "chat-a", "chat-b", "embed")

        models = self.wait(lambda: {CHAT, EMBED} <= self.api_models(), 120)
        self.check(models, f"the API server lists {CHAT} and {EMBED}", "apiserver")
        # Our /v1/models answers what DB-GPT's API server answers at /api/v1/models for the
        # same registry; only the times and permission ids it draws anew on each call differ.
        _, theirs = self.api("models")
        _, ours = http("GET", f"http://127.0.0.1:{self.port}/v1/models")
        theirs, ours = comparable(json.loads(theirs)), comparable(json.loads(ours))
        if ours != theirs:
            print(f"     ours:   {json.dumps(ours)}\n     theirs: {json.dumps(theirs)}")
        ids = [card["id"] for card in ours.get("data", [])]
        self.check(ours == theirs, f"registry-server's /v1/models is the API server's"
                   f" /api/v1/models, field for field: {ids}", "apiserver")
        for stream, prompt in ((False, "ping"), (True, "stream")):
            answer = self.chat(prompt, stream)
            self.check(answer == reply(prompt), f"a {'streamed ' if stream else ''}chat through"
                       f" the API server answers the endpoint's text: {answer!r}",
                       "apiserver", "chat-a", "chat-b")
        status, data = self.api("embeddings", {"model": EMBED, "input": ["alpha", "beta"]})
        vectors = [d["embedding"] for d in json.loads(data)["data"]] if status == 200 else data
        self.check(vectors == [vector("alpha"), vector("beta")],
                   "embeddings through the API server are the endpoint's vectors", "apiserver",
                   "embed")
        self.check({("/v1/chat/completions", CHAT), ("/v1/embeddings", EMBED)} <= Stub.seen,
                   f"the workers asked the endpoint for {CHAT} and {EMBED}")
        listed = subprocess.run([DBGPT, "model", "--address", self.controller, "list"],
                                capture_output=True, text=True, timeout=120, env=ENV,
                                cwd=self.workdir)
        ok = listed.returncode == 0 and CHAT in listed.stdout and EMBED in listed.stdout and all(
            str(ports[n]) in listed.stdout for n in ("chat-a", "chat-b", "embed"))
        if not ok:
            print(listed.stdout + listed.stderr[-3000:])
        self.check(ok, "`dbgpt model --address CONTROLLER list` lists the three instances")
        if self.token:
            status, _ = http("POST", f"http://127.0.0.1:{self.port}/api/controller/models",
                             {"model_name": "intruder@llm", "host": "h", "port": 1})
            self.check(status == 401, f"a write without the token is 401 (got {status})")

        # A crash: no deregistration, so only the heartbeat timeout can take the instance out.
        killed_at = time.monotonic()
        os.killpg(self.procs["chat-a"].pid, signal.SIGKILL)
        self.procs["chat-a"].wait()
        gone = self.wait(lambda: (h := self.health()).get(a) is False and h, 30)
        self.check(bool(gone), f"the SIGKILLed chat instance turned unhealthy after"
                   f" {time.monotonic() - killed_at:.1f} s")
        self.check(gone[b] and gone[e], "the other chat and the embedding instance stay"
                   " healthy", "chat-b", "embed")
        answers = [self.chat(f"after crash {n}") for n in range(3)]
        self.check(answers == [reply(f"after crash {n}") for n in range(3)],
                   "three chats after the crash all reach the surviving worker",
                   "apiserver", "chat-b")

        # A clean stop deregisters during shutdown: the instance is out when the process is,
        # and sooner than 4 s (timeout less beat interval), before it could have expired.
        stopped_at = time.monotonic()
        self.procs["chat-b"].send_signal(signal.SIGTERM)
        exited = self.wait(lambda: self.procs["chat-b"].poll() is not None, 60)
        took = time.monotonic() - stopped_at
        self.check(exited and self.health().get(b) is False and took < 4, "the SIGTERMed chat"
                   f" instance is unhealthy as its worker exits, {took:.1f} s later", "chat-b")
        models = self.api_models()
        self.check(CHAT not in models and EMBED in models,
                   f"the API server now lists only {sorted(models)}", "apiserver")

    def stop(self) -> int:
        """Kills what is left, whatever happened, and stops registry-server: its exit code."""
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.server.send_signal(signal.SIGTERM)
        try:
            return self.server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.server.kill()
            return self.server.wait()


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    started = time.monotonic()
    stub = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    stub.daemon_threads = True
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    stub_url = f"http://127.0.0.1:{stub.server_address[1]}"
    try:
        for token in (None, TOKEN):
            print(f"--- DB-GPT cluster, {'token' if token else 'no token'}", flush=True)
            Stub.seen.clear()
            run = Run(sys.argv[1], token)
            try:
                run.scenario(stub_url)
            finally:
                code = run.stop()
            run.check(code == 0, f"registry-server exited {code} after SIGTERM")
            shutil.rmtree(run.workdir, ignore_errors=True)  # kept when a check failed
    finally:
        stub.shutdown()
    print(f"dbgpt cluster: {Run.passed} checks passed (no token, token)"
          f" in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
