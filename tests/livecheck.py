"""The `unit` / `live` split of the tests, and the guard that keeps `unit` honest.

The rule, applied at collection by conftest.py (`pytest -m unit` runs the fast subset):

1. A test marked `live` or `unit` by hand (or by its module's `pytestmark`) keeps that mark.
2. A test is `live` if it uses, directly or through another fixture, a fixture of
   LIVE_FIXTURES: each starts a server, an exporter, openssl, or listens on a port.
3. A test is `live` if its module is in LIVE_MODULES (every test of it starts processes --
   redis-server, the exporter, promtool, Prometheus -- or opens sockets, as the hostile
   fakes of tests/hostile.py do, often through the module's own fixtures), or if it is
   named in LIVE_TESTS under its module (a live test among unit ones).
4. Every other test is `unit`.

A `unit` test runs under `forbid_live()`: starting a process (subprocess, fork, spawn,
multiprocessing) or connecting, binding or listening on a socket fails it, even when the
test catches the error. So a new test that talks to a server cannot hide in the fast subset:
it fails until it is marked `live` (rule 1) or its module is listed here.
"""

from __future__ import annotations

import contextlib
import multiprocessing.util
import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

# Fixtures of conftest.py (and of test modules) that start a process or open a socket.
LIVE_FIXTURES = frozenset(
    {
        "redis_server",
        "memcached_server",
        "start_redis",
        "start_exporter",
        "start_mcp_http",  # cachescope mcp --transport http
        "tls_certs",  # runs openssl
        "listener",
        "primary_and_replica",
        "redis_binary",  # the matrix of real servers
        "any_redis",
        "promtool_results",  # test_rules.py: promtool test rules, once per module
        "key_pair",  # test_hostile_files.py: runs openssl
    }
)

# Modules whose tests start processes or open sockets outside the fixtures above.
LIVE_MODULES = frozenset(
    {
        "test_benchmarks",
        "test_dashboards_live",
        "test_discovery_background",
        "test_keyspace_passes",
        "test_e2e_alertmanager",
        "test_flags_hostile",
        "test_fleet_isolation",
        "test_hostile_replies",
        "test_hostile_targets",
        "test_http_front",
        "test_http_front_property",
        "test_keyspace",
        "test_matrix",
        "test_matrix_restrictions",
        "test_memcached",
        "test_redis_auth",
        "test_redis_failures",
        "test_redis_replication",
        "test_redis_scrape_endpoint",
        "test_redis_tls",
        "test_redis_topology",
        "test_reload_hostile",
        "test_rules_live",
        "test_scenarios",
        "test_secret_echo",
        "test_secret_labels",
        "test_service",
        "test_smoke_redis",
        "test_ssrf",
        "test_status_page",
        "test_target_matching",
        "test_webauth_limits",
    }
)

# Tests of mixed modules that start a process or open a socket without a fixture above.
LIVE_TESTS: dict[str, frozenset[str]] = {
    "test_analyze": frozenset(
        {
            "test_evicting_memcached_gets_the_eviction_finding",
            "test_full_memcached_dropping_never_read_items_has_no_early_eviction_finding",
            "test_memcached_evicting_items_still_being_read_gets_the_early_eviction_finding",
            "test_unreachable_target_is_an_error_report_and_exits_3",
        }
    ),
    "test_config_hostile": frozenset(
        {
            "test_a_fifo_as_config_file_does_not_block",
            "test_a_fifo_as_password_file_does_not_block",
            "test_a_password_file_that_never_ends_is_refused",
            "test_alias_bomb_is_refused_quickly_and_in_little_memory",
        }
    ),
    "test_demo": frozenset(
        {
            "test_demo_busy_port_is_replaced_by_a_free_one",
            "test_demo_comes_up_fires_an_alert_and_ctrl_c_stops_everything",
            "test_demo_sigterm_stops_everything_too",
            "test_demo_with_a_wrong_thresholds_file_says_where_and_starts_nothing",
            "test_demo_without_the_servers_names_the_debian_packages",
        }
    ),
    "test_deploy": frozenset(
        {
            "test_alertmanager_example_passes_amtool_and_routes_by_severity",
            "test_compose_prometheus_config_passes_promtool_with_the_rendered_rules",
            "test_configmap_holds_a_valid_cachescope_config",
            "test_dockerfile_is_clean_under_hadolint",
            "test_scrape_configs_pass_promtool",
            "test_wheel_in_a_fresh_venv_reports_its_version",
        }
    ),
    "test_discovery_credentials": frozenset(
        {
            "test_default_policy_is_the_seeds_own_range",
            "test_discover_allow_replaces_the_default",
        }
    ),
    "test_hostile_files": frozenset(
        {
            "test_serve_refuses_a_web_tls_file_that_is_not_a_regular_file_at_once",
            "test_serve_with_a_directory_as_password_file_names_the_field_not_the_listener",
        }
    ),
    "test_rules": frozenset(
        {
            "test_cli_writes_rule_files_that_promtool_accepts",
            "test_promtool_checks_every_rule_file",
        }
    ),
    "test_webauth": frozenset(
        {
            "test_live_a_flood_of_wrong_passwords_burns_a_bounded_amount_of_bcrypt",
            "test_live_a_malformed_hash_stops_the_start_naming_file_line_and_field",
            "test_live_long_passwords_get_401_and_the_exporter_keeps_answering",
            "test_live_lower_case_basic_scheme_is_accepted",
        }
    ),
}


def is_live(item: pytest.Item) -> bool:
    """Rules 2 and 3 above: whether a test with no hand-set mark is live."""
    if set(getattr(item, "fixturenames", ())) & LIVE_FIXTURES:
        return True
    module = item.module.__name__.rsplit(".", 1)[-1] if getattr(item, "module", None) else ""
    name = getattr(item, "originalname", item.name)
    return module in LIVE_MODULES or name in LIVE_TESTS.get(module, frozenset())


class LiveInUnitTest(RuntimeError):
    """A test marked unit started a process or touched the network."""


@contextlib.contextmanager
def forbid_live(violations: list[str]) -> Iterator[None]:
    """Make process starts and socket connects, binds and listens raise, noting each one."""

    def refuse(what: str) -> Callable[..., Any]:
        def refused(*args: object, **kwargs: object) -> Any:
            violations.append(what)
            raise LiveInUnitTest(f"a unit test tried {what}: mark it live (see tests/livecheck.py)")

        return refused

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess.Popen, "__init__", refuse("to start a process"))
        patch.setattr(multiprocessing.util, "spawnv_passfds", refuse("to spawn a process"))
        for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system"):
            if hasattr(os, name):
                patch.setattr(os, name, refuse(f"os.{name}"))
        # Sending a datagram binds implicitly; a new socket or pair is where any use starts.
        for name in ("connect", "connect_ex", "bind", "listen", "sendto", "sendmsg", "__init__"):
            patch.setattr(socket.socket, name, refuse(f"socket.{name.strip('_')}"))
        patch.setattr(socket, "socketpair", refuse("socket.socketpair"))
        yield
