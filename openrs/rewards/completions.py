"""Turn TRL completions into plain text.

TRL hands reward functions either plain strings (standard datasets) or conversational completions, i.e. a list of
messages such as ``[{"role": "assistant", "content": "..."}]``. Every reward in :mod:`openrs.rewards` goes through
:func:`completion_to_text` so both forms are scored identically.

For a conversational completion the text is the concatenation (no separator) of the contents of its assistant
messages, in order; messages of other roles (e.g. ``tool`` results) are ignored. A message whose ``content`` is a list
of parts (multimodal format) contributes the ``text`` of its text parts. For the usual single-message completion this
is exactly ``completion[0]["content"]``, which is what open-r1/open-rs use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["completion_ids_of", "completion_to_text", "completions_to_texts", "token_lengths"]


def _content_to_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, Mapping) and part.get("type", "text") == "text":
                parts.append(str(part.get("text", "")))
        return "".join(parts)
    return str(content)


def completion_to_text(completion: Any) -> str:
    """Return the text of one completion, plain (``str``) or conversational (list of message dicts)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):  # a single message rather than a list of them
        completion = [completion]
    if isinstance(completion, Sequence):
        texts = []
        for message in completion:
            if not isinstance(message, Mapping):
                raise TypeError(f"Conversational completion must be a list of message dicts, got item {message!r}")
            if message.get("role", "assistant") == "assistant":
                texts.append(_content_to_text(message.get("content")))
        return "".join(texts)
    raise TypeError(f"Unsupported completion type {type(completion).__name__}: expected str or list of messages")


def completions_to_texts(completions: Sequence[Any]) -> list[str]:
    """Apply :func:`completion_to_text` to a batch of completions."""
    return [completion_to_text(completion) for completion in completions]


def completion_ids_of(
    kwargs: Mapping[str, Any], n: int, reward_name: str, fallback: str | None = None
) -> Sequence[Sequence[int]]:
    """The ``completion_ids`` kwarg TRL passes (one token-id list per completion); a clear error when absent."""
    completion_ids: Sequence[Sequence[int]] | None = kwargs.get("completion_ids")
    if completion_ids is None:
        hint = f" Use {fallback} instead." if fallback else ""
        raise ValueError(
            f"Reward '{reward_name}' measures completions in tokens and needs the `completion_ids` kwarg (a list of "
            f"token-id lists, passed by TRL's GRPOTrainer); it was not provided.{hint}"
        )
    if len(completion_ids) != n:
        raise ValueError(f"Reward '{reward_name}': got {n} completions but {len(completion_ids)} completion_ids")
    return completion_ids


def token_lengths(kwargs: Mapping[str, Any], n: int, reward_name: str, fallback: str | None = None) -> list[int]:
    """Completion lengths in tokens, from :func:`completion_ids_of`."""
    return [len(ids) for ids in completion_ids_of(kwargs, n, reward_name, fallback)]
