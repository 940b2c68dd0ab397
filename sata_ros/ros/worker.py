"""
The inference thread: takes the newest synchronized set from a `LatestSlot` and processes it.

Subscription callbacks never run the model: they convert, hand messages to the synchronizer,
and the synchronized sets go into a bounded latest-only slot (older sets are dropped and
counted there). This thread is the only one that touches the tracker's stream, so everything
else that needs the stream (service calls) is handed over with `submit`, which returns a
`concurrent.futures.Future` completed by this thread between two frames.
"""

from concurrent.futures import Future
import queue
import threading
import time
from typing import Any, Callable, Optional

from sata_ros.ros.sync import LatestSlot


class Worker:
    """
    One thread that processes sets from `slot` and runs submitted commands in between.

    Args:
        slot: where the synchronized sets come from.
        process: called with each set on the worker thread; an exception is counted and
            passed to `on_error`, the thread goes on.
        on_error: called with (what, exception) on the worker thread (e.g. a throttled log).
        poll_s: longest wait for a set before pending commands are looked at again, s.

    """

    def __init__(self, slot: LatestSlot, process: Callable[[Any], None],
                 on_error: Callable[[str, BaseException], None], poll_s: float = 0.02) -> None:
        self._slot = slot
        self._process = process
        self._on_error = on_error
        self._poll_s = poll_s
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()
        self._counts = {'processed': 0, 'errors': 0, 'commands': 0}
        self._busy_s = 0.0

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is not None:
            raise RuntimeError('worker already started')
        self._thread = threading.Thread(target=self._run, name='sata_worker', daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop after the current set; fail pending commands. Return whether it ended in time."""
        self._stop.set()
        self._slot.close()
        ended = True
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
            ended = not self._thread.is_alive()
        self._fail_pending()
        return ended

    @property
    def running(self) -> bool:
        """Whether the thread is alive and not stopping."""
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def submit(self, command: Callable[[], Any]) -> Future:
        """Run `command()` on the worker thread; its result or exception completes the Future."""
        future: Future = Future()
        if not self.running:
            future.set_exception(RuntimeError('the tracker is not running (node not active)'))
            return future
        self._commands.put((command, future))
        if self._stop.is_set():  # stopped between the check and the put
            self._fail_pending()
        return future

    def stats(self) -> dict:
        """Return processed sets, errors, commands run and busy seconds."""
        with self._lock:
            return dict(self._counts, busy_s=self._busy_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._run_commands()
            item = self._slot.get(timeout=self._poll_s)
            if item is None or self._stop.is_set():
                continue
            start = time.perf_counter()
            try:
                self._process(item)
                key = 'processed'
            except Exception as exc:  # noqa: B902 - a bad set must not end the thread
                key = 'errors'
                self._report('processing a frame', exc)
            with self._lock:
                self._counts[key] += 1
                self._busy_s += time.perf_counter() - start
        self._run_commands()

    def _run_commands(self) -> None:
        while True:
            try:
                command, future = self._commands.get_nowait()
            except queue.Empty:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(command())
            except Exception as exc:  # noqa: B902 - handed to the caller through the Future
                future.set_exception(exc)
            with self._lock:
                self._counts['commands'] += 1

    def _fail_pending(self) -> None:
        while True:
            try:
                _, future = self._commands.get_nowait()
            except queue.Empty:
                return
            if future.set_running_or_notify_cancel():
                future.set_exception(RuntimeError('the tracker stopped (node deactivated)'))

    def _report(self, what: str, exc: BaseException) -> None:
        try:
            self._on_error(what, exc)
        except Exception:  # noqa: B902 - logging must never end the thread
            pass
