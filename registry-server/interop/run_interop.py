"""Starts registry-server and runs DB-GPT's own client against it.

Usage: python registry-server/interop/run_interop.py PATH/TO/registry-server

Run it with the Python of a virtual environment; the packages of requirements.txt beside this
file are installed into it first if they are missing. The server is started on a free port of
127.0.0.1 with memory storage and no span file, the checks of dbgpt_client_interop.py run
against it, and the server is then stopped with SIGTERM and must exit 0. Exits non-zero if
any step fails.
"""

import asyncio
import importlib.util
import os
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REQUIREMENTS = os.path.join(HERE, "requirements.txt")
NEEDED = ("dbgpt", "httpx", "requests")


def ensure_requirements() -> None:
    missing = [name for name in NEEDED if importlib.util.find_spec(name) is None]
    if not missing:
        return
    if sys.prefix == sys.base_prefix:
        sys.exit(f"missing {missing}; run inside a virtual environment, or: pip install -r {REQUIREMENTS}")
    print(f"installing {missing} from {REQUIREMENTS}", flush=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", REQUIREMENTS],
        check=True,
    )


def start(binary: str) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    server = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--storage-url", "memory", "--span-file", "off", "--log-level", "warn"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    line = server.stdout.readline().strip()
    if "http://" not in line:
        server.kill()
        sys.exit(f"registry-server did not start: {line!r}")
    return server, "http://" + line.rsplit("http://", 1)[1]


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    ensure_requirements()
    sys.path.insert(0, HERE)
    import dbgpt_client_interop

    server, url = start(sys.argv[1])
    print(f"registry-server at {url}", flush=True)
    try:
        result = asyncio.run(dbgpt_client_interop.main(url))
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=30)
    if code != 0:
        print(f"registry-server exited with {code} after SIGTERM", flush=True)
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
