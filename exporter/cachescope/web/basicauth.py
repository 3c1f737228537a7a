"""HTTP basic auth against bcrypt hashes, within a CPU budget a stranger cannot exceed.

bcrypt is slow on purpose, which makes every unauthenticated request with a new
password a small CPU bill paid by the exporter. Three things keep that bill bounded:

- answers are remembered by a keyed digest of user and password: successes in a
  small cache that failures never touch (so Prometheus' own answer survives any
  flood), failures in a separate bounded one (so a repeated wrong password costs
  nothing);
- a token bucket of bcrypt work, counted in checks at cost 10, refilled with time:
  when it is empty, a new password gets THROTTLED at once, without a check;
- one check runs at a time, so a burst uses one core at most.

Refusing while the bucket is empty may turn away a newcomer with the right password
during a flood; we prefer that to letting anyone on the network take the CPU the
scrapes need. A client whose answer is remembered is never turned away.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import enum
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator

import bcrypt
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import REGISTRY, Collector

from cachescope.config.schema import out_of_range

# bcrypt reads at most 72 bytes of a password. bcrypt 4 silently drops the rest and
# bcrypt 5 raises; both would be wrong here. A longer password cannot be the one
# behind a configured hash (bcrypt 5, Go's bcrypt and therefore exporter-toolkit
# refuse to hash one), so it is refused outright: accepting it on its first 72 bytes
# would let any suffix through. We do not pre-hash, as that would make hashes made
# by htpasswd or for node_exporter fail here.
MAX_PASSWORD_BYTES = 72
# An Authorization header longer than this is no basic credential we could accept;
# refuse it before decoding anything.
_MAX_HEADER = 4096
VERIFIED_REMEMBERED = 256  # right answers, so a scrape costs no bcrypt after the first
FAILED_REMEMBERED = 4096  # wrong ones, so a retried wrong password costs one check
_HASH = re.compile(r"\$2[aby]\$([0-9]{2})\$[./A-Za-z0-9]{53}")
# Cost 4 is the least bcrypt takes. Each step up doubles the work; on the 2-core test
# machine one check took 0.085 s at cost 10, 0.34 s at 12 and 1.3 s at 14, so cost 16
# would take about 5 s and cost 31 about a day of a core, one unauthenticated request
# with an unknown user name enough to start it (that check runs at the highest cost
# configured). At 14 a check still ends within the slot wait below and one stranger's
# check is one of the budget's 4-second refills; exporter-toolkit users use 10 to 12.
_MIN_COST, _MAX_COST = 4, 14
# A failed check waits at most this long for the one check slot before giving up.
_SLOT_WAIT = 2.0


class Outcome(enum.Enum):
    OK = "ok"
    DENIED = "denied"
    THROTTLED = "throttled"  # not checked: the bcrypt budget is spent; try again later


def hash_cost(hashed: bytes | str) -> int:
    """The cost (log2 rounds) of a bcrypt hash already validated by hash_problem."""
    return int(hashed[4:6])


def hash_problem(hashed: object) -> str | None:
    """Why `hashed` is not a bcrypt hash we can check, or None when it is."""
    if not isinstance(hashed, str) or not _HASH.fullmatch(hashed):
        return "must be a bcrypt hash: $2a$, $2b$ or $2y$, two cost digits, $, 53 of ./A-Za-z0-9"
    cost = hash_cost(hashed)
    if not _MIN_COST <= cost <= _MAX_COST:
        return out_of_range(
            "a bcrypt hash of cost", f"between {_MIN_COST} and {_MAX_COST}", f"cost {cost}"
        )
    # The pattern lets through salts whose last character carries stray bits, which
    # the library refuses; try the salt at the cheapest cost, so that such a hash
    # fails here rather than in every request.
    try:
        bcrypt.checkpw(b"", f"$2b$04${hashed[7:]}".encode())
    except ValueError:
        return "is not a valid bcrypt hash: the library refuses its salt"
    return None


def parse_basic(header: str | None) -> tuple[str, bytes] | None:
    """User and password from an `Authorization: Basic` header, or None if malformed."""
    if not header or len(header) > _MAX_HEADER:
        return None
    scheme, _, token = header.strip().partition(" ")
    if not scheme.isascii() or scheme.lower() != "basic":  # RFC 9110: case-insensitive
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True)
        decoded.decode("utf-8")  # RFC 7617 charset; binascii and Unicode errors are ValueErrors
    except ValueError:
        return None
    user, colon, password = decoded.partition(b":")
    return (user.decode(), password) if colon else None


@dataclasses.dataclass(slots=True)
class CheckBudget:
    """A token bucket of bcrypt work, in checks at cost 10 (about 50-100 ms of CPU each)."""

    rate: float = 4.0  # per second: about a quarter of a core, whatever the cost
    burst: float = 16.0  # after a quiet spell: a restarting Prometheus' jobs log in at once
    clock: Callable[[], float] = time.monotonic
    _tokens: float = dataclasses.field(init=False)
    _stamp: float = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self._tokens = self.burst
        self._stamp = self.clock()

    def take(self, units: float) -> bool:
        """Spend `units` if any budget is left; one check may overdraw it, not two."""
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens <= 0:
            return False
        self._tokens -= units
        return True


class Recent:
    """A bounded set of keys; the least recently seen goes first."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._keys: collections.OrderedDict[bytes, None] = collections.OrderedDict()

    def __contains__(self, key: bytes) -> bool:
        if key in self._keys:
            self._keys.move_to_end(key)
            return True
        return False

    def add(self, key: bytes) -> None:
        self._keys[key] = None
        self._keys.move_to_end(key)
        if len(self._keys) > self.limit:
            self._keys.popitem(last=False)


@dataclasses.dataclass(slots=True)
class Stats:
    """What the authenticator did since the process started, for /metrics."""

    checks: int = 0
    check_seconds: float = 0.0
    failures: dict[str, int] = dataclasses.field(
        default_factory=lambda: dict.fromkeys(("malformed", "too_long", "wrong", "throttled"), 0)
    )


STATS = Stats()
_STATS_LOCK = threading.Lock()
# One bcrypt check at a time in the process, whatever the number of configs.
_CHECKING = threading.Semaphore(1)


def _fail(reason: str, outcome: Outcome = Outcome.DENIED) -> Outcome:
    with _STATS_LOCK:
        STATS.failures[reason] += 1
    return outcome


def _checkpw(password: bytes, hashed: bytes) -> bool:
    """bcrypt's check, timed and counted; a hash the library refuses is a mismatch."""
    start = time.monotonic()
    try:
        return bcrypt.checkpw(password, hashed)
    except ValueError:  # validated at load; should a library version still refuse it
        return False
    finally:
        with _STATS_LOCK:
            STATS.checks += 1
            STATS.check_seconds += time.monotonic() - start


class BasicAuth:
    """Checks credentials against bcrypt hashes; see the module docstring for the limits."""

    def __init__(self, users: dict[str, bytes], budget: CheckBudget) -> None:
        self.users = users
        self.budget = budget
        cost = max((hash_cost(h) for h in users.values()), default=10)
        # Unknown users are checked against this, so that a wrong name costs what a
        # wrong password costs. Its cost is the highest configured one; the hash part
        # (all zero bits) is what no password gives, and it saves a hash at startup.
        self.dummy_hash = bcrypt.gensalt(rounds=cost) + b"." * 31
        self._units = 2.0 ** (cost - 10)  # every check is charged at the highest cost
        self._key = secrets.token_bytes(32)  # the caches keep no plain password digests
        self._verified = Recent(VERIFIED_REMEMBERED)
        self._failed = Recent(FAILED_REMEMBERED)
        self._lock = threading.Lock()

    def check(self, header: str | None) -> Outcome:
        """The outcome for an Authorization header; never raises."""
        if not self.users:
            return Outcome.OK
        credentials = parse_basic(header)
        if credentials is None:
            return _fail("malformed")
        user, password = credentials
        if len(password) > MAX_PASSWORD_BYTES:
            return _fail("too_long")
        key = hmac.new(self._key, user.encode() + b":" + password, hashlib.sha256).digest()
        with self._lock:
            if key in self._verified:
                return Outcome.OK
            if key in self._failed:
                return _fail("wrong")
            if not self.budget.take(self._units):
                return _fail("throttled", Outcome.THROTTLED)
        if not _CHECKING.acquire(timeout=_SLOT_WAIT):
            return _fail("throttled", Outcome.THROTTLED)
        try:
            hashed = self.users.get(user)
            ok = _checkpw(password, hashed or self.dummy_hash) and hashed is not None
        finally:
            _CHECKING.release()
        with self._lock:
            (self._verified if ok else self._failed).add(key)
        return Outcome.OK if ok else _fail("wrong")


class _AuthCollector(Collector):
    """Fresh counter families from STATS on every scrape of /metrics."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        with _STATS_LOCK:
            checks, seconds, failures = STATS.checks, STATS.check_seconds, dict(STATS.failures)
        yield CounterMetricFamily(
            "cachescope_http_auth_checks", "bcrypt checks of HTTP basic auth run.", value=checks
        )
        yield CounterMetricFamily(
            "cachescope_http_auth_check_seconds",
            "Time spent in bcrypt checks of HTTP basic auth.",
            value=seconds,
        )
        family = CounterMetricFamily(
            "cachescope_http_auth_failures",
            "HTTP requests refused by basic auth, by reason (throttled: not checked, "
            "the bcrypt budget was spent).",
            labels=["reason"],
        )
        for reason, count in failures.items():
            family.add_metric([reason], count)
        yield family


REGISTRY.register(_AuthCollector())
