"""What the console pushes to open pages: each trace event as a party writes it, and each step
of a scenario run. One `Hub` per console; each page's stream subscribes a bounded queue (a page
that stops reading loses events, never the console's memory)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from shared.trace import TraceEvent, parse_lines

from .views import event_json

log = logging.getLogger(__name__)

QUEUE_SIZE = 2000
PING_SECONDS = 15.0
POLL_SECONDS = 0.25
CLOSE = "close"
"""Not an event a page sees: the stream ends (the browser reconnects to the next console)."""
CHUNK = 1 << 20
"""At most this much of a trace file is read a poll."""


class Hub:
    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[tuple[str, Any]]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def publish(self, kind: str, payload: Any) -> None:
        """From the console's event loop."""
        for queue in self._queues:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait((kind, payload))

    def publish_threadsafe(self, kind: str, payload: Any) -> None:
        """From another thread (a scenario run)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.publish, kind, payload)

    def close(self) -> None:
        """The console is stopping: every open stream ends (from the event loop)."""
        for queue in self._queues:
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait((CLOSE, None))

    @contextlib.contextmanager
    def subscribe(self) -> Any:
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)


async def sse(hub: Hub) -> AsyncIterator[str]:
    """A page's stream: `event:` and `data:` lines per message, a ping now and then so that a
    proxy or the browser keeps the connection."""
    with hub.subscribe() as queue:
        yield "retry: 2000\n\n"
        while True:
            try:
                kind, payload = await asyncio.wait_for(queue.get(), PING_SECONDS)
            except TimeoutError:
                yield "event: ping\ndata: {}\n\n"
                continue
            if kind == CLOSE:
                return
            yield f"event: {kind}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n"


class TraceTail:
    """Follows `<trace_dir>/*.jsonl` from their ends at start, publishing each whole new line."""

    def __init__(self, trace_dir: Path, hub: Hub) -> None:
        self.trace_dir = trace_dir
        self.hub = hub
        self._offsets: dict[Path, int] = {}
        self._partial: dict[Path, bytes] = {}

    def start_at_end(self) -> None:
        for path in self.trace_dir.glob("*.jsonl"):
            self._offsets[path] = path.stat().st_size

    def poll(self) -> list[TraceEvent]:
        """The events written since the last poll (a file seen for the first time is read from
        its start: it was made after the console started)."""
        found: list[TraceEvent] = []
        for path in sorted(self.trace_dir.glob("*.jsonl")):
            offset = self._offsets.get(path, 0)
            try:
                size = path.stat().st_size
                if size < offset:  # rewritten: read it again
                    offset, self._partial[path] = 0, b""
                if size == offset:
                    continue
                with path.open("rb") as handle:
                    handle.seek(offset)
                    chunk = handle.read(CHUNK)
            except OSError:
                continue
            self._offsets[path] = offset + len(chunk)
            lines = (self._partial.pop(path, b"") + chunk).split(b"\n")
            if lines[-1]:
                self._partial[path] = lines[-1]
            found += parse_lines(lines[:-1])
        found.sort(key=lambda e: e.at)
        return found

    async def run(self) -> None:
        self.start_at_end()
        while True:
            try:
                for event in self.poll():
                    self.hub.publish("trace", event_json(event))
            except Exception:  # a bad poll must not end the stream for good
                log.exception("following the trace")
            await asyncio.sleep(POLL_SECONDS)
