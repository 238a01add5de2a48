"""A Callwarden fleet on this machine, all real: PostgreSQL (initdb/pg_ctl), an MQTT broker (Mosquitto, or a
three-node nats-server cluster with JetStream and its MQTT listener), three `callwarden serve` replicas and HAProxy
with deploy/haproxy/haproxy.cfg. Servers run as an unprivileged user (`nobody` when run as root) on free loopback
ports. Used by tests/test_cluster.py and bench/cluster.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.pg_support import PgCluster, free_port, start_cluster

REPO = Path(__file__).resolve().parents[1]
HAPROXY_CFG = REPO / "deploy" / "haproxy" / "haproxy.cfg"
DATA_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="  # 32 bytes, base64 (tests and benchmarks only)


def _unprivileged() -> list[str]:
    return ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []


def _wait_port(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return True
        time.sleep(0.1)
    return False


def _stop(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _world_dir(prefix: str) -> Path:
    """A temporary directory the unprivileged servers can write to."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o777)
    return path


@dataclass
class Broker:
    """An MQTT broker: `urls[i]` is where replica i connects (a cluster gives each replica its own node)."""

    kind: str
    urls: list[str]
    procs: list[subprocess.Popen[bytes]]
    workdir: Path

    @property
    def host_port(self) -> tuple[str, int]:
        host, port = self.urls[0].removeprefix("mqtt://").rsplit(":", 1)
        return host, int(port)

    def stop(self) -> None:
        for proc in self.procs:
            _stop(proc)
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_mosquitto() -> Broker:
    workdir = _world_dir("cw-cluster-mosquitto-")
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    conf.chmod(0o644)
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    log = (workdir / "mosquitto.log").open("ab")
    proc = subprocess.Popen([*_unprivileged(), binary, "-c", str(conf)], stdout=log, stderr=log)
    broker = Broker("mosquitto", [f"mqtt://127.0.0.1:{port}"], [proc], workdir)
    if not _wait_port(port, 10):
        broker.stop()
        raise RuntimeError(f"mosquitto did not listen on {port}")
    return broker


def start_nats_cluster(nodes: int = 3) -> Broker:
    """`nodes` nats-server processes clustered with JetStream (which their MQTT listener needs): an MQTT client of
    any node gets messages published on any other."""
    binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
    if not Path(binary).exists():
        raise RuntimeError("nats-server not found: apt-get install nats-server")
    workdir = _world_dir("cw-cluster-nats-")
    mqtt_ports = [free_port() for _ in range(nodes)]
    route_ports = [free_port() for _ in range(nodes)]
    client_ports = [free_port() for _ in range(nodes)]
    procs = []
    for n in range(nodes):
        routes = ", ".join(f"nats-route://127.0.0.1:{p}" for i, p in enumerate(route_ports) if i != n)
        store = workdir / f"js{n}"
        conf = workdir / f"nats{n}.conf"
        conf.write_text(
            f"server_name: cw{n}\nlisten: 127.0.0.1:{client_ports[n]}\n"
            f"jetstream {{ store_dir: \"{store}\" }}\n"
            f"cluster {{ name: callwarden, listen: 127.0.0.1:{route_ports[n]}, routes: [{routes}] }}\n"
            f"mqtt {{ listen: 127.0.0.1:{mqtt_ports[n]} }}\n"
        )
        conf.chmod(0o644)
        log = (workdir / f"nats{n}.log").open("ab")
        procs.append(subprocess.Popen([*_unprivileged(), binary, "-c", str(conf)], stdout=log, stderr=log))
    broker = Broker("nats", [f"mqtt://127.0.0.1:{p}" for p in mqtt_ports], procs, workdir)
    if not all(_wait_port(p, 60) for p in mqtt_ports):
        logs = "\n".join((workdir / f"nats{n}.log").read_text()[-800:] for n in range(nodes))
        broker.stop()
        raise RuntimeError(f"the nats-server cluster's MQTT listeners did not come up:\n{logs}")
    return broker


@dataclass
class Replica:
    """One `callwarden serve` process."""

    replica_id: str
    port: int
    config_file: Path
    log_file: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        log = self.log_file.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli.main", "serve", "--config", str(self.config_file)],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def ready(self) -> bool:
        with contextlib.suppress(OSError), urllib.request.urlopen(f"http://{self.base}/readyz", timeout=1) as r:
            return int(r.status) == 200
        return False


@dataclass
class Fleet:
    """The running fleet; `lb` is HAProxy's host:port."""

    pg: PgCluster
    dsn: str
    broker: Broker
    replicas: list[Replica]
    lb_port: int
    workdir: Path
    haproxy: subprocess.Popen[bytes] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def lb(self) -> str:
        return f"127.0.0.1:{self.lb_port}"

    def replica_of(self, call_id: str) -> str | None:
        """Which replica runs (or ran) a call, from the shared store."""
        import psycopg

        with psycopg.connect(self.dsn) as conn:
            row = conn.execute("SELECT replica_id FROM calls WHERE call_id = %s", (call_id,)).fetchone()
        return None if row is None else str(row[0])

    def in_rotation(self) -> dict[str, bool]:
        """Which servers HAProxy currently sends new calls to (its stats socket)."""
        sock_path = self.workdir / "haproxy.sock"
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(sock_path))
            s.sendall(b"show stat\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        state = {}
        for line in data.decode().splitlines():
            parts = line.split(",")
            if len(parts) > 17 and parts[0] == "replicas" and parts[1].startswith("replica"):
                state[parts[1]] = parts[17] == "UP"
        return state


def _start_haproxy(fleet: Fleet) -> None:
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    env = {**os.environ, "CALLWARDEN_LB_BIND": f"127.0.0.1:{fleet.lb_port}"}
    env.update({f"CALLWARDEN_REPLICA{n + 1}": r.base for n, r in enumerate(fleet.replicas)})
    # The project's config as is, plus a stats socket for the test (which servers are in rotation).
    cfg = fleet.workdir / "haproxy.cfg"
    text = HAPROXY_CFG.read_text().replace(
        "global\n", f"global\n    stats socket {fleet.workdir / 'haproxy.sock'} mode 666 level admin\n", 1
    )
    cfg.write_text(text)
    cfg.chmod(0o644)
    log = (fleet.workdir / "haproxy.log").open("ab")
    # -n: a connection limit within the unprivileged user's file descriptor limit (the config's maxconn needs ~40k FDs)
    command = [*_unprivileged(), binary, "-db", "-n", "400", "-f", str(cfg)]
    fleet.haproxy = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    if not _wait_port(fleet.lb_port, 15):
        raise RuntimeError(f"haproxy did not listen: {(fleet.workdir / 'haproxy.log').read_text()[-1000:]}")


@contextlib.contextmanager
def fleet(
    model_path: Path, *, broker: str = "mosquitto", replicas: int = 3, lease_seconds: float = 3.0,
    drain_grace_seconds: float = 120.0, prefix: str = "cluster", fast_pg: bool = True, **settings: Any,
) -> Iterator[Fleet]:
    """Start PostgreSQL, the broker, `replicas` replicas (r1…) and HAProxy; stop them all at the end."""
    workdir = _world_dir("cw-cluster-")
    pg = start_cluster(fast=fast_pg)
    started: list[Any] = [pg]
    try:
        dsn = pg.create_database()
        mqtt = start_mosquitto() if broker == "mosquitto" else start_nats_cluster()
        started.append(mqtt)
        reps = []
        for n in range(replicas):
            rid = f"r{n + 1}"
            port = free_port()
            config = {
                "host": "127.0.0.1", "port": port, "data_dir": str(workdir / rid), "model_path": str(model_path),
                "log_level": "INFO", "mqtt_url": mqtt.urls[n % len(mqtt.urls)], "mqtt_topic_prefix": prefix,
                "drain_grace_seconds": drain_grace_seconds, "encryption": {"key": DATA_KEY},
                "database": {"url": dsn, "replica_id": rid, "lease_seconds": lease_seconds, "migrate": True},
                **settings,
            }  # fmt: skip
            config_file = workdir / f"{rid}.yaml"
            config_file.write_text(yaml.safe_dump(config))
            reps.append(Replica(rid, port, config_file, workdir / f"{rid}.log"))
        the_fleet = Fleet(pg, dsn, mqtt, reps, free_port(), workdir)
        for r in reps:
            r.start()
        started.extend(reps)
        deadline = time.monotonic() + 180
        while not all(r.ready() for r in reps):
            for r in reps:
                assert r.proc is not None
                if r.proc.poll() is not None:
                    raise RuntimeError(f"replica {r.replica_id} exited: {r.log_file.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("the replicas did not become ready within 180 s")
            time.sleep(0.3)
        _start_haproxy(the_fleet)
        deadline = time.monotonic() + 30
        while not all(the_fleet.in_rotation().values()) or len(the_fleet.in_rotation()) != replicas:
            if time.monotonic() > deadline:
                raise RuntimeError(f"haproxy did not mark every replica up: {the_fleet.in_rotation()}")
            time.sleep(0.3)
        try:
            yield the_fleet
        except BaseException:  # say what the servers said before their directory goes away
            for name in ("haproxy.log", *(f"{r.replica_id}.log" for r in reps)):
                path = workdir / name
                if path.exists():
                    tail = "\n".join(path.read_text(errors="replace").splitlines()[-25:])
                    print(f"\n--- {name} (tail) ---\n{tail}", file=sys.stderr)
            raise
    finally:
        for item in reversed(started):
            if isinstance(item, Replica):
                _stop(item.proc, signal.SIGKILL, 5)
            elif isinstance(item, Broker | PgCluster):
                item.stop()
        if "the_fleet" in locals():
            _stop(the_fleet.haproxy)
        shutil.rmtree(workdir, ignore_errors=True)
