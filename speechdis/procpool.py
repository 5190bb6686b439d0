"""Worker process pools that report a dead worker instead of hanging (``features`` jobs, ``extract`` workers).

``multiprocessing.Pool`` silently loses the task of a worker that is killed (the OOM killer, ``kill -9``): a
caller waiting on it hangs forever. :class:`concurrent.futures.ProcessPoolExecutor` notices the dead process
and fails every pending future with ``BrokenProcessPool``; the helpers here build such executors the same way
for every caller (``fork`` where available: spawn/forkserver re-import the caller's ``__main__``, which breaks
scripts without a main guard and costs seconds per worker) and stop them at once when the caller is
interrupted. :func:`ordered_map` runs ``fn(0..n-1)`` a bounded number ahead and yields results in order,
raising :class:`~speechdis.errors.WorkerError` naming the items in flight when a worker dies.
"""
from __future__ import annotations

import multiprocessing
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterator

from speechdis.errors import WorkerError

__all__ = ["mp_context", "new_executor", "kill_executor", "ordered_map", "BrokenProcessPool"]


def mp_context(require_fork: bool = False):
    """The multiprocessing context for workers: ``fork`` where the platform has it, else ``spawn``
    (None when ``require_fork`` and there is no fork: callers whose workers inherit state then run in-process)."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods:
        return multiprocessing.get_context("fork")
    return None if require_fork else multiprocessing.get_context("spawn")


def new_executor(workers: int, ctx=None, initializer: Callable[..., None] | None = None,
                 initargs: tuple = ()) -> ProcessPoolExecutor:
    """A ``ProcessPoolExecutor`` of ``workers`` processes in ``ctx`` (default :func:`mp_context`)."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx or mp_context(), initializer=initializer,
                               initargs=initargs)


def kill_executor(ex: ProcessPoolExecutor) -> None:
    """Stop an executor now: kill its workers and cancel what is queued (interrupted or failed caller)."""
    for proc in list((getattr(ex, "_processes", None) or {}).values()):
        proc.kill()
    ex.shutdown(wait=False, cancel_futures=True)


def ordered_map(fn: Callable[[int], Any], n: int, workers: int, *, ahead: int | None = None,
                initializer: Callable[[], None] | None = None, name: Callable[[int], str] = str,
                ctx=None) -> Iterator[Any]:
    """``fn(i)`` for ``i`` in ``0..n-1``, computed by ``workers`` processes at most ``ahead`` (default
    ``4 * workers``) items ahead of the consumer, yielded in order. ``fn`` must be picklable by reference (a
    module-level function; with ``fork`` it may read state the parent set before the call).

    A worker that dies (killed, out of memory) raises :class:`WorkerError` naming the oldest unfinished item
    (``name(i)``; with one worker it is the item that was running) and the others in flight; an exception
    raised by ``fn`` propagates as it is. Either way the remaining workers are killed.
    """
    ahead = max(1, 4 * workers if ahead is None else ahead)
    ex = new_executor(workers, ctx, initializer)
    try:
        pending = deque((i, ex.submit(fn, i)) for i in range(min(ahead, n)))
        nxt = len(pending)
        while pending:
            i, fut = pending.popleft()
            try:
                res = fut.result()
            except BrokenProcessPool as e:
                others = [name(j) for j, _ in pending][:5]
                more = f" (also in flight: {', '.join(others)})" if others else ""
                raise WorkerError(f"a worker process died (killed, or out of memory?) while handling {name(i)}"
                                  f"{more}") from e
            if nxt < n:
                pending.append((nxt, ex.submit(fn, nxt)))
                nxt += 1
            yield res
    except BaseException:
        kill_executor(ex)
        raise
    else:
        ex.shutdown(wait=True)
