"""Turning the serve command's flags (and the config file they name) into a Config."""

from __future__ import annotations

import dataclasses
import os

from cachescope.config.allow import AllowRule, parse_pattern
from cachescope.config.credentials import Credentials
from cachescope.config.loader import load_config, read_password_file
from cachescope.config.records import (
    DEFAULT_TARGET,
    TIMEOUT,
    Config,
    RedisOptions,
    target_from_uri,
)
from cachescope.config.schema import parse_duration
from cachescope.config.targets import Secret
from cachescope.config.yamlmarks import ConfigError


@dataclasses.dataclass(frozen=True, kw_only=True)
class TargetFlags:
    """The serve flags that say what to scrape: --config.file, --target, --redis.*, ..."""

    config_file: str | None
    targets: tuple[str, ...]  # --target, repeated
    user: str | None  # --redis.user
    password_file: str | None  # --redis.password-file
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
        credentials = Credentials(username=self.user, password=self._password(), timeout=timeout)
        uris = [uri for text in self.targets for uri in text.split()]
        if not uris and not config.targets and not self.config_file:
            uris = [DEFAULT_TARGET]
        names = {target.name for target in config.targets}
        for uri in uris:
            try:
                target = target_from_uri(uri, credentials)
            except ValueError as exc:  # parse_uri's message never repeats a password
                raise ConfigError(str(exc), "--target") from None
            if target.endpoint.kind == "memcached":  # the --redis.* credentials are Redis' only
                target = target_from_uri(uri, Credentials(timeout=credentials.timeout))
                target = dataclasses.replace(target, slab_metrics=self.slab_metrics)
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

    def _password(self) -> Secret | None:
        if self.password_file:
            try:
                return read_password_file(self.password_file)
            except ValueError as exc:
                raise ConfigError(
                    f"cannot read {self.password_file}: {exc}", "--redis.password-file"
                ) from None
        password = os.environ.get("CACHESCOPE_REDIS_PASSWORD")
        return Secret(password) if password else None
