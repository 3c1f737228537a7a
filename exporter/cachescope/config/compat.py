"""redis_exporter's and memcached_exporter's flags and variables, and what each does here.

One row per flag of the two peers. A row either names the `serve` option it is (an
alias: click takes its name and variable as the option's own), says how its value
becomes `serve` options, or says why cachescope does not need it. `compatargs.py`
reads command lines and environments through this table; docs/migrating.md and
the tests walk it, so a new row is documented and tested where it is added.
"""

from __future__ import annotations

from cachescope.config.compat_redis import REDIS_FLAGS
from cachescope.config.compatflag import MEMCACHED, CompatFlag, alias, go_bool, switch

__all__ = ["BY_NAME", "COMPAT_FLAGS", "CompatFlag", "aliases", "go_bool"]


def _memcached(value: str) -> tuple[str, ...]:
    if not value.strip():
        raise ValueError("needs an address, host:port")
    return (f"--target=memcached://{value.strip()}",)


def _m(name: str, option: str) -> CompatFlag:
    return alias(name, option, peer=MEMCACHED)


MEMCACHED_FLAGS: tuple[CompatFlag, ...] = (
    CompatFlag(
        name="memcached.address",
        peer=MEMCACHED,
        option="--target",
        to_args=_memcached,
        note="--target memcached://ADDRESS",
    ),
    _m("memcached.timeout", "--timeout"),
    CompatFlag(
        name="memcached.tls.enable",
        peer=MEMCACHED,
        option="--target",
        boolean=True,
        to_args=lambda value: (),  # translate() turns memcached:// into memcacheds://
        note="--target memcacheds://ADDRESS",
    ),
    _m("memcached.tls.cert-file", "--tls.cert-file"),
    _m("memcached.tls.key-file", "--tls.key-file"),
    _m("memcached.tls.ca-file", "--tls.ca-file"),
    _m("memcached.tls.server-name", "--tls.server-name"),
    CompatFlag(
        name="memcached.tls.insecure-skip-verify",
        peer=MEMCACHED,
        option="--tls.insecure-skip-verify",
        boolean=True,
        to_args=switch("--tls.insecure-skip-verify"),
        note="--tls.insecure-skip-verify",
    ),
    CompatFlag(
        name="memcached.pid-file",
        peer=MEMCACHED,
        same=("",),
        note="a remote server's process metrics are not the exporter's to read: run "
        "node_exporter or process-exporter beside memcached for them",
    ),
    CompatFlag(
        name="web.scrape-path",
        peer=MEMCACHED,
        same=("/scrape",),
        note="the multi-target path is /scrape; point the scrape config's metrics_path there",
    ),
    CompatFlag(
        name="web.systemd-socket",
        peer=MEMCACHED,
        boolean=True,
        same=("false",),
        note="systemd socket activation is not supported; use --web.listen-address",
    ),
)
# --web.listen-address, --web.config.file, --web.telemetry-path, --log.level and
# --log.format: memcached_exporter spells them as cachescope does.

COMPAT_FLAGS: tuple[CompatFlag, ...] = REDIS_FLAGS + MEMCACHED_FLAGS
BY_NAME: dict[str, CompatFlag] = {flag.name: flag for flag in COMPAT_FLAGS}


def aliases(option: str) -> list[CompatFlag]:
    """The rows that are other names of `option`."""
    return [flag for flag in COMPAT_FLAGS if flag.alias and flag.option == option]
