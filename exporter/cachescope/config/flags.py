"""Turning the serve command's flags (and the config file they name) into a Config."""

from __future__ import annotations

import dataclasses
import json
import re

from cachescope.config.allow import AllowRule, parse_pattern
from cachescope.config.credentials import Credentials, TLSConfig
from cachescope.config.loader import load_config, read_password_file, read_tls_file
from cachescope.config.records import (
    DEFAULT_TARGET,
    TIMEOUT,
    Config,
    RedisOptions,
    TargetConfig,
    target_from_uri,
)
from cachescope.config.schema import parse_duration
from cachescope.config.targets import EndpointKey, Secret, parse_uri
from cachescope.config.yamlmarks import ConfigError

# Paths the exporter answers itself: --web.telemetry-path may not take one of them.
_RESERVED_PATHS = ("/", "/scrape", "/discover", "/-/healthy", "/-/ready", "/-/reload")
# What a request line carries as it is: a '?', '#', space, '%' or non-ASCII character
# would reach the server encoded or cut, and the path would never match.
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*")
PasswordMap = dict[EndpointKey, Secret]


# redis_exporter users sometimes list several addresses in REDIS_ADDR, comma-separated.
_ONE_ADDRESS = (
    " (one address per --target or REDIS_ADDR: repeat --target, separate addresses with "
    "spaces in CACHESCOPE_TARGETS, or list them in --config.file)"
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class TargetFlags:
    """The serve flags that say what to scrape: --config.file, --target, --redis.*, ..."""

    config_file: str | None
    targets: tuple[str, ...]  # --target, repeated
    user: str | None  # --redis.user
    password: str | None = None  # --redis.password (or its variables)
    password_file: str | None  # --redis.password-file
    config_command: str = "CONFIG"  # --redis.config-command; "-": none
    tls: TLSConfig = TLSConfig()  # --tls.*
    timeout: str
    allow: tuple[str, ...]  # --scrape.allow, repeated
    slab_metrics: bool = True  # --memcached.slab-metrics: default of every Memcached target
    redis: RedisOptions = RedisOptions()  # --append-instance-role-label, --redis.client-breakdown

    def load(self) -> Config:
        """Read the config file (again, on reload) and add the targets given as flags."""
        config = (
            load_config(self.config_file, self.slab_metrics)
            if self.config_file
            else Config(targets=[], slab_metrics=self.slab_metrics)
        )
        try:
            timeout = parse_duration(self.timeout, TIMEOUT)
        except ValueError as exc:
            raise ConfigError(str(exc), "--timeout") from None
        password, mapped, mapped_uris = self._passwords()
        self._check_tls()
        credentials = Credentials(
            username=self.user, password=password, tls=self.tls, timeout=timeout
        )
        uris = [uri for text in self.targets for uri in text.split()]
        uris += [uri for uri in mapped_uris if uri not in uris]
        if not uris and not config.targets and not self.config_file:
            uris = [DEFAULT_TARGET]
        names = {target.name for target in config.targets}
        command = "" if self.config_command == "-" else self.config_command
        for uri in uris:
            target = self._target(uri, credentials, command, mapped)
            if target.name not in names:
                config.targets.append(target)
                names.add(target.name)
        # Targets reached through a pattern get no password: --redis.* credentials
        # are for the --target targets, never for a host a request names.
        anonymous = Credentials(timeout=credentials.timeout)
        for text in self.allow:
            try:
                pattern = parse_pattern(text)
            except ValueError as exc:
                raise ConfigError(str(exc), "--scrape.allow") from None
            config.allow.append(AllowRule(pattern, anonymous))
        return self._with_redis_options(config)

    def _with_redis_options(self, config: Config) -> Config:
        """The flags' Redis options turned on for every Redis target, listed or allowed."""
        if self.redis == RedisOptions():
            return config
        config.redis = self.redis
        config.targets = [
            dataclasses.replace(target, redis=target.redis.merged(self.redis))
            if target.endpoint.kind == "redis"
            else target
            for target in config.targets
        ]
        return config

    def _target(
        self, uri: str, credentials: Credentials, command: str, mapped: PasswordMap
    ) -> TargetConfig:
        try:
            endpoint = parse_uri(uri)
        except ValueError as exc:  # parse_uri's message never repeats a password
            raise ConfigError(str(exc) + _ONE_ADDRESS * ("," in uri), "--target") from None
        if endpoint.kind == "memcached":  # the --redis.* credentials are Redis' only
            credentials = Credentials(tls=self.tls, timeout=credentials.timeout)
            target = target_from_uri(uri, credentials)
            return dataclasses.replace(target, slab_metrics=self.slab_metrics)
        password = mapped.get(endpoint.key(), credentials.password)
        credentials = dataclasses.replace(credentials, password=password)
        target = target_from_uri(uri, credentials)
        return dataclasses.replace(target, config_command=command)

    def _passwords(self) -> tuple[Secret | None, PasswordMap, list[str]]:
        """The one password, or (a JSON password file) a password per URI, and the URIs."""
        if not self.password_file:
            return (Secret(self.password) if self.password else None), {}, []
        mapped: PasswordMap = {}
        try:
            secret = read_password_file(self.password_file)
            if not secret.reveal().startswith("{"):
                return secret, {}, []
            uris = _password_map(secret.reveal(), mapped)
        except ValueError as exc:
            raise ConfigError(
                f"cannot read {self.password_file}: {exc}", "--redis.password-file"
            ) from None
        return None, mapped, uris

    def _check_tls(self) -> None:
        for field, path in self.tls.files():
            try:
                read_tls_file(path)
            except ValueError as exc:
                option = "--tls." + field.replace("_", "-")
                raise ConfigError(f"cannot read {path}: {exc}", option) from None


def _password_map(text: str, into: PasswordMap) -> list[str]:
    """redis_exporter's password file: a JSON object of URI to password. URIs by endpoint."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:  # its message quotes no content, only a position
        raise ValueError(f"not a JSON object of URI to password: line {exc.lineno}") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object of URI to password")
    uris: list[str] = []
    seen: dict[object, str] = {}  # endpoint -> its password in this file
    for uri, password in data.items():
        if not isinstance(password, str):
            raise ValueError("a password that is not a string")
        try:
            endpoint = parse_uri(uri)
        except ValueError as exc:
            raise ValueError(f"a key that is not a target URI ({exc})") from None
        if endpoint.key() in seen and seen[endpoint.key()] != password:
            # two spellings of one endpoint (cache-a:6379, redis://cache-a:6379/0): one
            # password would silently win. The URI is shown redacted, never a password.
            raise ValueError(f"names {endpoint.redacted()} twice, with different passwords")
        seen[endpoint.key()] = password
        into[endpoint.key()] = Secret(password)
        uris.append(uri)
    return uris


def telemetry_paths(path: str) -> frozenset[str]:
    """/metrics, and the --web.telemetry-path that serves it too."""
    if not path.startswith("/") or path in _RESERVED_PATHS:
        reserved = ", ".join(_RESERVED_PATHS)
        raise ConfigError(f"must start with / and not be one of {reserved}", "--web.telemetry-path")
    if not _PLAIN_PATH.fullmatch(path):
        raise ConfigError(
            "must be a plain URL path: ASCII letters, digits and -._~/!$&'()*+,;=:@ only "
            "(no '?', '#', '%', space or non-ASCII)",
            "--web.telemetry-path",
        )
    return frozenset({"/metrics", path})
