"""What the poller needs of DBOS that DBOS (3.4) offers no public API for — kept here alone.

DBOS starts a worker thread per queue from a loop that looks for newly registered queues
once a second, and says nothing when it has: a pass started right after registering its queue
(`postmeter poll --once`, every test) would sit idle for up to a second. The only sign is the
thread DBOS names after the queue. `tests/workers/test_dbos_adapter.py` fails if DBOS renames
it, so a DBOS upgrade cannot silently bring the idle second back.
"""

from __future__ import annotations

import asyncio
import threading
import time

# DBOS's name for a queue's worker thread: `threading.Thread(name=f"queue-worker-{name}")`
# in dbos/_queue.py.
QUEUE_WORKER_THREAD_PREFIX = "queue-worker-"


def queue_worker_running(queue_name: str) -> bool:
    """Whether DBOS's worker thread for this queue is alive in this process."""
    thread_name = QUEUE_WORKER_THREAD_PREFIX + queue_name
    return any(t.name == thread_name and t.is_alive() for t in threading.enumerate())


async def wait_for_queue_worker(queue_name: str, *, timeout: float = 3.0) -> bool:
    """Wait until DBOS runs the queue's worker thread; False if it did not within `timeout`."""
    deadline = time.monotonic() + timeout
    while not queue_worker_running(queue_name):
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.02)
    return True
