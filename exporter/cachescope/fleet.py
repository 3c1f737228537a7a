"""The fleet: configured targets, discovered ones, those reached through allow rules."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict

from cachescope.config.allow import AllowRule
from cachescope.config.records import Config, TargetConfig
from cachescope.config.targets import Endpoint, EndpointKey, parse_uri
from cachescope.exposition.families import MetricSet
from cachescope.exposition.joined import Joined
from cachescope.scrape.auditor import Auditor, audit_target
from cachescope.scrape.discoverythread import DiscoveryThread, add_metrics, start_all
from cachescope.scrape.shard import WHOLE, Shard, in_shard
from cachescope.scrape.state import Scraper, TargetState, Task
from cachescope.workers.pool import ProcessScraper, process_count

# Targets reached through allow rules keep their connection between scrapes;
# this bounds how many we keep, so a scanner cannot make us hoard sockets.
MAX_DYNAMIC_TARGETS = 1000


class TargetNotAllowed(Exception):
    """A /scrape target that is neither configured nor matched by an allow rule."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Limits:
    """Bounds that make a huge configuration degrade predictably; each field is its flag's."""

    max_concurrency: int = 32  # --max-concurrency: scrape threads (targets at once) per process
    max_series: int = 20_000  # --limits.max-series: per target; more fails (0: no limit)
    max_connections: int = 10_000  # --limits.max-connections: targets kept connected
    shard: Shard = WHOLE  # --shard i/n: /metrics watches the i-th of n slices (scrape/shard.py)
    scrape_processes: int = 0  # --scrape.processes: for /metrics (0: one per CPU, big fleets)


def sd_group(target: TargetConfig) -> dict[str, object]:
    """One target for /discover: its name as the address, everything else as __meta_ labels.

    The name is what /metrics calls the target, so `instance` is the same in both modes.
    The per-target labels come back in the /scrape body; as target labels too, Prometheus
    would keep both and rename the scraped ones to exported_<label>.
    """
    meta = {
        "__meta_cachescope_name": target.name,
        "__meta_cachescope_target_name": target.name,  # the spelling before issue #20
        "__meta_cachescope_uri": target.endpoint.redacted(),
    }
    meta |= {f"__meta_cachescope_label_{key}": value for key, value in target.labels}
    return {"targets": [target.name], "labels": meta}


class Fleet:
    def __init__(
        self, config: Config, limits: Limits = Limits(), *, audit_interval: float = 0.0
    ) -> None:
        self.limits = limits
        self.config = config
        # One per target with `discover`, in config order; each asks its seed in the background.
        self.discoveries: list[DiscoveryThread] = self._discoveries(config, [])
        self.states: dict[str, TargetState] = {}  # this replica's slice: what /metrics scrapes
        # Every configured or discovered target, whatever the shard: what /scrape serves.
        self._targets: dict[str, TargetConfig] = {}
        self._by_endpoint: dict[EndpointKey, TargetConfig] = {}
        # Cluster seeds whose nodes stand in for them, by the name the config gives them:
        # a seed is not watched itself, but /scrape and `mcp` still answer to its name.
        self.seeds: dict[str, TargetConfig] = {}
        # States of targets outside the slice, made at their first /scrape.
        self._others: dict[str, TargetState] = {}
        # /scrape target texts already resolved to a configured target: Prometheus
        # sends the same few texts on every scrape, and parsing a URI costs more.
        self._by_text: dict[str, TargetState] = {}
        self._dynamic: OrderedDict[EndpointKey, TargetState] = OrderedDict()
        self._lock = threading.Lock()
        self.scraper = Scraper(max_concurrency=limits.max_concurrency)
        self.workers: ProcessScraper | None = None  # started by the first large scrape_all
        self.refresh()
        # --audit.interval: one thread audits the slice's targets in turn (0: no thread).
        self.auditor: Auditor | None = None
        if audit_interval > 0:
            self.auditor = Auditor(audit_interval, self._audited, audit_target)
            self.auditor.start()

    @staticmethod
    def _discoveries(config: Config, running: list[DiscoveryThread]) -> list[DiscoveryThread]:
        """A thread per discovery target: the running one if its seed is unchanged, else new.

        New threads are started and have had their first round (see start_all).
        """
        spare, threads, new = list(running), [], []
        for target in config.targets:
            if target.discovery is None:
                continue
            same = next((t for t in spare if t.target == target), None)
            if same is None:
                same = DiscoveryThread(target)
                new.append(same)
            else:
                spare.remove(same)
            threads.append(same)
        start_all(new)
        return threads

    def reload(self, config: Config) -> None:
        """Swap in a new, already validated configuration.

        Targets whose settings did not change keep their state and connection, and
        seeds their discovery thread; a scrape under way on a removed target
        finishes before it is closed, a removed seed's thread after its round.
        """
        discoveries = self._discoveries(config, self.discoveries)
        with self._lock:
            self.config = config
            stale = [t for t in self.discoveries if t not in discoveries]
            self.discoveries = discoveries
            dynamic, self._dynamic = list(self._dynamic.values()), OrderedDict()
        for thread in stale:
            thread.stop()
        self.refresh()
        for state in dynamic:
            state.close()

    def _audited(self) -> list[TargetConfig]:
        """What the auditor walks: the slice /metrics watches, whatever reloads change, and
        the targets /scrape reached through allow rules (the multi-target pattern's whole
        fleet), as long as they are kept."""
        with self._lock:
            states = [*self.states.values(), *self._dynamic.values()]
        # Audits are kept by name: of two targets with one name (an allowed target on
        # another db of a configured host), the first is audited, the other not.
        named = {state.target.name: state.target for state in reversed(states)}
        return [target for target in named.values() if not target.refused]

    def _new_state(self, target: TargetConfig, used: int) -> TargetState:
        """A state that keeps its connection while `used` is under the connection budget."""
        persistent = used < self.limits.max_connections
        return TargetState(target, persistent=persistent, max_series=self.limits.max_series)

    def _connections(self) -> int:
        states = [*self.states.values(), *self._others.values(), *self._dynamic.values()]
        return sum(1 for state in states if state.persistent)

    def wanted(self) -> list[TargetConfig]:
        """Configured targets and what discovery expands them to, by unique name."""
        return list(self._expand()[0].values())

    def _expand(self) -> tuple[dict[str, TargetConfig], dict[str, TargetConfig]]:
        """What wanted() lists, by name, and the cluster seeds its nodes replaced."""
        wanted: dict[str, TargetConfig] = {}
        seeds: dict[str, TargetConfig] = {}
        with self._lock:  # the config and its discovery threads, from the same reload
            config, discoveries = self.config, iter(self.discoveries)
        for target in config.targets:
            if target.discovery is None:
                wanted.setdefault(target.name, target)
                continue
            found = next(discoveries).targets()
            itself = dataclasses.replace(target, discovery=None)
            if target.discovery.kind == "sentinel" or not found:
                # A sentinel is watched itself too; a cluster seed only until nodes are known.
                wanted.setdefault(target.name, itself)
            else:
                seeds.setdefault(target.name, itself)
            for node in found:
                wanted.setdefault(node.name, node)
        return wanted, {name: seed for name, seed in seeds.items() if name not in wanted}

    def refresh(self) -> None:
        """Start watching new targets of the slice, stop watching those gone or changed."""
        wanted, seeds = self._expand()
        closing = []
        with self._lock:
            for states, known in ((self.states, wanted), (self._others, wanted | seeds)):
                for name, state in list(states.items()):
                    if known.get(name) != state.target:
                        closing.append(states.pop(name))
            used = self._connections()
            for name, target in wanted.items():
                if name not in self.states and in_shard(name, self.limits.shard):
                    state = self.states[name] = self._new_state(target, used)
                    used += state.persistent
            self._targets, self.seeds = wanted, seeds
            self._by_endpoint = {t.endpoint.key(): t for t in wanted.values()}
            self._by_text = {}
        for state in closing:
            state.close()

    def scrape_all(self, budget: float | None = None) -> Joined:
        """Every target, each labelled with instance=<its name>, within `budget` seconds if given.

        Prometheus gives up on a scrape at its scrape_timeout: a target slower
        than that must cost its own series, not everyone's.
        """
        self.refresh()
        jobs = [
            Task(state, (("instance", state.target.name),) + state.target.labels)
            for state in list(self.states.values())
        ]
        processes = process_count(self.limits.scrape_processes, len(jobs))
        with self._lock:
            workers = self.workers
            if workers is not None and workers.processes != processes:
                workers.close()  # the fleet grew or shrank past the automatic threshold
                workers = self.workers = None
            if processes > 1 and workers is None:
                workers = self.workers = ProcessScraper(
                    processes, self.limits.max_concurrency, self.scraper
                )
        if workers is None:
            joined = self.scraper.scrape_many(jobs, budget)
        else:
            joined = workers.scrape_many(jobs, budget)
        if self.auditor is not None:  # in this process, from the stored audits: no I/O
            audits = MetricSet()
            for job in jobs:
                self.auditor.add_metrics(audits, job.state.target, job.labels, role=True)
            if audits.sample_count():
                joined.add(audits.rendered())
        return joined

    def scrape_one(self, target: str, budget: float | None = None) -> MetricSet:
        """One target for /scrape, within `budget` seconds if given; Prometheus supplies
        the instance label."""
        state = self.resolve(target)
        until = None if budget is None else time.monotonic() + budget
        # Each HTTP request has its own thread already, and the socket deadline
        # bounds the scrape, so one target needs no trip through the pool.
        metrics = state.scrape(state.target.labels, until)
        if self.auditor is not None:  # the stored audit, under the scrape's base labels
            self.auditor.add_metrics(metrics, state.target, ())
        return metrics

    def resolve(self, text: str) -> TargetState:
        """Find the state for a /scrape target: by name, by address, or by allow rule.

        Any configured or discovered target, in this replica's slice or not: in the
        /scrape mode Prometheus' hashmod, not --shard, picks the replica.
        """
        state = self.states.get(text) or self._by_text.get(text)
        if state is not None:
            return state
        target = self._targets.get(text) or self.seeds.get(text)
        if target is None:
            endpoint = self._parse(text)
            target = self._by_endpoint.get(endpoint.key())
            if target is None:
                return self._allowed(endpoint)
        state = self._serve(target)
        if len(self._by_text) < MAX_DYNAMIC_TARGETS:
            self._by_text[text] = state
        return state

    @staticmethod
    def _parse(text: str) -> Endpoint:
        """The endpoint a /scrape target names, refused if it cannot be or carries credentials."""
        try:
            endpoint = parse_uri(text)
        except ValueError as exc:
            raise TargetNotAllowed(str(exc)) from None
        if endpoint.password is not None or endpoint.username is not None:
            raise TargetNotAllowed(
                "credentials in the target URL are not accepted; put them in the config"
            )
        return endpoint

    def _serve(self, target: TargetConfig) -> TargetState:
        """The state of a wanted target: the slice's, or one made for /scrape alone."""
        with self._lock:
            state = self.states.get(target.name) or self._others.get(target.name)
            if state is None:
                state = self._others[target.name] = self._new_state(target, self._connections())
            return state

    def _allowed(self, endpoint: Endpoint) -> TargetState:
        """The state of a target reached through an allow rule, made at its first /scrape."""
        key, evicted = endpoint.key(), None
        with self._lock:
            state = self._dynamic.get(key)
            if state is not None:
                self._dynamic.move_to_end(key)
                return state
            admitted = self._admit(endpoint)
            if admitted is None:
                raise TargetNotAllowed(
                    f"target {endpoint.redacted()} is not in the config and matches no allow"
                    " pattern"
                )
            # Connect to what the rule matched (a socket path resolved), not the text sent.
            rule, endpoint = admitted
            target = TargetConfig(
                endpoint=endpoint,
                name=endpoint.default_name(),
                credentials=rule.credentials,
                slab_metrics=self.config.slab_metrics,
                redis=self.config.redis,
            )
            state = self._dynamic[key] = self._new_state(target, self._connections())
            if len(self._dynamic) > MAX_DYNAMIC_TARGETS:
                evicted = self._dynamic.popitem(last=False)[1]
        if evicted is not None:
            evicted.close()
        return state

    def _admit(self, endpoint: Endpoint) -> tuple[AllowRule, Endpoint] | None:
        """The first allow rule that admits `endpoint`, and the endpoint it admits."""
        for rule in self.config.allow:
            admitted = rule.pattern.admit(endpoint)
            if admitted is not None:
                return rule, admitted
        return None

    def service_discovery(self) -> list[dict[str, object]]:
        """Targets in Prometheus' HTTP SD format, for /scrape?target= setups."""
        self.refresh()
        return [sd_group(target) for target in list(self._targets.values())]

    def add_discovery_metrics(self, metrics: MetricSet) -> None:
        """Each seed's discovery health: the age of its last success, its failed rounds."""
        add_metrics(self.discoveries, metrics)

    def close(self) -> None:
        """Close every connection and stop the discovery threads.

        A discovery thread is not waited for: one stuck on a hung seed ends when its
        query times out, and as a daemon it never holds up the process's exit.
        """
        for thread in self.discoveries:
            thread.stop()
        if self.auditor is not None:
            self.auditor.stop()
        if self.workers is not None:
            self.workers.close()
        self.scraper.close()
        for states in (self.states, self._others, self._dynamic):
            for state in list(states.values()):
                state.close()
