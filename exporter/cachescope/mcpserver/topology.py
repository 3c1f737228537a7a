"""topology: a cluster's nodes and slots, a sentinel's master sets, or a server's replication.

Read with the commands a scrape sends (INFO, CLUSTER NODES, SENTINEL MASTERS, REPLICAS,
SENTINELS) on a connection of its own that is closed afterwards.
"""

from __future__ import annotations

import time
from typing import Any

from cachescope.config.records import TargetConfig
from cachescope.errors import ScrapeError
from cachescope.mcpserver.bounds import ToolRefused
from cachescope.redis.client import RedisConnection, ReplyError
from cachescope.redis.cluster import ClusterNode, parse_cluster_nodes
from cachescope.redis.parse import as_text, parse_info
from cachescope.redis.sentinel import entries

# Master sets a sentinel answer describes at most (each costs two more commands).
MAX_MASTER_SETS = 50
# Cluster nodes listed at most: Redis Cluster's own advice stops at 1000.
MAX_NODES = 1000


def read(target: TargetConfig) -> dict[str, Any]:
    """The topology seen from `target`; a failure to read it is refused with the reason."""
    if target.endpoint.kind != "redis":
        return {
            "target": target.name,
            "kind": "memcached",
            "topology": "standalone",
            "note": "Memcached servers do not know each other; clients shard the keys",
        }
    connection = RedisConnection(target)
    deadline = time.monotonic() + target.timeout
    try:
        return _read(connection, target, deadline)
    except ScrapeError as exc:
        raise ToolRefused(f"{target.name}: {exc.kind}: {exc.message}") from None
    finally:
        connection.close()


def _read(connection: RedisConnection, target: TargetConfig, deadline: float) -> dict[str, Any]:
    info = parse_info(_ok(connection.execute([("INFO", "ALL")], deadline)[0]))
    answer: dict[str, Any] = {"target": target.name, "version": info.get("redis_version")}
    if info.get("redis_mode") == "sentinel":
        return answer | _sentinel(connection, deadline)
    if info.get("cluster_enabled") == "1":
        nodes = _ok(connection.execute([("CLUSTER", "NODES")], deadline)[0])
        return answer | _cluster(as_text(nodes))
    return answer | _replication(info)


def _ok(reply: Any) -> Any:
    if isinstance(reply, ReplyError):
        raise ScrapeError("command", str(reply))
    return reply


def _cluster(text: str) -> dict[str, Any]:
    nodes = parse_cluster_nodes(text)
    # Counted from every node: a clipped list must not read as a cluster missing slots.
    primaries = [node for node in nodes if node.role != "slave"]
    # Primaries first, since they hold the slots, when the list is clipped.
    listed = sorted(nodes, key=lambda node: node.role == "slave")[:MAX_NODES]
    return {
        "topology": "cluster",
        "primaries": len(primaries),
        "replicas": len(nodes) - len(primaries),
        "slotsCovered": sum(node.slots for node in primaries),
        "nodes": [_node(node) for node in listed],
        "more": len(nodes) - len(listed),
    }


def _node(node: ClusterNode) -> dict[str, Any]:
    return {
        "nodeId": node.node_id,
        "address": f"{node.host}:{node.port}",
        "role": "replica" if node.role == "slave" else "primary",
        "primaryId": node.primary_id or None,
        "slots": node.slots,
        "flags": sorted(node.flags - {"myself", "master", "slave"}),
        "linkState": node.link_state,
        "thisNode": "myself" in node.flags,
    }


def _sentinel(connection: RedisConnection, deadline: float) -> dict[str, Any]:
    masters = entries(_ok(connection.execute([("SENTINEL", "MASTERS")], deadline)[0]))
    shown = masters[:MAX_MASTER_SETS]
    commands = []
    for master in shown:
        commands += [
            ("SENTINEL", "REPLICAS", master["name"]),
            ("SENTINEL", "SENTINELS", master["name"]),
        ]
    replies = connection.execute(commands, deadline) if commands else []
    sets = []
    for i, master in enumerate(shown):
        replicas, sentinels = (entries(reply) for reply in replies[2 * i : 2 * i + 2])
        sets.append(
            {
                "name": master.get("name"),
                "master": f"{master.get('ip')}:{master.get('port')}",
                "flags": master.get("flags"),
                "quorum": _int(master.get("quorum")),
                "sentinels": len(sentinels) + 1,  # the others, and the one asked
                "replicas": [
                    {
                        "address": f"{r.get('ip')}:{r.get('port')}",
                        "flags": r.get("flags"),
                        "linkStatus": r.get("master-link-status"),
                        "offset": _int(r.get("slave-repl-offset")),
                    }
                    for r in replicas
                ],
            }
        )
    return {"topology": "sentinel", "masterSets": sets, "more": max(len(masters) - len(shown), 0)}


def _replication(info: dict[str, str]) -> dict[str, Any]:
    answer: dict[str, Any] = {"topology": "standalone", "role": info.get("role")}
    if info.get("role") == "slave":
        answer |= {
            "role": "replica",
            "primary": f"{info.get('master_host')}:{info.get('master_port')}",
            "linkStatus": info.get("master_link_status"),
        }
    replicas = []
    for index in range(_int(info.get("connected_slaves")) or 0):
        fields = dict(
            part.split("=", 1) for part in info.get(f"slave{index}", "").split(",") if "=" in part
        )
        replicas.append(
            {
                "address": f"{fields.get('ip')}:{fields.get('port')}",
                "state": fields.get("state"),
                "lagSeconds": _int(fields.get("lag")),
            }
        )
    answer["replicas"] = replicas
    return answer


def _int(text: str | None) -> int | None:
    try:
        return None if text is None else int(text)
    except ValueError:
        return None
