"""The Memcached collector against real memcached processes."""

from __future__ import annotations

import socket
import tempfile
import time
from pathlib import Path

from servers import MemcachedServer, Process, RedisServer, free_port, require_binary, wait_for
from test_memcached_parse import MEMCACHED_EXPORTER_FAMILIES

# Families of memcached_exporter that need memcached build or run options we do not
# use here: extstore needs -o ext_path, proxy stats a proxy build. The parse tests
# cover them on canned replies.
NEEDS_BUILD_OPTIONS = ("memcached_extstore_", "memcached_proxy_")


def command(port: int, payload: bytes, until: bytes = b"\r\n", count: int = 1) -> bytes:
    """Send raw text-protocol commands; read until `until` has arrived `count` times."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(payload)
        data = b""
        while data.count(until) < count:
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
        return data


def store(port: int, key: str, size: int) -> None:
    reply = command(port, f"set {key} 0 0 {size}\r\n".encode() + b"v" * size + b"\r\n")
    assert reply == b"STORED\r\n"


def instance(server: MemcachedServer) -> str:
    return f"127.0.0.1:{server.port}"


def test_hits_misses_items_and_per_slab_series_after_real_traffic(start_exporter) -> None:  # type: ignore[no-untyped-def]
    server = MemcachedServer("-m", "64", "-c", "300")
    try:
        for key, size in (("small", 50), ("medium", 5_000), ("large", 200_000)):
            store(server.port, key, size)
        assert (
            command(server.port, b"get small\r\nget medium\r\nget absent\r\n", b"END\r\n", 3).count(
                b"VALUE"
            )
            == 2
        )
        metrics = start_exporter("--target", server.uri).metrics()
    finally:
        server.stop()
    at = {"instance": instance(server)}
    assert metrics.value("memcached_up", **at) == 1
    assert metrics.value("memcached_commands_total", command="get", status="hit", **at) == 2
    assert metrics.value("memcached_commands_total", command="get", status="miss", **at) == 1
    assert metrics.value("memcached_commands_total", command="set", status="hit", **at) == 3
    assert metrics.value("memcached_current_items", **at) == 3
    assert metrics.value("memcached_limit_bytes", **at) == 64 * 1024 * 1024
    assert metrics.value("memcached_max_connections", **at) == 300
    assert metrics.types["memcached_commands_total"] == "counter"
    slabs = {
        labels["slab"]
        for name, labels, value in metrics.samples
        if name == "memcached_slab_current_items" and value == 1
    }
    assert len(slabs) == 3, slabs  # three sizes, three slab classes
    for slab in slabs:
        assert metrics.value("memcached_slab_chunk_size_bytes", slab=slab, **at) > 0
        assert metrics.value("memcached_slab_chunks_used", slab=slab, **at) >= 1
    assert sum(metrics.get("memcached_slab_commands_total", command="get", status="hit")) == 2


def test_every_memcached_exporter_family_memcached_1_6_can_produce_is_served(
    start_exporter,  # type: ignore[no-untyped-def]
) -> None:
    server = MemcachedServer("-o", "temporary_ttl=60")  # gives the TEMPORARY LRU its series
    try:
        store(server.port, "k", 10)
        metrics = start_exporter("--target", server.uri).metrics()
        version = _server_version(server.port)
    finally:
        server.stop()
    expected = {
        name: kind
        for name, kind in MEMCACHED_EXPORTER_FAMILIES.items()
        if not name.startswith(NEEDS_BUILD_OPTIONS)
    }
    missing = sorted(name for name in expected if name not in metrics.types)
    assert missing == []
    assert {n: metrics.types[n] for n in expected if metrics.types[n] != expected[n]} == {}
    assert metrics.get("memcached_version", version=version) == [1]


def _server_version(port: int) -> str:
    return command(port, b"version\r\n").decode().split()[1]


def test_evictions_after_filling_a_small_memory_limit(start_exporter) -> None:  # type: ignore[no-untyped-def]
    server = MemcachedServer("-m", "2")
    try:
        payload = b"".join(
            f"set k{i} 0 0 10000 noreply\r\n".encode() + b"x" * 10_000 + b"\r\n" for i in range(800)
        )
        command(server.port, payload + b"version\r\n", b"VERSION ")
        metrics = start_exporter("--target", server.uri).metrics()
    finally:
        server.stop()
    at = {"instance": instance(server)}
    evicted = metrics.value("memcached_items_evicted_total", **at)
    assert evicted > 0
    assert sum(metrics.get("memcached_slab_items_evicted_total", **at)) == evicted
    assert metrics.value("memcached_current_items", **at) < 800


def test_listener_disabled_after_exceeding_the_connection_limit(start_exporter) -> None:  # type: ignore[no-untyped-def]
    server = MemcachedServer("-c", "32", "-t", "1", "-o", "no_maxconns_fast")
    clients: list[socket.socket] = []
    try:
        exporter = start_exporter("--target", server.uri)
        at = {"instance": instance(server)}
        before = exporter.metrics()
        assert before.value("memcached_connections_listener_disabled_total", **at) == 0
        assert before.value("memcached_max_connections", **at) == 32
        for _ in range(40):
            try:
                clients.append(socket.create_connection(("127.0.0.1", server.port), timeout=0.2))
            except OSError:
                break
        # Our persistent connection was opened before the flood, so the scrape still works.
        wait_for(
            lambda: exporter.metrics().value("memcached_connections_listener_disabled_total", **at),
            what="memcached to disable its listener",
        )
        after = exporter.metrics()
        assert after.value("memcached_up", **at) == 1
        assert after.value("memcached_connections_listener_disabled_total", **at) >= 1
        assert after.value("memcached_accepting_connections", **at) == 0
    finally:
        for client in clients:
            client.close()
        server.stop()


def test_stopped_server_is_down_while_a_healthy_one_stays_up(start_exporter) -> None:  # type: ignore[no-untyped-def]
    healthy, doomed = MemcachedServer(), MemcachedServer()
    try:
        exporter = start_exporter(
            "--target", healthy.uri, "--target", doomed.uri, "--timeout", "1s"
        )
        assert exporter.metrics().value("memcached_up", instance=instance(doomed)) == 1
        doomed.stop()
        metrics = exporter.metrics()
    finally:
        healthy.stop()
        doomed.stop()
    assert metrics.value("memcached_up", instance=instance(doomed)) == 0
    assert (
        metrics.value("cachescope_scrape_errors_total", instance=instance(doomed), error="connect")
        >= 1
    )
    assert metrics.get("memcached_current_items", instance=instance(doomed)) == []
    assert metrics.value("memcached_up", instance=instance(healthy)) == 1


def test_paused_server_times_out_within_the_timeout_and_recovers(start_exporter) -> None:  # type: ignore[no-untyped-def]
    hung, healthy = MemcachedServer(), MemcachedServer()
    try:
        exporter = start_exporter("--target", hung.uri, "--target", healthy.uri, "--timeout", "1s")
        assert exporter.metrics().value("memcached_up", instance=instance(hung)) == 1
        hung.pause()
        started = time.monotonic()
        metrics = exporter.metrics()
        elapsed = time.monotonic() - started
        assert elapsed < 2.5, elapsed
        assert metrics.value("memcached_up", instance=instance(hung)) == 0
        assert (
            metrics.value(
                "cachescope_scrape_errors_total", instance=instance(hung), error="timeout"
            )
            == 1
        )
        assert metrics.value("memcached_up", instance=instance(healthy)) == 1
        hung.resume()
        assert exporter.metrics().value("memcached_up", instance=instance(hung)) == 1
    finally:
        hung.stop()
        healthy.stop()


def test_a_redis_server_behind_a_memcached_uri_is_a_protocol_error(
    redis_server: RedisServer,
    start_exporter,  # type: ignore[no-untyped-def]
) -> None:
    uri = f"memcached://127.0.0.1:{redis_server.port}"
    metrics = start_exporter("--target", uri, "--timeout", "1s").metrics()
    at = {"instance": f"127.0.0.1:{redis_server.port}"}
    assert metrics.value("memcached_up", **at) == 0
    assert metrics.value("cachescope_scrape_errors_total", error="protocol", **at) == 1


def test_redis_and_memcached_share_metrics_and_scrape_serves_one(
    redis_server: RedisServer,
    memcached_server: MemcachedServer,
    start_exporter,  # type: ignore[no-untyped-def]
) -> None:
    exporter = start_exporter("--target", redis_server.uri, "--target", memcached_server.uri)
    both = exporter.metrics()
    assert both.value("redis_up", instance=f"127.0.0.1:{redis_server.port}") == 1
    assert both.value("memcached_up", instance=instance(memcached_server)) == 1
    one = exporter.metrics(f"/scrape?target={memcached_server.uri}")
    assert one.value("memcached_up") == 1
    assert one.value("memcached_limit_bytes") > 0
    assert not [name for name in one.names() if name.startswith("redis_")]


class UnixMemcached(Process):
    """memcached listening on a Unix socket only."""

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="cachescope-memcached-unix-"))
        self.path = str(self.workdir / "memcached.sock")
        args = [require_binary("memcached"), "-s", self.path, "-a", "0700", "-U", "0", "-u", "root"]
        super().__init__(args, self.workdir, "memcached-unix")
        wait_for(lambda: Path(self.path).exists(), what=f"memcached socket\n{self.log()}")


def test_unix_socket_target(start_exporter) -> None:  # type: ignore[no-untyped-def]
    server = UnixMemcached()
    try:
        metrics = start_exporter("--target", f"memcached+unix://{server.path}").metrics()
    finally:
        server.stop()
    assert metrics.value("memcached_up", instance=server.path) == 1
    assert metrics.value("memcached_current_items", instance=server.path) == 0


class TLSMemcached(Process):
    """memcached accepting TLS only, with the test CA's server certificate."""

    def __init__(self, certs: dict[str, str]) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="cachescope-memcached-tls-"))
        self.port = free_port()
        args = [
            require_binary("memcached"),
            "-l",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "0",
            "-u",
            "root",
            "-Z",
            "-o",
            f"ssl_chain_cert={certs['cert']},ssl_key={certs['key']}",
        ]
        super().__init__(args, self.workdir, "memcached-tls")
        wait_for(self._listening, what=f"memcached TLS on {self.port}\n{self.log()}")

    def _listening(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1):
            return True


def test_tls_target_verifies_the_server_certificate(
    tls_certs: dict[str, str],
    tmp_path: Path,
    start_exporter,  # type: ignore[no-untyped-def]
) -> None:
    server = TLSMemcached(tls_certs)
    config = tmp_path / "cachescope.yml"
    config.write_text(
        "targets:\n"
        f"  - uri: memcacheds://127.0.0.1:{server.port}\n"
        "    name: tls-cache\n"
        f"    tls: {{ca_file: {tls_certs['ca']}}}\n"
        f"  - uri: memcacheds://127.0.0.1:{server.port}\n"
        "    name: untrusted\n"
        "    timeout: 1s\n"
    )
    try:
        metrics = start_exporter("--config.file", str(config)).metrics()
    finally:
        server.stop()
    assert metrics.value("memcached_up", instance="tls-cache") == 1
    assert metrics.value("memcached_up", instance="untrusted") == 0
    assert metrics.value("cachescope_scrape_errors_total", instance="untrusted", error="tls") == 1
