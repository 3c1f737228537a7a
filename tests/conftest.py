"""Fixtures that start real servers on free loopback ports and stop them afterwards."""

from __future__ import annotations

import contextlib
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hostile import HostileServer
from livecheck import forbid_live, is_live
from matrix import DEBIAN_REDIS, MEMCACHED, REDIS_SERVERS, ServerBinary
from servers import (
    Exporter,
    Listener,
    MemcachedServer,
    RedisServer,
    require_binary,
    wait_for_link_up,
)


@pytest.fixture
def servers() -> Iterator[list[RedisServer]]:
    """Redis servers a test starts itself (with its own binary or flags), stopped after it."""
    started: list[RedisServer] = []
    yield started
    for server in started:
        server.stop()


@pytest.fixture
def fakes() -> Iterator[list[HostileServer]]:
    """Fake servers (tests/hostile.py) a test starts itself, stopped after it."""
    started: list[HostileServer] = []
    yield started
    for server in started:
        server.stop()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture
def memcached_server() -> Iterator[MemcachedServer]:
    server = MemcachedServer()
    yield server
    server.stop()


@pytest.fixture
def start_redis() -> Iterator:  # type: ignore[type-arg]
    """Factory: start_redis(*args, **kwargs) -> RedisServer, all stopped at the end."""
    started: list[RedisServer] = []

    def start(*args: str, **kwargs: object) -> RedisServer:
        server = RedisServer(*args, **kwargs)  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def start_exporter() -> Iterator:  # type: ignore[type-arg]
    """Factory: start_exporter(*cli_args, env=...) -> Exporter, all stopped at the end."""
    started: list[Exporter] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Exporter:
        exporter = Exporter(*args, env=env)
        started.append(exporter)
        return exporter

    yield start
    for exporter in started:
        exporter.stop()


@pytest.fixture
def start_mcp_http() -> Iterator:  # type: ignore[type-arg]
    """Factory: start_mcp_http(*cli_args, tls=False) -> McpHttp, all stopped at the end."""
    from mcpclient import McpHttp  # here: the MCP SDK is imported only by the tests using it

    started: list[McpHttp] = []

    def start(*args: str, tls: bool = False, wait: bool = True) -> McpHttp:
        server = McpHttp(*args, tls=tls, wait=wait)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def tls_certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, made now."""
    openssl = require_binary("openssl")
    directory: Path = tmp_path_factory.mktemp("tls")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=directory, check=True, capture_output=True)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=cachescope-test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    )
    for name in ("server", "client"):
        run(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN={name}",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
        )
        (directory / f"{name}.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        run(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            f"{name}.ext",
            "-out",
            f"{name}.crt",
        )
    return {
        "ca": str(directory / "ca.crt"),
        "cert": str(directory / "server.crt"),
        "key": str(directory / "server.key"),
        "client_cert": str(directory / "client.crt"),
        "client_key": str(directory / "client.key"),
    }


@pytest.fixture
def listener() -> Iterator[Listener]:
    """A TCP port that listens and records connections, for 'no connection is made' proofs."""
    sock = Listener()
    yield sock
    sock.close()


@pytest.fixture
def primary_and_replica(start_redis) -> tuple[RedisServer, RedisServer]:  # type: ignore[no-untyped-def]
    """A primary with one replica attached and synced."""
    # Redis waits 5 s by default before a diskless full sync, for more replicas to join.
    primary = start_redis("--repl-diskless-sync-delay", "0")
    replica = start_redis("--replicaof", "127.0.0.1", str(primary.port))
    wait_for_link_up(replica)
    return primary, replica


@pytest.fixture(params=REDIS_SERVERS, ids=lambda binary: binary.id)
def redis_binary(request: pytest.FixtureRequest) -> ServerBinary:
    """Each Redis-protocol server of the matrix in turn (Redis 7.0, 6.2, 8.2, Valkey 8.1)."""
    binary: ServerBinary = request.param
    binary.require()
    return binary


@pytest.fixture
def any_redis(redis_binary: ServerBinary) -> Iterator:  # type: ignore[type-arg]
    """Factory like start_redis, for the server of the matrix this test runs against."""
    started: list[RedisServer] = []

    def start(*args: str, **kwargs: object) -> RedisServer:
        args = (*redis_binary.module_args, *args)  # Redis 8.2 runs with its module loaded
        server = RedisServer(*args, binary=redis_binary.path, **kwargs)  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


# Modules whose tests run against one fixed server: their ids name it too, e.g.
# test_unix_socket_target[memcached-1.6.18], so a report says what was tested.
_FIXED_SERVER = {
    "test_memcached": MEMCACHED,
    "test_redis_": DEBIAN_REDIS,
    "test_smoke_redis": DEBIAN_REDIS,
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    module = metafunc.module.__name__
    if module.endswith("_parse") or "redis_binary" in metafunc.fixturenames:
        return
    for prefix, binary in _FIXED_SERVER.items():
        if module.startswith(prefix):
            metafunc.fixturenames.append("server_under_test")
            metafunc.parametrize("server_under_test", [binary], ids=[binary.id])
            return


@pytest.fixture
def background_jobs() -> Iterator[list[Callable[[], object]]]:
    """Jobs a test appends (clients that keep some trouble going), each run five times a
    second in the background until the test ends. A job that fails is the trouble itself."""
    jobs: list[Callable[[], object]] = []
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            for job in jobs:
                with contextlib.suppress(Exception):
                    job()
            stop.wait(0.2)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield jobs
    stop.set()
    thread.join(5)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--guard-live",
        action="store_true",
        help="run live tests under the unit guard too: a live test that passes could be unit",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test unit or live by the rule in tests/livecheck.py."""
    for item in items:
        if item.get_closest_marker("live") or item.get_closest_marker("unit"):
            continue
        item.add_marker(pytest.mark.live if is_live(item) else pytest.mark.unit)


def _guarded(item: pytest.Item) -> bool:
    return bool(item.get_closest_marker("unit") or item.config.getoption("guard_live"))


@contextlib.contextmanager
def _unit_guard(item: pytest.Item) -> Iterator[None]:
    """Around each phase of a unit test, module and session fixtures included: fail it if
    it started a process or touched a socket, even if it caught the error."""
    if not _guarded(item):
        yield
        return
    violations: list[str] = []
    with forbid_live(violations):
        yield
    if violations:
        pytest.fail(f"a unit test tried {', '.join(violations)}: mark it live (tests/livecheck.py)")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    with _unit_guard(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with _unit_guard(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    with _unit_guard(item):
        return (yield)
