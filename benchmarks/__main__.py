"""`python -m benchmarks [--targets 10,100,1000] [--scrapes N] [--output docs/benchmarks.md]`."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import tempfile
from pathlib import Path
from types import FrameType

from benchmarks.exporters import export_revision, working_tree_version
from benchmarks.processes import Processes, raise_fd_limit
from benchmarks.report import render
from benchmarks.run import Report, Settings, run
from benchmarks.servers import capacity, start_fleet

log = logging.getLogger("benchmarks")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="cachescope against prometheus-redis-exporter, side by side.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--targets", default="10,100,1000", help="Redis fleet sizes, comma-separated"
    )
    parser.add_argument(
        "--scrapes", type=int, default=2000, help="/scrape calls per exporter and size"
    )
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per size")
    parser.add_argument("--memcached", type=int, default=4, help="memcached servers")
    parser.add_argument("--output", default="docs/benchmarks.md", help="Markdown file to write")
    parser.add_argument("--batch-cap", type=float, default=120.0, help="seconds per measuring loop")
    parser.add_argument(
        "--cachescope-rev",
        help="measure cachescope as committed at this git revision (default: the installed one)",
    )
    parser.add_argument("--time-limit", type=float, default=1800.0, help="seconds for all sizes")
    parser.add_argument(
        "--cachescope-arg",
        action="append",
        default=[],
        help="one more `cachescope serve` argument, repeatable; write it with '=' when it "
        "starts with a dash: --cachescope-arg=--no-redis.latency-histograms",
    )
    args = parser.parse_args(argv)
    try:
        args.sizes = sorted({int(n) for n in args.targets.split(",") if n.strip()})
    except ValueError:
        parser.error(f"--targets must be numbers separated by commas, got {args.targets!r}")
    if not args.sizes or min(args.sizes) < 1 or args.scrapes < 1 or args.rounds < 1:
        parser.error("--targets, --scrapes and --rounds must be positive")
    return args


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    signal.signal(signal.SIGTERM, _terminate)  # stop the servers on kill too, not only Ctrl-C
    raise_fd_limit()
    notes = []
    possible, limit = capacity(max(args.sizes))
    if possible < max(args.sizes):
        sizes = sorted({min(n, possible) for n in args.sizes})
        notes.append(
            f"this machine holds at most {possible} Redis servers ({limit}); asked for"
            f" {args.targets}, measured {','.join(map(str, sizes))}"
        )
        log.warning(notes[-1])
        args.sizes = sizes
    settings = Settings(
        sizes=args.sizes,
        scrapes=args.scrapes,
        rounds=args.rounds,
        memcached=args.memcached,
        batch_cap=args.batch_cap,
        time_limit=args.time_limit,
        cachescope_args=tuple(args.cachescope_arg),
    )
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        processes = Processes(Path(workdir))
        if args.cachescope_rev:
            settings.source, commit = export_revision(args.cachescope_rev, Path(workdir) / "src")
            settings.version = f"commit {commit}"
        else:
            settings.version = working_tree_version()
        try:
            log.info("starting %d memcached", args.memcached)
            fleet = start_fleet(processes, 0, args.memcached)
            report = Report(settings, fleet, notes=notes)
            run(processes, fleet, settings, report)
        finally:
            log.info("stopping %d processes", len(processes.children))
            processes.stop_all()
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render(report, argv), encoding="utf-8")
    log.info("wrote %s", output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
