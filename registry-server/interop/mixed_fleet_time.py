"""A mixed fleet on one table: DB-GPT 0.8.2's own controller and registry-server.

Usage: python registry-server/interop/mixed_fleet_time.py PATH/TO/registry-server [URL…]

With a MySQL URL (`mysql://root@127.0.0.1:3306/test`) or a PostgreSQL URL
(`postgres://postgres@127.0.0.1:5432/test`), the binary built with that backend's feature, the
same runs again on a scratch database of that server, dropped after. DB-GPT's controller
reaches MariaDB through pymysql and PostgreSQL through psycopg2.

DB-GPT stamps and checks `last_heartbeat` as naive local time (`datetime.now()` in its
process's zone); registry-server keeps the same time in its `time_zone` (`local` by default).
For each zone, both processes run with that `TZ` on one table, both started from the same
DB-GPT controller file (`dbgpt start controller -c FILE`, `registry-server serve --config FILE
--listen …`; heartbeat timeout 4 s, sweeps every second):

1. instance `via-dbgpt` beats only through DB-GPT, `via-ours` only through registry-server;
2. after more than a timeout, each is healthy as seen through the other;
3. the two listings agree, field for field (`last_heartbeat` in DB-GPT's format included);
4. once both stop beating, both expire as seen through both.

Then the in-place move of the README's migration guide, on SQLite: DB-GPT's controller runs
alone on the table DB-GPT's own model creates, a worker beats through it, it stops, and ours
starts from the same file: it lists DB-GPT's row exactly as DB-GPT listed it, the worker beats
on through it, and once it stops it expires.

Exits non-zero if any step fails.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

ZONES = ["Asia/Shanghai", "America/New_York"]
TIMEOUT_SECS = 4
INTERVAL_SECS = 1
CONTROLLER_TOML = """
[service.model.controller]
host = "127.0.0.1"
port = {port}
heartbeat_interval_secs = {interval}
heartbeat_timeout_secs = {timeout}

[service.model.controller.registry.database]
{database}
"""


class Sqlite:
    """A SQLite file in the scenario's folder."""

    name = "SQLite"

    def __init__(self, folder: str):
        self.path = os.path.join(folder, "registry.db")

    def dbgpt_toml(self) -> str:
        return f'type = "sqlite"\npath = "{self.path}"'


class ScratchDatabase:
    """A scratch database on a database server, created here and dropped after."""

    name, kind, default_port, default_user = "", "", 0, ""

    def __init__(self, url: str, zone: str):
        parts = urllib.parse.urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or self.default_port
        self.user = urllib.parse.unquote(parts.username or self.default_user)
        self.password = urllib.parse.unquote(parts.password or "")
        self.database = f"fleet_{os.getpid()}_{zone.split('/')[-1].lower()}"
        self.admin = self.connect()
        with self.admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {self.database}")

    def connect(self):
        raise NotImplementedError

    def dbgpt_toml(self) -> str:
        return (f'type = "{self.kind}"\nhost = "{self.host}"\nport = {self.port}\n'
                f'user = "{self.user}"\npassword = "{self.password}"\n'
                f'database = "{self.database}"')

    def drop(self) -> None:
        with self.admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {self.database}{self.drop_suffix}")
        self.admin.close()

    drop_suffix = ""


class Mariadb(ScratchDatabase):
    name, kind, default_port, default_user = "MariaDB", "mysql", 3306, "root"

    def connect(self):
        import pymysql  # DB-GPT's own MySQL driver (a dependency of dbgpt-ext)

        return pymysql.connect(host=self.host, port=self.port, user=self.user,
                               password=self.password, autocommit=True)


class Postgres(ScratchDatabase):
    name, kind, default_port, default_user = "PostgreSQL", "postgresql", 5432, "postgres"
    drop_suffix = " WITH (FORCE)"

    def connect(self):
        import psycopg2  # the driver DB-GPT's controller uses for `type = "postgresql"`

        admin = psycopg2.connect(host=self.host, port=self.port, user=self.user,
                                 password=self.password, dbname="postgres")
        admin.autocommit = True
        return admin


SERVERS = {"mysql": Mariadb, "postgres": Postgres, "postgresql": Postgres}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str):
    with urllib.request.urlopen(url, timeout=5) as answer:
        return json.load(answer)


def heartbeat(base: str, host: str) -> None:
    body = json.dumps({"model_name": "fleet@llm", "host": host, "port": 1}).encode()
    request = urllib.request.Request(
        f"{base}/api/controller/heartbeat", data=body, method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        answer.read()


def listing(base: str, healthy_only: bool) -> list:
    flag = "true" if healthy_only else "false"
    rows = get(f"{base}/api/controller/models?healthy_only={flag}")
    return sorted(rows, key=lambda row: (row["host"], row["port"]))


def write_controller_toml(folder: str, database: str) -> tuple[str, int]:
    """DB-GPT's controller configuration; both controllers are started from this one file."""
    port = free_port()
    config = os.path.join(folder, "controller.toml")
    with open(config, "w") as file:
        file.write(CONTROLLER_TOML.format(
            port=port, interval=INTERVAL_SECS, timeout=TIMEOUT_SECS, database=database))
    return config, port


def start_ours(binary: str, zone: str, config: str) -> tuple[subprocess.Popen, str]:
    # Storage and heartbeat timing come from DB-GPT's file; only the port is our own.
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env["TZ"] = zone
    server = subprocess.Popen(
        [binary, "serve", "--config", config, "--listen", "127.0.0.1:0",
         "--span-file", "off", "--log-level", "warn"],
        stdout=subprocess.PIPE, text=True, env=env,
    )
    line = server.stdout.readline().strip()
    if "http://" not in line:
        server.kill()
        sys.exit(f"registry-server did not start: {line!r}")
    return server, "http://127.0.0.1:" + line.rsplit(":", 1)[1].strip("/")


def start_dbgpt(dbgpt: str, zone: str, config: str, port: int, folder: str) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, TZ=zone)
    log = open(os.path.join(folder, "dbgpt.log"), "w")
    controller = subprocess.Popen(
        [dbgpt, "start", "controller", "-c", config],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=folder,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if controller.poll() is not None:
            break
        try:
            get(f"{base}/api/controller/models")
            return controller, base
        except OSError:
            time.sleep(0.3)
    controller.kill()
    with open(os.path.join(folder, "dbgpt.log")) as file:
        sys.exit(f"DB-GPT's controller did not start:\n{file.read()[-3000:]}")


class Beats:
    """Heartbeats every half second until stopped: one instance through each controller."""

    def __init__(self, dbgpt: str, ours: str):
        self.stop = threading.Event()
        self.errors: list[str] = []
        self.thread = threading.Thread(target=self.run, args=(dbgpt, ours), daemon=True)
        self.thread.start()

    def run(self, dbgpt: str, ours: str) -> None:
        while not self.stop.is_set():
            try:
                heartbeat(dbgpt, "via-dbgpt")
                heartbeat(ours, "via-ours")
            except OSError as error:
                self.errors.append(str(error))
            self.stop.wait(0.5)

    def end(self) -> None:
        self.stop.set()
        self.thread.join()
        if self.errors:
            sys.exit(f"heartbeats failed: {self.errors[:3]}")


def check(condition: bool, what: str) -> None:
    print(("ok   " if condition else "FAIL ") + what, flush=True)
    if not condition:
        sys.exit(1)


def hosts(rows: list) -> list:
    return [row["host"] for row in rows]


def run_zone(binary: str, dbgpt: str, zone: str, server_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        if server_url:
            db = SERVERS[urllib.parse.urlsplit(server_url).scheme](server_url, zone)
        else:
            db = Sqlite(folder)
        print(f"-- {db.name}, TZ={zone}", flush=True)
        ours, controller = None, None
        try:
            # registry-server first: it creates DB-GPT's table, which `dbgpt start
            # controller` does not.
            config, port = write_controller_toml(folder, db.dbgpt_toml())
            ours, ours_url = start_ours(binary, zone, config)
            controller, dbgpt_url = start_dbgpt(dbgpt, zone, config, port, folder)
            beats = Beats(dbgpt_url, ours_url)
            time.sleep(TIMEOUT_SECS + 2 * INTERVAL_SECS)
            both = ["via-dbgpt", "via-ours"]
            check(hosts(listing(ours_url, True)) == both,
                  "beating through DB-GPT, healthy through registry-server (and its own)")
            check(hosts(listing(dbgpt_url, True)) == both,
                  "beating through registry-server, healthy through DB-GPT (and its own)")
            beats.end()
            # registry-server reuses a built listing for up to 1 s.
            time.sleep(1.2)
            ours_rows, dbgpt_rows = listing(ours_url, False), listing(dbgpt_url, False)
            check(ours_rows == dbgpt_rows,
                  f"the listings agree field for field: {json.dumps(ours_rows)}")
            deadline = time.monotonic() + TIMEOUT_SECS + 3 * INTERVAL_SECS + 2
            expired = False
            while time.monotonic() < deadline and not expired:
                time.sleep(0.5)
                expired = not listing(ours_url, True) and not listing(dbgpt_url, True)
            check(expired, "stopped, both expire as seen through both")
        finally:
            for process in (ours, controller):
                if process is not None:
                    process.terminate()
                    try:
                        process.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        process.kill()
            if not isinstance(db, Sqlite):
                db.drop()


# DB-GPT's own table, made by DB-GPT's own model (as its webserver makes it at first start).
CREATE_DBGPT_TABLE = """
import sys
from dbgpt.model.cluster.registry_impl.storage import StorageModelRegistry
from dbgpt.storage.metadata import db
StorageModelRegistry.from_url("sqlite:///" + sys.argv[1], "registry", try_to_create_db=True)
db.create_all()
"""


def run_in_place(binary: str, dbgpt: str, zone: str) -> None:
    """The in-place move of the README: DB-GPT's controller stops, ours starts from its file."""
    with tempfile.TemporaryDirectory() as folder:
        print(f"-- in place, SQLite, TZ={zone}", flush=True)
        db = Sqlite(folder)
        subprocess.run([sys.executable, "-c", CREATE_DBGPT_TABLE, db.path], check=True,
                       env=dict(os.environ, TZ=zone), cwd=folder, capture_output=True)
        config, port = write_controller_toml(folder, db.dbgpt_toml())
        controller, ours = None, None
        try:
            controller, dbgpt_url = start_dbgpt(dbgpt, zone, config, port, folder)
            heartbeat(dbgpt_url, "moved")
            before = listing(dbgpt_url, False)
            controller.terminate()
            controller.wait(timeout=10)
            ours, ours_url = start_ours(binary, zone, config)
            check(listing(ours_url, False) == before,
                  "started on DB-GPT's table and file, ours lists DB-GPT's row as DB-GPT did")
            for _ in range(2 * (TIMEOUT_SECS + INTERVAL_SECS)):
                heartbeat(ours_url, "moved")
                time.sleep(0.5)
            check(hosts(listing(ours_url, True)) == ["moved"],
                  "the worker beats on through ours, healthy past a timeout")
            deadline = time.monotonic() + TIMEOUT_SECS + 3 * INTERVAL_SECS + 2
            while time.monotonic() < deadline and listing(ours_url, True):
                time.sleep(0.5)
            check(not listing(ours_url, True), "once it stops, it expires")
        finally:
            for process in (ours, controller):
                if process is not None and process.poll() is None:
                    process.kill()
                    process.wait()


def main() -> None:
    binary, server_urls = sys.argv[1], sys.argv[2:]
    dbgpt = os.path.join(os.path.dirname(sys.executable), "dbgpt")
    started = time.monotonic()
    for url in [None, *server_urls]:
        for zone in ZONES:
            run_zone(binary, dbgpt, zone, url)
    run_in_place(binary, dbgpt, ZONES[0])
    print(f"mixed fleet: ok in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
