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


class TraceIndex:
    """Every event under `<trace_dir>/*.jsonl`, in time order, brought up to date by `poll`,
    which reads only what was appended since (whole lines; a line a party is half-way through
    writing waits for the next poll). The console's requests read `snapshot`, which is
    replaced, never changed, so a request in another thread reads a consistent one; the files
    are parsed once, not on every request."""

    def __init__(self, trace_dir: Path) -> None:
        self.trace_dir = trace_dir
        self.snapshot: tuple[int, list[TraceEvent]] = (0, [])
        """(version, events), replaced as one: the version only grows, whenever events change."""
        self._offsets: dict[Path, int] = {}
        self._partial: dict[Path, bytes] = {}

    def _reset(self) -> None:
        self.snapshot = (self.snapshot[0] + 1, [])
        self._offsets, self._partial = {}, {}

    @property
    def events(self) -> list[TraceEvent]:
        return self.snapshot[1]

    def poll(self) -> list[TraceEvent]:
        """The events written since the last poll (all of them at the first), in time order."""
        found: list[TraceEvent] = []
        for path in sorted(self.trace_dir.glob("*.jsonl")):
            offset = self._offsets.get(path, 0)
            try:
                size = path.stat().st_size
                if size < offset:  # a file cut short (the lab reset): read every file anew
                    self._reset()
                    self.poll()
                    return []  # not news: the pages reload what they show
                if size == offset:
                    continue
                with path.open("rb") as handle:
                    handle.seek(offset)
                    chunk = handle.read(size - offset)
            except OSError:
                continue
            lines = (self._partial.get(path, b"") + chunk).split(b"\n")
            found += parse_lines(lines[:-1])  # skips what is not an event; never raises
            self._offsets[path] = offset + len(chunk)
            self._partial[path] = lines[-1]
        if found:
            found.sort(key=lambda e: e.at)
            version, events = self.snapshot
            merged = events + found
            if events and found[0].at < events[-1].at:
                merged.sort(key=lambda e: e.at)  # nearly sorted: timsort is linear
            self.snapshot = (version + 1, merged)
        return found


async def follow(index: TraceIndex, hub: Hub) -> None:
    """Keep `index` up to date and publish each new event to the open pages (what was in the
    files when the console started is the index's, not news)."""
    while True:
        try:
            for event in await asyncio.to_thread(index.poll):  # a burst may take a while
                hub.publish("trace", event_json(event))
        except Exception:  # a bad poll must not end the stream for good
            log.exception("following the trace")
        await asyncio.sleep(POLL_SECONDS)
