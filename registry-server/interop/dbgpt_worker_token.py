"""An unmodified DB-GPT 0.8.2 worker and CLI against a registry-server that requires a token.

Usage: python registry-server/interop/dbgpt_worker_token.py PATH/TO/registry-server

DB-GPT's processes send no Authorization header of their own, but httpx and requests turn
credentials in a URL into HTTP Basic auth, and registry-server takes the token as the Basic
password. So `controller_addr = "http://registry:TOKEN@host:port"` secures a real cluster:

1. registry-server starts with --token on a free port of 127.0.0.1;
2. `dbgpt start worker -c FILE` (a proxy/openai model, so no weights are needed; nothing is
   ever asked of the model endpoint) registers its model and its WorkerManager through the
   URL's credentials;
3. `dbgpt model --address URL list` lists them;
4. a write without the token is refused 401, and one with a wrong token too;
5. SIGTERM to the worker makes it deregister through the same credentials;
6. registry-server exits 0 on SIGTERM.

Exits non-zero if any step fails.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

TOKEN = "interop-s3cret"
WORKER_TOML = """
[system]
language = "en"
log_level = "INFO"

[service.model.worker]
host = "127.0.0.1"
port = {worker_port}
controller_addr = "{controller}"

[[models.llms]]
name = "token-interop"
provider = "proxy/openai"
api_base = "http://127.0.0.1:9/v1"
api_key = "sk-unused"
"""


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(binary: str) -> tuple[subprocess.Popen, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    server = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--storage-url", "memory",
         "--span-file", "off", "--log-level", "warn", "--token", TOKEN],
        stdout=subprocess.PIPE, text=True, env=env,
    )
    line = server.stdout.readline().strip()
    if "http://" not in line:
        server.kill()
        sys.exit(f"registry-server did not start: {line!r}")
    return server, int(line.rsplit(":", 1)[1].strip("/"))


def listing(port: int) -> list:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/controller/models", timeout=5) as answer:
        return json.load(answer)


def write_status(port: int, authorization: str | None) -> int:
    body = json.dumps({"model_name": "intruder", "host": "h", "port": 1}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/controller/models", data=body, method="POST",
        headers={"Content-Type": "application/json"},
    )
    if authorization:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def check(condition: bool, what: str) -> None:
    print(("ok   " if condition else "FAIL ") + what, flush=True)
    if not condition:
        raise SystemExit(1)


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    dbgpt = os.path.join(os.path.dirname(sys.executable), "dbgpt")
    server, port = start_server(sys.argv[1])
    controller = f"http://registry:{TOKEN}@127.0.0.1:{port}"
    workdir = tempfile.mkdtemp(prefix="dbgpt-token-")
    config = os.path.join(workdir, "worker.toml")
    with open(config, "w") as file:
        file.write(WORKER_TOML.format(worker_port=free_port(), controller=controller))
    log = open(os.path.join(workdir, "worker.log"), "w")
    worker = subprocess.Popen([dbgpt, "start", "worker", "-c", config], stdout=log,
                              stderr=subprocess.STDOUT, cwd=workdir)
    try:
        wanted = {"token-interop@llm", "WorkerManager@service"}
        deadline = time.monotonic() + 120
        names: set = set()
        while time.monotonic() < deadline and worker.poll() is None:
            names = {i["model_name"] for i in listing(port) if i["healthy"]}
            if wanted <= names:
                break
            time.sleep(1)
        check(wanted <= names, f"the worker registered through Basic credentials: {sorted(names)}")

        listed = subprocess.run([dbgpt, "model", "--address", controller, "list"],
                                capture_output=True, text=True, timeout=120, cwd=workdir)
        check(listed.returncode == 0 and "token-interop" in listed.stdout,
              "`dbgpt model list` through the same address lists the model")

        check(write_status(port, None) == 401, "a write without the token is 401")
        check(write_status(port, "Bearer wrong") == 401, "a write with a wrong token is 401")

        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        left = {i["model_name"] for i in listing(port) if i["healthy"]}
        check("token-interop@llm" not in left, "the stopping worker deregistered with the token")
    except SystemExit:
        log.flush()
        with open(log.name) as text:
            print("--- worker log (tail) ---\n" + "".join(text.readlines()[-40:]), flush=True)
        raise
    finally:
        if worker.poll() is None:
            worker.kill()
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=30)
    check(code == 0, f"registry-server exited {code} after SIGTERM")
    return 0


if __name__ == "__main__":
    sys.exit(main())
