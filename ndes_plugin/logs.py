"""Logging with the SCEP transaction ID of the request being served, from a context variable.

`get_logger(__name__)` gives a stdlib logger adapter that prefixes each message with the current
transaction ID and adds it as `record.transaction_id` for formatters that want a column. Nothing
here ever logs a challenge password or a key: callers pass neither.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_transaction_id: ContextVar[str | None] = ContextVar("ndes_transaction_id", default=None)


def current_transaction_id() -> str | None:
    return _transaction_id.get()


@contextmanager
def transaction(transaction_id: str) -> Iterator[None]:
    """Log everything inside the block under `transaction_id` (made safe to print)."""
    safe = "".join(ch if ch.isprintable() else "?" for ch in transaction_id[:80])
    token = _transaction_id.set(safe)
    try:
        yield
    finally:
        _transaction_id.reset(token)


class TransactionLogger(logging.LoggerAdapter[logging.Logger]):
    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        tid = _transaction_id.get()
        extra = dict(kwargs.get("extra") or {})
        extra["transaction_id"] = tid or "-"
        kwargs["extra"] = extra
        return (f"[tid={tid}] {msg}" if tid else msg), kwargs


def get_logger(name: str) -> TransactionLogger:
    return TransactionLogger(logging.getLogger(name), {})
