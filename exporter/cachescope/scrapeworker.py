"""A scrape worker process: `python -m cachescope.scrapeworker <fd> <threads> <level> <format>`.

It holds a state (connection, counters) for each target the main process deals
it, scrapes them all on each request with its own thread pool, and answers with
their families rendered and each target's outcome. See workers.py for the why.
"""

from __future__ import annotations

import signal
import socket
import sys

from cachescope.config import TargetConfig
from cachescope.exposition import Labels
from cachescope.frames import recv_frame, send_frame
from cachescope.joined import Joined
from cachescope.logs import setup_logging
from cachescope.scrape import Scraper, TargetState

# What a worker is asked to scrape: target, labels, keep the connection, series limit.
Job = tuple[TargetConfig, Labels, bool, int]
Counts = dict[str, tuple[int, dict[str, int]]]  # name -> (scrapes, errors by kind)
# A target's outcome, mirrored into the main process' state for the status page.
Outcome = tuple[float | None, float, float, str, int, dict[str, int]]
Batch = list[tuple[TargetState, Labels]]


def outcome(state: TargetState) -> Outcome:
    return (
        state.last_up,
        state.last_time,
        state.last_duration,
        state.last_error,
        state.scrapes,
        dict(state.errors),
    )


def serve(sock: socket.socket, max_workers: int) -> None:
    """Scrape the jobs held on each request, until told to stop or the main process is gone."""
    scraper = Scraper(max_workers=max_workers)
    states: dict[str, tuple[Job, TargetState]] = {}
    jobs: Batch = []
    try:
        while True:
            try:
                message, _ = recv_frame(sock, None)
            except (OSError, EOFError):
                break
            if message == "stop":
                break
            new_jobs, counts = message
            if new_jobs is not None:
                jobs = _sync(states, new_jobs, counts)
            _answer(sock, scraper.scrape_many(jobs), jobs)
    finally:
        scraper.close()
        for _, state in states.values():
            state.close()


def _answer(sock: socket.socket, joined: Joined, jobs: Batch) -> None:
    """Families' sizes first, then their samples in the same order, straight from the
    targets' rendered blocks."""
    families = joined.family_sizes()
    bodies = (body for _, _, family in joined.families() for body in family)
    size = sum(size for _, _, size in families)
    send_frame(sock, (families, [outcome(state) for state, _ in jobs]), bodies, size)


def _sync(states: dict[str, tuple[Job, TargetState]], jobs: list[Job], counts: Counts) -> Batch:
    """Keep the states of unchanged jobs (and their connections), replace the rest."""
    wanted = {job[0].name: job for job in jobs}
    for name in list(states):
        job, state = states[name]
        if wanted.get(name) != job:
            del states[name]
            state.close()
    for name, job in wanted.items():
        if name not in states:
            target, _, persistent, max_series = job
            state = TargetState(target, persistent, max_series)
            state.scrapes, errors = counts.get(name, (0, {}))
            state.errors.update(errors)
            states[name] = (job, state)
    return [(states[job[0].name][1], job[1]) for job in jobs]


def main(argv: list[str]) -> None:
    """The process' entry: the socket's fd, scrape threads, log level and format."""
    for ignored in (signal.SIGINT, signal.SIGHUP):  # meant for the main process
        signal.signal(ignored, signal.SIG_IGN)
    fd, max_workers, level, fmt = argv
    setup_logging(level, fmt)
    serve(socket.socket(fileno=int(fd)), int(max_workers))


if __name__ == "__main__":
    main(sys.argv[1:])
