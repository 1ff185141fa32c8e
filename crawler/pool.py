"""Extraction process pools whose workers exit with the process that started them.

A :class:`~concurrent.futures.ProcessPoolExecutor` worker waits on its call queue and holds
both ends of it, and (started by the forkserver) the forkserver's liveness pipe too. When
the crawl that owns the pool is killed with SIGKILL, nothing ever closes those: the worker
and its forkserver would wait for the rest of the machine's uptime. So every worker watches
its owner through a pidfd and exits the moment the owner is gone; the forkserver then sees
its last client leave and exits as well.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import threading
from concurrent.futures import ProcessPoolExecutor

__all__ = ["exit_with", "extraction_pool"]


def extraction_pool(workers: int) -> ProcessPoolExecutor:
    """A forkserver pool (the forkserver imports the extractor once, not every worker) whose
    workers exit with the calling process."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["crawler.extraction"])
    return ProcessPoolExecutor(workers, mp_context=context, initializer=exit_with,
                               initargs=(os.getpid(),))


def exit_with(owner_pid: int) -> None:
    """Pool initializer: end this process as soon as process ``owner_pid`` has ended."""
    try:
        pidfd = os.pidfd_open(owner_pid)
    except ProcessLookupError:  # the owner is already gone
        os._exit(1)
    except (AttributeError, OSError):  # no pidfd (not Linux >= 5.3): no watch
        return

    def watch() -> None:
        select.select([pidfd], [], [])  # readable once the owner has exited
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-owner", daemon=True).start()
