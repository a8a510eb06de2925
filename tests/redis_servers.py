"""Real Redis processes on loopback for the tests: one server, a Sentinel group, a Cluster.

Everything here starts Debian's ``redis-server`` (and ``redis-cli`` to form a
cluster) on free ports of 127.0.0.1, in a temporary directory, and stops it:
nothing is mocked. A :class:`StallingProxy` sits between a replica and its
primary so a test can make the replica lag behind on purpose.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_cluster_port() -> int:
    """A free port whose cluster bus port (``port + 10000``) is free and valid too."""
    while True:
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


def redis_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("JWT_WSGI_REQUIRE_REDIS"):
            pytest.fail("redis-server is required here (JWT_WSGI_REQUIRE_REDIS is set)")
        pytest.skip("no redis-server binary on this machine (.ci/run installs Debian's)")
    return binary


def wait_for(condition: Callable[[], bool], seconds: float = 15, what: str = "Redis") -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if condition():
                return
        except (redis.RedisError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not get there within {seconds} s")
        time.sleep(0.05)


class RedisServer:
    """A real redis-server on a free loopback port (no persistence unless asked)."""

    def __init__(
        self, binary: str | None = None, *, args: Sequence[str] = (), port: int | None = None
    ) -> None:
        self.binary = binary or redis_binary()
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.args = list(args)
        self.directory = tempfile.mkdtemp(prefix="jwt_wsgi-redis-")
        self.start()

    def start(self, *, args: Sequence[str] = ()) -> None:
        """Start (again, on the same port: a restart with an empty dataset)."""
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--protected-mode", "yes", "--dir", self.directory,
             *self.args, *args],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_for(self._answers, 10, f"redis-server on {self.port}")
        except RuntimeError:
            self.stop()
            raise

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError("redis-server exited")
        client = self.client(timeout=0.2)
        try:
            return bool(client.ping())
        finally:
            client.close()

    def client(self, timeout: float = 2) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=timeout, socket_connect_timeout=timeout)

    def hang(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open and nothing answers."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """End it at once (SIGKILL), as a crash would."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            self.process.wait(timeout=10)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def warm_up(primary: RedisServer) -> None:
    """Wait until a replica acknowledges a write. After a diskless full sync the primary
    streams nothing until the replica's first ``REPLCONF ACK``, sent once a second: a
    replica whose link is "up" may not see writes for up to a second, a wait a real
    deployment has long behind it at its first revocation."""
    client: Any = primary.client(timeout=10)

    def acknowledged() -> bool:
        client.set("warm-up", "1")
        return int(client.execute_command("WAIT", 1, 5000)) >= 1

    try:
        wait_for(acknowledged, 30, "a replica's acknowledgement")
        client.delete("warm-up")
    finally:
        client.close()


class StallingProxy:
    """A TCP relay to ``port`` whose downstream flow (server to client) can be held up.

    Between a replica and its primary it makes the replica lag: writes reach the
    primary, not the replica, until :meth:`flow` lets them through.
    """

    def __init__(self, port: int) -> None:
        self.target = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._flowing = threading.Event()
        self._flowing.set()
        self._sockets: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def stall(self) -> None:
        self._flowing.clear()

    def flow(self) -> None:
        self._flowing.set()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                continue
            upstream.settimeout(None)
            self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, held: bool) -> None:
        try:
            while data := source.recv(65536):
                if held:
                    self._flowing.wait()
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._closed = True
        self._flowing.set()
        self.listener.close()
        for sock in self._sockets:
            try:
                sock.close()
            except OSError:
                pass


class SentinelGroup:
    """A primary, a replica (through a :class:`StallingProxy`) and three Sentinels.

    Sentinels call the primary down after 500 ms of silence and fail over with
    a quorum of two, so a killed primary is replaced within a few seconds.
    """

    SERVICE = "jwtwsgi"

    def __init__(self) -> None:
        binary = redis_binary()
        # No 5-second wait before a full sync (Redis 7's diskless default), on either
        # server: each may become the primary the other syncs from.
        quick = ["--repl-diskless-sync-delay", "0"]
        self.primary = RedisServer(binary, args=quick)
        self.proxy = StallingProxy(self.primary.port)
        self.replica = RedisServer(binary, args=["--replicaof", "127.0.0.1", str(self.proxy.port)])
        self.servers = [self.primary, self.replica]
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.directory = tempfile.mkdtemp(prefix="jwt_wsgi-sentinel-")
        self.sentinels: list[subprocess.Popen[bytes]] = []
        # Each Sentinel is told its id, the others' and the replica up front, so the
        # group is ready at once instead of after rounds of hello messages.
        ids = {port: os.urandom(20).hex() for port in self.sentinel_ports}
        for port in self.sentinel_ports:
            config = Path(self.directory) / f"sentinel-{port}.conf"
            known = "".join(
                f"sentinel known-sentinel {self.SERVICE} 127.0.0.1 {other} {ids[other]}\n"
                for other in self.sentinel_ports
                if other != port
            )
            config.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.directory}\n"
                f"sentinel myid {ids[port]}\n"
                f"sentinel monitor {self.SERVICE} 127.0.0.1 {self.primary.port} 2\n"
                f"sentinel down-after-milliseconds {self.SERVICE} 500\n"
                f"sentinel failover-timeout {self.SERVICE} 2000\n"
                f"sentinel parallel-syncs {self.SERVICE} 1\n"
                f"sentinel known-replica {self.SERVICE} 127.0.0.1 {self.replica.port}\n{known}"
            )
            self.sentinels.append(
                subprocess.Popen([binary, str(config), "--sentinel"], stdout=subprocess.DEVNULL)
            )
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)
        self.url = f"redis+sentinel://{hosts}/{self.SERVICE}"
        wait_for(self._ready, 30, "the Sentinel group")
        warm_up(self.primary)

    def sentinel(self, port: int) -> Any:
        """A client of one Sentinel (untyped: redis-py types its replies loosely)."""
        return redis.Redis(port=port, socket_timeout=1, decode_responses=True)

    def _ready(self) -> bool:
        for port in self.sentinel_ports:
            state = self.sentinel(port).sentinel_master(self.SERVICE)
            if state.get("num-other-sentinels") != 2 or state.get("num-slaves") != 1:
                return False
        return self.replica.client().info("replication").get("master_link_status") == "up"

    def primary_port(self) -> int:
        """The port the Sentinels now name as the primary."""
        _, port = self.sentinel(self.sentinel_ports[0]).sentinel_get_master_addr_by_name(
            self.SERVICE
        )
        return int(port)

    def server_on(self, port: int) -> RedisServer:
        return next(s for s in self.servers if s.port == port)

    def kill_primary_and_wait_for_failover(self) -> RedisServer:
        """Kill the primary (SIGKILL); return the replica the Sentinels promote."""
        old = self.server_on(self.primary_port())
        old.kill()
        wait_for(lambda: self.primary_port() != old.port, 30, "a failover")
        new = self.server_on(self.primary_port())
        wait_for(lambda: new.client().info("replication")["role"] == "master", 30, "promotion")
        wait_for(lambda: self._agreed(new.port), 30, "the Sentinels to agree")
        return new

    def _agreed(self, port: int) -> bool:
        """Every Sentinel names ``port`` as the primary, and none thinks it is down."""
        for sentinel_port in self.sentinel_ports:
            state = self.sentinel(sentinel_port).sentinel_master(self.SERVICE)
            if int(state["port"]) != port or state.get("is_sdown") or state.get("is_odown"):
                return False
        return True

    def close(self) -> None:
        for process in self.sentinels:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=10)
        self.proxy.close()
        for server in self.servers:
            server.cleanup()
        shutil.rmtree(self.directory, ignore_errors=True)


class RedisClusterNodes:
    """Three Redis Cluster primaries on loopback, formed with ``redis-cli --cluster create``."""

    def __init__(self) -> None:
        binary = redis_binary()
        cli = shutil.which("redis-cli")
        if cli is None:
            pytest.fail("redis-cli is needed to form a cluster (Debian's redis-tools)")
        self.nodes: list[RedisServer] = []
        for _ in range(3):
            port = free_cluster_port()
            self.nodes.append(
                RedisServer(
                    binary,
                    port=port,
                    args=[
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        f"nodes-{port}.conf",
                        "--cluster-node-timeout",
                        "2000",
                    ],
                )  # fmt: skip
            )
        subprocess.run(
            [cli, "--cluster", "create", *(f"127.0.0.1:{n.port}" for n in self.nodes),
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60,
        )  # fmt: skip
        wait_for(self._ok, 30, "the cluster")
        self.url = "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def _ok(self) -> bool:
        return all(_cluster_state(node) == "ok" for node in self.nodes)

    def node_of(self, key: str) -> RedisServer:
        """The node serving ``key``'s hash slot (asked of the nodes, not computed here)."""
        for node in self.nodes:
            client: Any = node.client()
            try:
                slot = int(client.execute_command("CLUSTER", "KEYSLOT", key))
                nodes = client.execute_command("CLUSTER", "NODES")
            finally:
                client.close()
            text = nodes.decode() if isinstance(nodes, bytes) else str(nodes)
            for line in text.splitlines():
                fields = line.split()
                if "myself" in fields[2] and _serves(fields[8:], slot):
                    return node
        raise LookupError(key)

    def restart_empty(self, node: RedisServer) -> None:
        """Restart one node without its data (it keeps its cluster configuration file)."""
        node.stop()
        node.start()
        wait_for(self._ok, 30, "the cluster after a restart")

    def close(self) -> None:
        for node in self.nodes:
            node.cleanup()


def _cluster_state(node: RedisServer) -> str:
    client: Any = node.client()
    try:
        info = client.execute_command("CLUSTER", "INFO")
    finally:
        client.close()
    if isinstance(info, dict):
        return str(info.get("cluster_state"))
    text = info.decode() if isinstance(info, bytes) else str(info)
    return next((line.split(":", 1)[1].strip() for line in text.splitlines()
                 if line.startswith("cluster_state:")), "")  # fmt: skip


def _serves(ranges: list[str], slot: int) -> bool:
    """Whether ``CLUSTER NODES`` slot ranges (``0-5460``, ``7``) include ``slot``."""
    for item in ranges:
        if item.startswith("["):
            continue  # a slot being migrated
        start, _, end = item.partition("-")
        if int(start) <= slot <= int(end or start):
            return True
    return False


def all_keys(server: RedisServer) -> dict[str, Any]:
    """Every key of a server and its value, for assertions."""
    client = server.client()
    try:
        return {k.decode(): client.dump(k) for k in client.scan_iter(count=1000)}
    finally:
        client.close()
