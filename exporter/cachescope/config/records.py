"""What a configuration is: targets, discovery, allow rules, as plain frozen dataclasses.

loader.py reads them from YAML.
"""

from __future__ import annotations

import dataclasses

from cachescope.config.allow import AllowRule, Network
from cachescope.config.credentials import NO_CREDENTIALS, Credentials
from cachescope.config.indexpattern import compile_index_pattern
from cachescope.config.keyspace import KeyspaceConfig
from cachescope.config.schema import Bounds
from cachescope.config.targets import Endpoint, parse_uri

DEFAULT_LISTEN_ADDRESS = ":9808"
DEFAULT_TARGET = "redis://localhost:6379"


@dataclasses.dataclass(frozen=True, kw_only=True)
class DiscoveryConfig:
    """A target that stands for more: a cluster seed, or a sentinel's master sets."""

    kind: str  # "cluster" or "sentinel"
    master_sets: tuple[str, ...] = ()  # sentinel: the sets to follow; empty means all
    node_credentials: Credentials | None = None  # for discovered nodes; default the target's
    interval: float = 30.0
    # Networks whose nodes get credentials and are scraped; None: the seed's own range.
    allow: tuple[Network, ...] | None = None


# Ask LATENCY HISTOGRAM at least every 100th scrape: minutes old at 15 s per scrape is
# already more than a 5-minute rate window can take.
MAX_HISTOGRAM_EVERY = 100


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RedisOptions:
    """Opt-in extras of a Redis scrape, as redis_exporter's flags of the same meaning."""

    # instance_role="master"|"slave" on every series (--append-instance-role-label)
    append_instance_role_label: bool = False
    # connections by client name, address family and idle time from CLIENT LIST
    client_breakdown: bool = False
    # RediSearch indexes read with FT.INFO: names, or regexes matched against FT._LIST
    search_indexes: tuple[str, ...] = ()
    # LATENCY HISTOGRAM (Redis 7.0+): on unless turned off, as redis_exporter's
    # --exclude-latency-histogram-metrics; off by a flag or a target's setting wins
    latency_histograms: bool = True
    # ...asked on every Nth scrape only, the last one exported again in between: the
    # buckets are counters, so a rate over a window of several N scrapes is still right
    latency_histograms_every: int = 1

    def merged(self, other: RedisOptions) -> RedisOptions:
        """What either turns on (or, for the histograms, off) holds for every target."""
        return RedisOptions(
            append_instance_role_label=self.append_instance_role_label
            or other.append_instance_role_label,
            client_breakdown=self.client_breakdown or other.client_breakdown,
            search_indexes=tuple(dict.fromkeys(self.search_indexes + other.search_indexes)),
            latency_histograms=self.latency_histograms and other.latency_histograms,
            latency_histograms_every=max(
                self.latency_histograms_every, other.latency_histograms_every
            ),
        )


def search_index_entry(entry: str) -> str:
    """A `search_indexes` entry checked: a name, or an RE2 (Go syntax) regex; ValueError if not."""
    if not entry.strip() or any(ord(char) < 32 for char in entry):
        raise ValueError("a search index name is empty or holds a control character")
    compile_index_pattern(entry)
    return entry


@dataclasses.dataclass(frozen=True, kw_only=True)
class TargetConfig:
    endpoint: Endpoint
    name: str
    labels: tuple[tuple[str, str], ...] = ()
    credentials: Credentials = Credentials()
    config_command: str = "CONFIG"
    discovery: DiscoveryConfig | None = None
    keyspace: KeyspaceConfig | None = None  # the background sampler, when turned on
    # Memcached: `stats slabs` and `stats items`, whose families grow with the slab classes.
    slab_metrics: bool = True
    refused: str = ""  # why a discovered node is not contacted (outside discover.allow)
    redis: RedisOptions = RedisOptions()

    @property
    def timeout(self) -> float:
        return self.credentials.timeout


@dataclasses.dataclass
class Config:
    targets: list[TargetConfig]
    allow: list[AllowRule] = dataclasses.field(default_factory=list)
    source: str = ""
    slab_metrics: bool = True  # for Memcached targets an allow rule admits
    redis: RedisOptions = RedisOptions()  # the flags' options, for targets of allow rules


# A timeout past ten minutes is a hang by another name; one under 1ms always fails.
TIMEOUT = Bounds(0.001, 600.0)
# How often discovery runs in the background: faster than 100ms only loads the seeds.
INTERVAL = Bounds(0.1, 86_400.0)


def target_from_uri(uri: str, credentials: Credentials = NO_CREDENTIALS) -> TargetConfig:
    """A target given on the command line (`--target URI`)."""
    endpoint = parse_uri(uri)
    creds = dataclasses.replace(
        credentials,
        username=endpoint.username or credentials.username,
        password=endpoint.password or credentials.password,
    )
    return TargetConfig(endpoint=endpoint, name=endpoint.default_name(), credentials=creds)
