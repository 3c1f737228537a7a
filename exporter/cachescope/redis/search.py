"""RediSearch indexes: which to ask FT.INFO about, and its replies as redis_search_index_*.

    redis_search_index_num_docs{index_name="orders"} 1200
    redis_search_index_inverted_size_bytes{index_name="orders"} 12000
    redis_search_index_percent_indexed{index_name="orders"} 1
    redis_search_index_number_of_uses_total{index_name="orders"} 4

A target names its indexes (`search_indexes:`). A plain name is asked for directly;
a regular expression (matched against the whole name, in linear time by RE2:
config/indexpattern.py) needs FT._LIST, which RediSearch 1.x lacks. Names and types
follow redis_exporter's --check-search-indexes.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time

from cachescope.config.indexpattern import IndexPattern, compile_index_pattern
from cachescope.exposition.families import MetricSet
from cachescope.exposition.textformat import COUNTER, GAUGE
from cachescope.logs import fields

log = logging.getLogger(__name__)

Command = tuple[str, ...]
FT_LIST: Command = ("FT._LIST",)
FT_INFO = "FT.INFO"
# FT.INFO walks the index's structures on the server's one thread; 50 replies of a
# few KiB keep a scrape's round trip small while covering any sane deployment.
MAX_INDEXES = 50
# FT._LIST's reply is already bounded by redis/guard.py (32 MiB, 2^20 elements); matching
# is linear in a name's length, so what a scrape spends matching is bounded by the names
# it looks at: the first 10,000 (200 times MAX_INDEXES), each at most 16 KiB (no label
# that long is useful). A longer list or name is left out, with one warning.
MAX_LISTED = 10_000
MAX_NAME_BYTES = 16 << 10
# An index FT.INFO says does not exist is asked again after this long, not every
# scrape: each ask is an error reply on the server's errorstats.
MISSING_RETRY_SECONDS = 300.0
_MIB = 1048576.0
# What `re.escape` would touch: a name without these is asked for by name.
_REGEX_CHARS = frozenset(".^$*+?{}[]\\|()")


@dataclasses.dataclass(frozen=True, slots=True)
class IndexField:
    """One FT.INFO field as redis_exporter exports it."""

    key: str  # as FT.INFO spells it
    metric: str  # redis_search_index_<metric>
    help: str
    scale: float = 1.0  # FT.INFO gives sizes in MiB; we export bytes
    kind: str = GAUGE


_SIZE = "Memory used by the "
FIELDS: tuple[IndexField, ...] = (
    IndexField("num_docs", "num_docs", "Documents in the index."),
    IndexField("max_doc_id", "max_doc_id", "Largest document id of the index."),
    IndexField("num_terms", "num_terms", "Distinct terms in the index."),
    IndexField("num_records", "num_records", "Records (term and document pairs) in the index."),
    IndexField("inverted_sz_mb", "inverted_size_bytes", _SIZE + "inverted index.", _MIB),
    IndexField(
        "total_inverted_index_blocks", "total_inverted_index_blocks", "Inverted index blocks."
    ),
    IndexField("vector_index_sz_mb", "vector_index_size_bytes", _SIZE + "vector index.", _MIB),
    IndexField(
        "offset_vectors_sz_mb", "offset_vectors_size_bytes", _SIZE + "offset vectors.", _MIB
    ),
    IndexField("doc_table_size_mb", "doc_table_size_bytes", _SIZE + "document table.", _MIB),
    IndexField(
        "sortable_values_size_mb", "sortable_values_size_bytes", _SIZE + "sortable values.", _MIB
    ),
    IndexField("key_table_size_mb", "key_table_size_bytes", _SIZE + "key table.", _MIB),
    IndexField("tag_overhead_sz_mb", "tag_overhead_size_bytes", _SIZE + "TAG structures.", _MIB),
    IndexField("text_overhead_sz_mb", "text_overhead_size_bytes", _SIZE + "TEXT structures.", _MIB),
    IndexField(
        "total_index_memory_sz_mb", "total_index_memory_size_bytes", "Memory of the index.", _MIB
    ),
    IndexField("geoshapes_sz_mb", "geoshapes_size_bytes", _SIZE + "GEOSHAPE fields.", _MIB),
    IndexField("records_per_doc_avg", "avg_per_doc_records", "Average records per document."),
    IndexField("bytes_per_record_avg", "avg_per_record_bytes", "Average bytes per record."),
    IndexField("offsets_per_term_avg", "avg_per_term_offsets", "Average offsets per term."),
    IndexField(
        "offset_bits_per_record_avg",
        "avg_per_record_offset_bits",
        "Average offset bits per record.",
    ),
    IndexField("indexing", "indexing", "1 while the index is being built over existing keys."),
    IndexField("percent_indexed", "percent_indexed", "Share of the keys indexed so far (0-1)."),
    IndexField(
        "hash_indexing_failures", "hash_indexing_failures", "Documents that failed to index."
    ),
    IndexField("number_of_uses", "number_of_uses_total", "Times the index was used.", kind=COUNTER),
    IndexField("cleaning", "cleaning", "1 while the index is being deleted."),
)
_BY_KEY = {field.key: field for field in FIELDS}


def is_pattern(entry: str) -> bool:
    """Whether a `search_indexes` entry is a regular expression rather than a name."""
    return any(char in _REGEX_CHARS for char in entry)


def parse_ft_info(reply: object) -> dict[str, object]:
    """FT.INFO's flat key/value array as a dict; nested values kept, bytes decoded."""
    if not isinstance(reply, list):
        return {}
    info: dict[str, object] = {}
    for key, value in zip(reply[::2], reply[1::2], strict=False):
        if isinstance(key, bytes):
            info[key.decode("utf-8", "replace")] = (
                value.decode("utf-8", "replace") if isinstance(value, bytes) else value
            )
    return info


def index_values(info: dict[str, object]) -> list[tuple[IndexField, float]]:
    """The exported fields present in a parsed FT.INFO, as numbers in base units.

    A field missing (RediSearch 1.2 has no percent_indexed) or not a number ('-nan'
    of an empty index's averages) is left out, never exported as 0.
    """
    values = []
    for key, value in info.items():
        field = _BY_KEY.get(key)
        number = _number(value) if field is not None else None
        if field is not None and number is not None:
            values.append((field, number * field.scale))
    return values


def _number(value: object) -> float | None:
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def is_missing_index(error: str) -> bool:
    """Whether FT.INFO's error says the index does not exist (1.x, 2.x and Redis 8 wordings)."""
    text = error.lower()
    return "unknown index" in text or "no such index" in text


def add_index(metrics: MetricSet, name: str, info: dict[str, object]) -> None:
    """The redis_search_index_* samples of one index."""
    reported = info.get("index_name")
    labels = (("index_name", reported if isinstance(reported, str) else name),)
    for field, value in index_values(info):
        metrics.add("redis_search_index_" + field.metric, field.kind, field.help, value, labels)


@dataclasses.dataclass(slots=True)
class SearchIndexes:
    """What one target asks about its search indexes, and what it learned doing so."""

    target: str
    entries: tuple[str, ...]
    listed: tuple[str, ...] = ()  # FT._LIST's last answer
    missing: dict[str, float] = dataclasses.field(default_factory=dict)  # name: when seen so
    over_cap: int = 0
    reported: set[str] = dataclasses.field(default_factory=set)
    _patterns: tuple[IndexPattern, ...] = ()

    def __post_init__(self) -> None:
        self._patterns = tuple(compile_index_pattern(e) for e in self.entries if is_pattern(e))

    def commands(self, refused: dict[str, str], now: float) -> list[Command]:
        """FT._LIST where patterns need it, and FT.INFO per index, at most MAX_INDEXES."""
        if FT_INFO in refused:
            return []
        listing = [FT_LIST] if self._patterns and FT_LIST[0] not in refused else []
        return listing + [(FT_INFO, name) for name in self._names(now)]

    def _names(self, now: float) -> list[str]:
        names = [e for e in self.entries if not is_pattern(e)]
        names += [n for n in self.listed if any(p.fullmatch(n) for p in self._patterns)]
        missing = self.missing
        wanted = [
            n
            for n in dict.fromkeys(names)
            if n not in missing or now - missing[n] >= MISSING_RETRY_SECONDS
        ]
        self.over_cap = max(0, len(wanted) - MAX_INDEXES)
        return wanted[:MAX_INDEXES]

    def followup(
        self, replies: dict[Command, object], sent: list[Command], now: float
    ) -> list[Command]:
        """FT.INFO for indexes FT._LIST just showed that this round trip did not ask about.

        Only the first scrape and a new index cost this second round trip: the others
        ask about the indexes of the previous FT._LIST in the same one.
        """
        listed = replies.get(FT_LIST)
        if not isinstance(listed, list):
            return []
        self.listed = self._bounded(listed)
        return [(FT_INFO, n) for n in self._names(now) if (FT_INFO, n) not in sent]

    def _bounded(self, listed: list[object]) -> tuple[str, ...]:
        """FT._LIST's names that patterns are matched against: MAX_LISTED, each short."""
        names = [n for n in listed[:MAX_LISTED] if isinstance(n, bytes)]
        kept = tuple(n.decode("utf-8", "replace") for n in names if len(n) <= MAX_NAME_BYTES)
        left_out = len(listed) - len(kept)
        if left_out > 0 and "listed" not in self.reported:
            self.reported.add("listed")
            log.warning(
                f"FT._LIST names left out of pattern matching: over {MAX_LISTED} names, "
                f"or over {MAX_NAME_BYTES} bytes, or not strings",
                extra=fields(target=self.target, left_out=left_out),
            )
        return kept

    def failed(self, name: str, error: str, now: float) -> None:
        """FT.INFO's error for one index: a missing one is not asked again for a while."""
        if not is_missing_index(error):
            return
        self.missing[name] = now
        if name not in self.reported and name in self.entries:
            self.reported.add(name)
            log.warning(
                "search index does not exist; not asking again for 5 minutes",
                extra=fields(target=self.target, index=name),
            )

    def add(self, metrics: MetricSet, replies: dict[Command, object]) -> None:
        """Every index FT.INFO answered for, and how many were left out."""
        for command, reply in replies.items():
            if command[0] == FT_INFO and isinstance(reply, list):
                self.missing.pop(command[1], None)
                add_index(metrics, command[1], parse_ft_info(reply))
        missing = sum(1 for e in self.entries if e in self.missing)
        metrics.add(
            "cachescope_search_indexes_missing",
            GAUGE,
            "Search indexes the target names that FT.INFO says do not exist.",
            missing,
        )
        metrics.add(
            "cachescope_search_indexes_over_cap",
            GAUGE,
            f"Search indexes matched but not read: at most {MAX_INDEXES} per target.",
            self.over_cap,
        )
        if self.over_cap and "cap" not in self.reported:
            self.reported.add("cap")
            log.warning(
                f"more search indexes match than the {MAX_INDEXES} read per target",
                extra=fields(target=self.target, left_out=self.over_cap),
            )


def now() -> float:
    """The clock the missing-index memory runs on."""
    return time.monotonic()
