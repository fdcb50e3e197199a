"""Sends one corpus of requests to DB-GPT 0.8.2's own controller and to registry-server, and
compares the answers: status, media type, redirect target and body (JSON compared as values,
listings in order, `last_heartbeat` as an instant within 5 s).

Usage: python registry-server/interop/answers_differential.py PATH/TO/registry-server

Runs twice: both servers on memory storage, then both on a SQLite file of their own. Every
difference must be one of KNOWN_DIFFERENCES (deliberate, or listed as open in the README);
anything else fails. Prints how many requests were compared.

Also reads both servers' `/openapi.json`: ours must pass openapi-spec-validator and describe
every operation DB-GPT's describes.
"""

import datetime
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
DBGPT_CONTROLLER = os.path.join(HERE, "..", "benches", "dbgpt_controller_server.py")

WORKER = {
    "model_name": "glm-4-9b-chat@llm", "host": "172.17.0.2", "port": 8001, "weight": 1.0,
    "check_healthy": True, "healthy": False, "enabled": True, "prompt_template": None,
    "last_heartbeat": None, "remove_from_registry": False,
}
EMBEDDER = dict(WORKER, model_name="bge-large-zh@text2vec", host="172.17.0.3", port=8002, prompt_template="t")
MODELS = "/api/controller/models"
BEAT = "/api/controller/heartbeat"


def body(**fields):
    return json.dumps(fields)


# (name, method, path, body or None, content type). Forms DB-GPT's workers, CLI and API
# server send, then malformed ones.
CORPUS = [
    ("health", "GET", "/api/health", None, None),
    ("register a worker", "POST", MODELS, json.dumps(WORKER), "application/json"),
    ("register an embedder", "POST", MODELS, json.dumps(EMBEDDER), "application/json"),
    ("heartbeat", "POST", BEAT, json.dumps(WORKER), "application/json"),
    ("heartbeat of an unknown instance", "POST", BEAT, body(model_name="new@llm", host="10.0.0.9", port=9000), "application/json"),
    ("list all", "GET", MODELS, None, None),
    ("list one model", "GET", MODELS + "?model_name=glm-4-9b-chat%40llm", None, None),
    ("list healthy (true)", "GET", MODELS + "?healthy_only=true", None, None),
    ("list healthy (1)", "GET", MODELS + "?model_name=glm-4-9b-chat%40llm&healthy_only=1", None, None),
    ("list healthy (False)", "GET", MODELS + "?healthy_only=False", None, None),
    ("list an unknown model", "GET", MODELS + "?model_name=nothing", None, None),
    ("re-register with a null prompt_template", "POST", MODELS, json.dumps(dict(EMBEDDER, prompt_template=None)), "application/json"),
    ("list after re-register", "GET", MODELS + "?model_name=bge-large-zh%40text2vec", None, None),
    ("lax types", "POST", MODELS, body(model_name="lax@llm", host="h", port="8003", weight="0.5", enabled="yes"), "application/json"),
    ("deregister with the CLI's extra fields", "DELETE", MODELS + "?model_name=glm-4-9b-chat%40llm&host=172.17.0.2&port=8001&weight=1.0&check_healthy=true&healthy=false&enabled=true&prompt_template=&last_heartbeat=&remove_from_registry=false", None, None),
    ("list after deregister", "GET", MODELS + "?model_name=glm-4-9b-chat%40llm", None, None),
    ("deregister and remove", "DELETE", MODELS + "?model_name=new%40llm&host=10.0.0.9&port=9000&remove_from_registry=true", None, None),
    ("list after removal", "GET", MODELS + "?model_name=new%40llm", None, None),
    # Malformed.
    ("empty object", "POST", MODELS, "{}", "application/json"),
    ("missing port", "POST", BEAT, body(model_name="m", host="h"), "application/json"),
    ("port not a number", "POST", MODELS, body(model_name="m", host="h", port="abc"), "application/json"),
    ("port with a fraction", "POST", MODELS, body(model_name="m", host="h", port=1.5), "application/json"),
    ("port a list", "POST", MODELS, body(model_name="m", host="h", port=[1]), "application/json"),
    ("port null", "POST", MODELS, body(model_name="m", host="h", port=None), "application/json"),
    ("name a number", "POST", MODELS, body(model_name=5, host="h", port=1), "application/json"),
    ("name null", "POST", MODELS, body(model_name=None, host="h", port=1), "application/json"),
    ("weight not a number", "POST", MODELS, body(model_name="m", host="h", port=1, weight="x"), "application/json"),
    ("enabled not a boolean", "POST", MODELS, body(model_name="m", host="h", port=1, enabled="maybe"), "application/json"),
    ("enabled 2", "POST", MODELS, body(model_name="m", host="h", port=1, enabled=2), "application/json"),
    ("prompt_template a number", "POST", MODELS, body(model_name="m", host="h", port=1, prompt_template=5), "application/json"),
    ("not JSON", "POST", MODELS, "not-json", "application/json"),
    ("a JSON string", "POST", MODELS, '"s"', "application/json"),
    ("a JSON list", "POST", MODELS, "[1]", "application/json"),
    ("empty body", "POST", MODELS, "", "application/json"),
    ("text/plain", "POST", BEAT, json.dumps(WORKER), "text/plain"),
    ("deregister without port", "DELETE", MODELS + "?model_name=m&host=h", None, None),
    ("deregister with a bad port", "DELETE", MODELS + "?model_name=m&host=h&port=x", None, None),
    ("healthy_only not a boolean", "GET", MODELS + "?healthy_only=maybe", None, None),
    ("unknown /api path", "GET", "/api/nothing", None, None),
    ("unknown path", "GET", "/nothing", None, None),
    ("wrong method", "PUT", MODELS, None, None),
    ("trailing slash (GET)", "GET", MODELS + "/", None, None),
    ("trailing slash (POST)", "POST", BEAT + "/", json.dumps(WORKER), "application/json"),
    ("final list", "GET", MODELS, None, None),
    # Deliberate differences: this registry refuses what DB-GPT stores.
    ("port out of range", "POST", MODELS, body(model_name="m", host="h", port=70000), "application/json"),
    ("empty name", "POST", MODELS, body(model_name="", host="h", port=1), "application/json"),
    ("control character in a name", "POST", MODELS, body(model_name="m\u0007@llm", host="h", port=1), "application/json"),
    ("the separator in a name", "POST", MODELS, body(model_name="a___$$$$___b@llm", host="h", port=1), "application/json"),
    ("name over 128 characters", "POST", MODELS, body(model_name="m" * 129, host="h", port=1), "application/json"),
    ("negative weight", "POST", BEAT, body(model_name="m@llm", host="h", port=1, weight=-1), "application/json"),
]

# Requests whose answers differ on purpose (README, "Deliberate differences from DB-GPT").
KNOWN_DIFFERENCES = {
    "port out of range": "refused (422, value_error on port); DB-GPT stores it",
    "empty name": "refused (422, value_error on model_name); DB-GPT stores it",
    "control character in a name": "refused (422, value_error on model_name); DB-GPT stores it",
    "the separator in a name": "refused (422, value_error on model_name); DB-GPT stores it",
    "name over 128 characters": "refused (422, value_error on model_name); DB-GPT stores it",
    "negative weight": "refused (422, value_error on weight); DB-GPT stores it",
}


def fastapi_refusal(answer) -> bool:
    """A deliberate refusal keeps DB-GPT's body shape: 422 with pydantic-style `detail`."""
    status, media, text, _ = answer
    try:
        detail = json.loads(text)["detail"]
    except (ValueError, KeyError, TypeError):
        return False
    return (status == 422 and media == "application/json" and isinstance(detail, list)
            and all({"type", "loc", "msg", "input"} <= set(item) and item["type"] == "value_error"
                    and item["loc"][0] == "body" for item in detail))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/api/health", timeout=2).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def send(base: str, method: str, path: str, data, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    request = urllib.request.Request(base + path, data=None if data is None else data.encode(),
                                     method=method, headers=headers)
    try:
        answer = OPENER.open(request, timeout=10)
    except urllib.error.HTTPError as error:
        answer = error
    media = (answer.headers.get("Content-Type") or "").split(";")[0].strip()
    location = answer.headers.get("Location")
    if location:
        location = location.split("//", 1)[-1].split("/", 1)[-1]
    return answer.status, media, answer.read().decode(), location


def instant(text):
    if text is None:
        return None
    value = datetime.datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.astimezone()  # naive: the server's local time, as DB-GPT writes it
    return value.timestamp()


def alike(a, b) -> bool:
    """JSON values equal, every `last_heartbeat` compared as an instant within 5 s."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(alike(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return False
        for key in a:
            if key == "last_heartbeat" and isinstance(a[key], str) and isinstance(b[key], str):
                if abs(instant(a[key]) - instant(b[key])) > 5:
                    return False
            elif not alike(a[key], b[key]):
                return False
        return True
    return a == b and type(a) is type(b)


def same_body(ours: str, theirs: str) -> bool:
    try:
        return alike(json.loads(ours), json.loads(theirs))
    except ValueError:
        return ours == theirs


def compare_openapi(ours_url: str, theirs_url: str) -> list[str]:
    """Our description is valid OpenAPI and covers every operation of DB-GPT's."""
    from openapi_spec_validator import validate

    ours = json.loads(urllib.request.urlopen(ours_url + "/openapi.json", timeout=10).read())
    theirs = json.loads(urllib.request.urlopen(theirs_url + "/openapi.json", timeout=10).read())
    failures = []
    try:
        validate(ours)
    except Exception as error:  # the validator's own error types vary by version
        failures.append(f"/openapi.json is not valid OpenAPI: {error}")
    theirs_operations = [(path, method) for path, methods in theirs["paths"].items() for method in methods]
    ours_count = sum(len(methods) for methods in ours["paths"].values())
    for path, method in theirs_operations:
        if method not in ours["paths"].get(path, {}):
            failures.append(f"/openapi.json lacks DB-GPT's {method.upper()} {path}")
    print(f"openapi: ours {ours['openapi']}, {ours_count} operations, validated by openapi-spec-validator; "
          f"DB-GPT's {theirs.get('openapi')}, {len(theirs_operations)} operations, "
          f"{len(theirs_operations) - len([f for f in failures if 'lacks' in f])} of them in ours", flush=True)
    return failures


def run(binary: str, storage: str, folder: str) -> tuple[int, list[str], list[str]]:
    ours_port, theirs_port = free_port(), free_port()
    ours_storage = "memory" if storage == "memory" else "sqlite://" + os.path.join(folder, "ours.db")
    theirs_storage = "memory" if storage == "memory" else os.path.join(folder, "dbgpt.db")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    ours = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{ours_port}", "--storage-url",
                             ours_storage, "--span-file", "off", "--log-level", "error"],
                            env=env, stdout=subprocess.DEVNULL)
    theirs = subprocess.Popen([sys.executable, DBGPT_CONTROLLER, str(theirs_port), theirs_storage],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    failures = []
    try:
        ours_url, theirs_url = f"http://127.0.0.1:{ours_port}", f"http://127.0.0.1:{theirs_port}"
        wait_until_up(ours_url)
        wait_until_up(theirs_url)
        if storage == "memory":
            failures.extend(compare_openapi(ours_url, theirs_url))
        for name, method, path, data, content_type in CORPUS:
            a = send(ours_url, method, path, data, content_type)
            b = send(theirs_url, method, path, data, content_type)
            same = a[0] == b[0] and a[1] == b[1] and a[3] == b[3] and same_body(a[2], b[2])
            if same:
                if name in KNOWN_DIFFERENCES:
                    failures.append(f"{name}: expected to differ, but answered alike")
                continue
            if name in KNOWN_DIFFERENCES:
                if not fastapi_refusal(a):
                    failures.append(f"{name}: not refused in DB-GPT's body shape: {a!r}")
                continue
            failures.append(f"{name}: ours {a[0]} {a[1]} {a[2]!r} / DB-GPT {b[0]} {b[1]} {b[2]!r}")
    finally:
        for process in (ours, theirs):
            process.terminate()
            process.wait(timeout=30)
    return len(CORPUS), failures


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    total, failed = 0, False
    for storage in ("memory", "sqlite"):
        with tempfile.TemporaryDirectory() as folder:
            count, failures = run(sys.argv[1], storage, folder)
        total += count
        print(f"answers on {storage}: {count} requests compared with DB-GPT 0.8.2's controller, "
              f"{len(failures)} unexpected differences, {len(KNOWN_DIFFERENCES)} deliberate", flush=True)
        for failure in failures:
            print("  DIFFERENT " + failure, flush=True)
        failed |= bool(failures)
    print(f"answers: {total} requests compared in all", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
