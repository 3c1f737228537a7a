"""How to log in to a target: shared by targets, discovered nodes and allow rules."""

from __future__ import annotations

import dataclasses

from cachescope.config.targets import Secret

DEFAULT_TIMEOUT = 5.0


@dataclasses.dataclass(frozen=True, kw_only=True)
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


@dataclasses.dataclass(frozen=True, kw_only=True)
class Credentials:
    """How to log in to a target; shared by targets and allow rules."""

    username: str | None = None
    password: Secret | None = None
    tls: TLSConfig = TLSConfig()
    timeout: float = DEFAULT_TIMEOUT


NO_CREDENTIALS = Credentials()  # a target that logs in as nobody in particular
