"""A scrape worker process: `python -m cachescope.workers.worker <fd> <threads> <level> <format>`.

<threads> is --max-concurrency, the scrape threads of this process at most.

It holds a state (connection, counters) for each target the main process deals
it, scrapes them all on each request with its own thread pool, and answers with
their families rendered and each target's outcome. See pool.py for the why.
"""

from __future__ import annotations

import signal
import socket
import sys
from collections import deque
from typing import NamedTuple

from cachescope.exposition.joined import Joined
from cachescope.logs import setup_logging
from cachescope.scrape.state import Batch, Outcome, Scraper, TargetState, Task
from cachescope.workers.frames import Counts, Job, Outcomes, Report, recv_frame, send_frame


def serve(sock: socket.socket, max_concurrency: int) -> None:
    """Scrape the jobs held on each request, until told to stop or the main process is gone."""
    scraper = Scraper(max_concurrency=max_concurrency)
    states: dict[str, _Held] = {}
    jobs: Batch = []
    try:
        while True:
            try:
                message = recv_frame(sock, None).index
            except (OSError, EOFError):
                break
            if message == "stop":
                break
            if message.jobs is not None:
                jobs = _sync(states, message.jobs, message.counts or {})
            _answer(sock, scraper.scrape_many(jobs, message.budget), jobs)
    finally:
        scraper.close()
        for held in states.values():
            held.state.close()


def _answer(sock: socket.socket, joined: Joined, jobs: Batch) -> None:
    """Families' sizes first, then their samples in the same order, straight from the
    targets' rendered blocks."""
    families = joined.family_sizes()
    bodies = (body for family in joined.families() for body in family.bodies)
    outcomes = Outcomes.empty()
    for position, task in enumerate(jobs):
        for outcome in _unreported(task.state):
            outcomes.add(position, outcome)
    send_frame(sock, Report(families, outcomes), bodies, sum(families.sizes))


def _unreported(state: TargetState) -> list[Outcome]:
    """The outcomes the main process has not heard of; one still running waits for the next."""
    journal = state.journal
    assert journal is not None
    return [journal.popleft() for _ in range(len(journal))]  # each popleft is atomic


class _Held(NamedTuple):
    job: Job
    state: TargetState


def _sync(states: dict[str, _Held], jobs: list[Job], counts: dict[str, Counts]) -> Batch:
    """Keep the states of unchanged jobs (and their connections), replace the rest."""
    wanted = {job.target.name: job for job in jobs}
    for name in list(states):
        held = states[name]
        if wanted.get(name) != held.job:
            del states[name]
            held.state.close()
    for name, job in wanted.items():
        if name not in states:
            state = TargetState(job.target, persistent=job.persistent, max_series=job.max_series)
            state.journal = deque()
            start = counts.get(name, Counts(0, {}))
            state.scrapes = start.scrapes
            state.errors.update(start.errors)
            states[name] = _Held(job, state)
    return [Task(states[job.target.name].state, job.labels) for job in jobs]


def main(argv: list[str]) -> None:
    """The process' entry: the socket's fd, scrape threads, log level and format."""
    for ignored in (signal.SIGINT, signal.SIGHUP):  # meant for the main process
        signal.signal(ignored, signal.SIG_IGN)
    fd, max_concurrency, level, fmt = argv
    setup_logging(level, fmt)
    serve(socket.socket(fileno=int(fd)), int(max_concurrency))


if __name__ == "__main__":
    main(sys.argv[1:])
