"""Where cachescope's CPU goes: `python -m benchmarks.profile [--targets 100]`.

Runs cachescope in-process against real servers and prints
- a phase breakdown in CPU time (time.thread_time, no profiler overhead) of `/scrape`
  requests through the real HTTP handler and of the real `/metrics` with its thread pool;
- cProfile's top functions for the same `/scrape` requests, and for `/metrics` with the
  targets scraped serially in the profiled thread (cProfile cannot see pool threads).
cProfile's own overhead inflates small Python functions: read its table for ranking.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.exporters import Client, export_revision
from benchmarks.processes import Processes, raise_fd_limit
from benchmarks.servers import start_fleet

PHASES: dict[str, float] = defaultdict(float)  # CPU seconds by phase, summed over threads
_PHASES_LOCK = threading.Lock()
_PATCHED: list[tuple[Any, str, Any]] = []


def timed(owner: Any, attribute: str, phase: str) -> None:
    """Wrap owner.attribute so the CPU time of the calling thread inside it adds to `phase`."""
    original: Callable[..., Any] | None = getattr(owner, attribute, None)
    if original is None:
        print(f"(no {owner.__name__}.{attribute} in this version: phase {phase!r} not split out)")
        return

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            with _PHASES_LOCK:
                PHASES[phase] += time.thread_time() - start

    _PATCHED.append((owner, attribute, original))
    setattr(owner, attribute, wrapper)


def uninstrument() -> None:
    while _PATCHED:
        owner, attribute, original = _PATCHED.pop()
        setattr(owner, attribute, original)


def instrument() -> None:
    """Time the stages of a scrape: request, scrape, collect, round trip, INFO parse, render."""
    from cachescope import fleet, transport
    from cachescope.exposition import families as exposition
    from cachescope.redis import collect
    from cachescope.scrape import state as scrape

    timed(fleet.Fleet, "scrape_one", "scrape_one")
    timed(fleet.Fleet, "scrape_all", "scrape_all (caller thread)")
    timed(scrape.TargetState, "scrape", "TargetState.scrape")
    timed(collect.RedisCollector, "collect", "collect")
    timed(transport.Connection, "execute", "round trip (socket, RESP decode)")
    timed(collect, "parse_info", "INFO parse")
    timed(exposition.MetricSet, "rendered", "render text")  # /metrics: per target
    timed(exposition.MetricSet, "encode", "render text")  # /scrape: one target


def breakdown(title: str, calls: int, total: float) -> None:
    """Print PHASES per call, with the derived phases, then clear them."""
    p = {key: value / calls for key, value in PHASES.items()}
    per_target = {
        "round trip (socket, RESP decode)": p.get("round trip (socket, RESP decode)", 0),
        "INFO parse": p.get("INFO parse", 0),
        "metric building (collect - round trip - parse)": p.get("collect", 0)
        - p.get("round trip (socket, RESP decode)", 0)
        - p.get("INFO parse", 0),
        "self metrics, locking (TargetState.scrape - collect)": p.get("TargetState.scrape", 0)
        - p.get("collect", 0),
        "render text": p.get("render text", 0),
    }
    rest = total / calls - sum(per_target.values())
    if "scrape_all (caller thread)" in p:
        derived = per_target | {"pool, merge, process metrics (the rest)": rest}
    else:
        derived = {"HTTP handling (the rest: request, headers, write)": rest} | per_target
    print(f"\n=== {title}: {total / calls * 1e3:.3f} ms CPU per call ({calls} calls)")
    for phase, seconds in derived.items():
        print(f"  {seconds * 1e3:8.3f} ms  {100 * seconds / (total / calls):5.1f}%  {phase}")
    PHASES.clear()


def profiled_server(fleet: Any, profile: cProfile.Profile | None) -> Any:
    """cachescope's HTTP server, its handler wrapped so each request runs under `profile`."""
    from cachescope.web.server import ExporterServer

    server = ExporterServer(("127.0.0.1", 0), fleet)
    # Since the front answers in the thread that reads, one event is the whole request:
    # read, parse, answer, write. Older fronts handed `serve` to a worker instead.
    name = "serve" if hasattr(server.front, "serve") else "_on_event"
    serve = getattr(server.front, name)

    # One request at a time from the benchmark's keep-alive client: each runs in one
    # thread, so per-call thread CPU adds up to the total.
    def profiled(*args: Any) -> None:
        if profile is None:
            start = time.thread_time()
            serve(*args)
            PHASES["request"] += time.thread_time() - start
            return
        profile.enable()
        try:
            serve(*args)
        finally:
            profile.disable()

    setattr(server.front, name, profiled)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def metrics_serially(fleet: Any) -> bytes:
    """What /metrics does, with the per-target scrapes in this thread instead of the pool."""
    from cachescope.exposition.families import MetricSet, render
    from cachescope.web.server import exporter_metrics
    from prometheus_client import REGISTRY, generate_latest

    merged = MetricSet()
    for state in list(fleet.states.values()):
        merged.merge(state.scrape((("instance", state.target.name),) + state.target.labels))
    merged.merge(exporter_metrics(fleet))
    return render(merged).encode() + generate_latest(REGISTRY)


def show(title: str, profile: cProfile.Profile, calls: int, top: int) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    total = stats.total_tt  # type: ignore[attr-defined]
    print(f"\n=== {title}: {total / calls * 1e3:.3f} ms of profiled CPU per call ({calls} calls)")
    stats.sort_stats("tottime").print_stats(top)
    print("\n".join(out.getvalue().splitlines()[6:]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile")
    parser.add_argument("--targets", type=int, default=100)
    parser.add_argument("--scrapes", type=int, default=1000)
    parser.add_argument("--passes", type=int, default=5, help="/metrics passes")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--cachescope-rev", help="profile cachescope as committed at this rev")
    args = parser.parse_args(argv)
    raise_fd_limit()
    with tempfile.TemporaryDirectory(prefix="cachescope-profile-") as workdir:
        processes = Processes(Path(workdir))
        if args.cachescope_rev:
            source, _ = export_revision(args.cachescope_rev, Path(workdir) / "src")
            sys.path.insert(0, str(source))
        try:
            fleet_ports = start_fleet(processes, args.targets, 0)
            run(fleet_ports.redis_ports, args)
        finally:
            processes.stop_all()
    return 0


def run(ports: list[int], args: argparse.Namespace) -> None:
    from cachescope.config.records import Config, target_from_uri
    from cachescope.fleet import Fleet

    uris = [f"redis://127.0.0.1:{port}" for port in ports]
    fleet = Fleet(Config(targets=[target_from_uri(uri) for uri in uris]))
    fleet.scrape_all()  # connect everything first: the steady state is what matters
    started = time.perf_counter()
    fleet.scrape_all()
    wall = time.perf_counter() - started
    print(f"real /metrics scrape_all (thread pool) over {len(uris)} targets: {wall:.3f} s wall")

    phases(fleet, uris, args)
    scrape_profile = cProfile.Profile()
    server = profiled_server(fleet, scrape_profile)
    client = Client(server.server_address[1])
    paths = [f"/scrape?target={uri}" for uri in uris]
    for i in range(args.scrapes):
        client.get(paths[i % len(paths)])
    client.close()
    server.shutdown()
    show("/scrape?target= via the HTTP handler", scrape_profile, args.scrapes, args.top)

    metrics_profile = cProfile.Profile()
    metrics_profile.enable()
    for _ in range(args.passes):
        metrics_serially(fleet)
    metrics_profile.disable()
    show(f"/metrics over {len(uris)} targets, serial", metrics_profile, args.passes, args.top)
    fleet.close()


def phases(fleet: Any, uris: list[str], args: argparse.Namespace) -> None:
    """CPU by phase, without a profiler: /scrape through HTTP, then the real /metrics."""
    from cachescope.web import server as server_module
    from prometheus_client import REGISTRY, generate_latest

    instrument()
    server = profiled_server(fleet, None)
    client = Client(server.server_address[1])
    paths = [f"/scrape?target={uri}" for uri in uris]
    for i in range(args.scrapes):
        client.get(paths[i % len(paths)])
    client.close()
    server.shutdown()
    request = PHASES.pop("request")
    breakdown("/scrape?target= phases", args.scrapes, request)

    start = time.process_time()  # every thread: the pool's work counts too
    for _ in range(args.passes):
        joined = fleet.scrape_all()
        joined.add(server_module.exporter_metrics(fleet).rendered())
        b"".join(joined.chunks()) + generate_latest(REGISTRY)
    total = time.process_time() - start
    breakdown(f"/metrics over {len(uris)} targets, real pool, phases", args.passes, total)
    uninstrument()


if __name__ == "__main__":
    sys.exit(main())
