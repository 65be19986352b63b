"""A bounded worker pool: a fixed number of model threads and a fixed number of waiting
jobs. A job that finds every slot taken is refused at once (the service answers 503), so
load never turns into an unbounded backlog of requests and memory."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, TypeVar

T = TypeVar("T")


class QueueFull(Exception):
    """Every worker is busy and the waiting queue is full."""


class WorkerPool:
    def __init__(self, workers: int, queue_size: int):
        self.workers = workers
        self.capacity = workers + queue_size
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sketchcolor-model")
        # One slot per job running or waiting; taken on submit, given back when the job ends.
        self._slots = threading.BoundedSemaphore(self.capacity)
        self._lock = threading.Lock()
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        """Jobs running or waiting now."""
        return self._in_flight

    def submit(self, fn: Callable[..., T], *args) -> Future[T]:
        """Start `fn(*args)` on a worker, or raise QueueFull without waiting."""
        if not self._slots.acquire(blocking=False):
            raise QueueFull
        with self._lock:
            self._in_flight += 1
        try:
            future = self._executor.submit(fn, *args)
        except BaseException:
            self._release(None)
            raise
        future.add_done_callback(self._release)
        return future

    async def run(self, fn: Callable[..., T], *args) -> T:
        """`submit` for async code: await the result. A cancelled await (the client went
        away) cancels the job if it has not started yet."""
        return await asyncio.wrap_future(self.submit(fn, *args))

    def close(self) -> None:
        """Drop waiting jobs and wait for the running ones."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _release(self, _future: Future | None) -> None:
        with self._lock:
            self._in_flight -= 1
        self._slots.release()
