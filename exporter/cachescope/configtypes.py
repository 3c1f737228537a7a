"""What a configuration is: targets, credentials, discovery, as plain frozen dataclasses.

config.py reads them from YAML; every other module imports them from there.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

from cachescope.allow import AllowRule, Network
from cachescope.keyspace.settings import KeyspaceConfig
from cachescope.targets import Endpoint, Secret, parse_uri

DEFAULT_LISTEN_ADDRESS = ":9808"
DEFAULT_TARGET = "redis://localhost:6379"
DEFAULT_TIMEOUT = 5.0

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")


@dataclasses.dataclass(frozen=True)
class TLSConfig:
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    server_name: str | None = None
    insecure_skip_verify: bool = False

    def files(self) -> list[tuple[str, str]]:
        """(field, path) of each file configured."""
        named = (("ca_file", self.ca_file), ("cert_file", self.cert_file))
        return [(k, v) for k, v in (*named, ("key_file", self.key_file)) if v]


@dataclasses.dataclass(frozen=True)
class Credentials:
    """How to log in to a target; shared by targets and allow rules."""

    username: str | None = None
    password: Secret | None = None
    tls: TLSConfig = TLSConfig()
    timeout: float = DEFAULT_TIMEOUT


@dataclasses.dataclass(frozen=True)
class DiscoveryConfig:
    """A target that stands for more: a cluster seed, or a sentinel's master sets."""

    kind: str  # "cluster" or "sentinel"
    master_sets: tuple[str, ...] = ()  # sentinel: the sets to follow; empty means all
    node_credentials: Credentials | None = None  # for discovered nodes; default the target's
    interval: float = 30.0
    # Networks whose nodes get credentials and are scraped; None: the seed's own range.
    allow: tuple[Network, ...] | None = None


@dataclasses.dataclass(frozen=True)
class TargetConfig:
    endpoint: Endpoint
    name: str
    labels: tuple[tuple[str, str], ...] = ()
    credentials: Credentials = Credentials()
    config_command: str = "CONFIG"
    discovery: DiscoveryConfig | None = None
    keyspace: KeyspaceConfig | None = None  # the background sampler, when turned on
    refused: str = ""  # why a discovered node is not contacted (outside discover.allow)

    @property
    def timeout(self) -> float:
        return self.credentials.timeout


@dataclasses.dataclass
class Config:
    targets: list[TargetConfig]
    allow: list[AllowRule] = dataclasses.field(default_factory=list)
    source: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Bounds:
    """The range a duration must fall in, in seconds: no zero, no NaN, no forever."""

    low: float
    high: float

    def describe(self) -> str:
        return f"between {_human(self.low)} and {_human(self.high)}"


def _human(seconds: float) -> str:
    for unit, size in (("h", 3600.0), ("m", 60.0), ("s", 1.0)):
        if seconds >= size and (seconds / size).is_integer():
            return f"{seconds / size:g}{unit}"
    return f"{seconds * 1000:g}ms"


# A timeout past ten minutes is a hang by another name; one under 1ms always fails.
TIMEOUT = Bounds(0.001, 600.0)
# How often discovery runs in the background: faster than 100ms only loads the seeds.
INTERVAL = Bounds(0.1, 86_400.0)
ANY_DURATION = Bounds(0.001, 86_400.0)


def parse_duration(value: Any, bounds: Bounds = ANY_DURATION) -> float:
    """'5s', '250ms', '1m' or a number of seconds -> seconds, within `bounds`."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:  # an int too large for a float
            seconds = math.inf
    else:
        text = str(value).strip()
        match = _DURATION.match(text) if len(text) < 64 else None
        if not match:
            raise ValueError(
                f"invalid duration {value!r} (use e.g. 500ms, 5s, 1m, 1h; {bounds.describe()})"
            )
        unit = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}[match.group(2)]
        seconds = float(match.group(1)) * unit
    if not (math.isfinite(seconds) and bounds.low <= seconds <= bounds.high):
        raise ValueError(f"duration must be {bounds.describe()}, got {value!r}")
    return seconds


def target_from_uri(uri: str, credentials: Credentials = Credentials()) -> TargetConfig:
    """A target given on the command line (`--target URI`)."""
    endpoint = parse_uri(uri)
    creds = dataclasses.replace(
        credentials,
        username=endpoint.username or credentials.username,
        password=endpoint.password or credentials.password,
    )
    return TargetConfig(endpoint, endpoint.address(), (), creds)
