"""The fleet: configured targets, targets reached through allow rules, and lookups."""

from __future__ import annotations

import threading
from collections import OrderedDict

from cachescope.config import Config, TargetConfig
from cachescope.exposition import MetricSet
from cachescope.scrape import Scraper, TargetState
from cachescope.targets import parse_uri

# Targets reached through allow rules keep their connection between scrapes;
# this bounds how many we keep, so a scanner cannot make us hoard sockets.
MAX_DYNAMIC_TARGETS = 1000


class TargetNotAllowed(Exception):
    """A /scrape target that is neither configured nor matched by an allow rule."""


class Fleet:
    def __init__(self, config: Config, max_workers: int = 32) -> None:
        self.config = config
        self.states = {target.name: TargetState(target) for target in config.targets}
        self._by_endpoint = {state.target.endpoint.key(): state for state in self.states.values()}
        self._dynamic: OrderedDict[tuple[str, str, int, str, int], TargetState] = OrderedDict()
        self._lock = threading.Lock()
        self.scraper = Scraper(max_workers=max_workers)

    def scrape_all(self) -> MetricSet:
        """Every configured target, each labelled with instance=<its name>."""
        jobs = [
            (state, (("instance", state.target.name),) + state.target.labels)
            for state in self.states.values()
        ]
        return self.scraper.scrape_many(jobs)

    def scrape_one(self, target: str) -> MetricSet:
        """One target for /scrape; Prometheus supplies the instance label."""
        state = self.resolve(target)
        # Each HTTP request has its own thread already, and the socket deadline
        # bounds the scrape, so one target needs no trip through the pool.
        return state.scrape(state.target.labels)

    def resolve(self, text: str) -> TargetState:
        """Find the state for a /scrape target: by name, by address, or by allow rule."""
        if text in self.states:
            return self.states[text]
        try:
            endpoint = parse_uri(text)
        except ValueError as exc:
            raise TargetNotAllowed(str(exc)) from None
        if endpoint.password is not None or endpoint.username is not None:
            raise TargetNotAllowed(
                "credentials in the target URL are not accepted; put them in the config"
            )
        key = endpoint.key()
        if key in self._by_endpoint:
            return self._by_endpoint[key]
        with self._lock:
            if key in self._dynamic:
                self._dynamic.move_to_end(key)
                return self._dynamic[key]
            rule = next((r for r in self.config.allow if r.pattern.matches(endpoint)), None)
            if rule is not None:
                target = TargetConfig(endpoint, endpoint.address(), (), rule.credentials)
                state = self._dynamic[key] = TargetState(target)
                evicted = (
                    self._dynamic.popitem(last=False)[1]
                    if len(self._dynamic) > MAX_DYNAMIC_TARGETS
                    else None
                )
        if rule is not None:
            if evicted is not None:
                evicted.close()
            return state
        raise TargetNotAllowed(
            f"target {endpoint.redacted()} is not in the config and matches no allow pattern"
        )

    def close(self) -> None:
        self.scraper.close()
        for state in list(self.states.values()) + list(self._dynamic.values()):
            state.close()
