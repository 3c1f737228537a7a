"""Bounds on what a tool returns: lists clipped, answers capped in size, refusals as values."""

from __future__ import annotations

from typing import Any, TypeVar

import pydantic_core

T = TypeVar("T")

# An assistant reads every byte of an answer into its context: past this, an answer
# is refused with what to ask instead, rather than cut at a random place.
MAX_ANSWER_BYTES = 256 * 1024
# An error message is read by a person too: one line, and an argument echoed in it
# (a target or alert name the caller sent) cannot make it long.
MAX_MESSAGE_CHARS = 400


class ToolRefused(Exception):
    """A tool call that cannot be answered; its message goes to the assistant as is."""


def clip(items: list[T], most: int) -> tuple[list[T], int]:
    """The first `most` items and how many were left out."""
    return items[:most], max(len(items) - most, 0)


def answer_bytes(answer: dict[str, Any]) -> int:
    """Bytes the client receives for `answer`: the SDK's text block plus the structured copy."""
    text = pydantic_core.to_json(answer, fallback=str, indent=2)  # as the SDK writes it
    return len(text) + len(pydantic_core.to_json(answer, fallback=str))


def checked(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer if it fits MAX_ANSWER_BYTES as the client receives it; else refuse it."""
    size = answer_bytes(answer)
    if size > MAX_ANSWER_BYTES:
        raise ToolRefused(
            f"the answer is {size} bytes, more than the {MAX_ANSWER_BYTES} allowed; "
            "ask about one target at a time"
        )
    return answer


def fitted(answer: dict[str, Any], key: str) -> dict[str, Any]:
    """`answer` with its list `key` cut short enough to fit, the cut added to "more"."""
    items: list[Any] = answer[key]
    if answer_bytes(answer) <= MAX_ANSWER_BYTES:
        return answer
    low, high = 0, len(items)  # the longest prefix that fits lies in [low, high)
    while high - low > 1:
        middle = (low + high) // 2
        if answer_bytes(answer | {key: items[:middle]}) <= MAX_ANSWER_BYTES:
            low = middle
        else:
            high = middle
    return answer | {key: items[:low], "more": answer.get("more", 0) + len(items) - low}


def one_line(message: str) -> str:
    """`message` on one line and at most MAX_MESSAGE_CHARS long."""
    flat = " ".join(message.split())
    if len(flat) <= MAX_MESSAGE_CHARS:
        return flat
    return flat[: MAX_MESSAGE_CHARS - 3] + "..."
