"""Worker processes: what a spawned worker of any stage runs before its first task.

Input: the parent's process id. Output: none (a watcher thread in the worker). Quarantines
nothing. Kept apart from `tasks.runner` so that a worker that only needs a light module (the
dedup signatures) does not import pyarrow's dataset layer and Prefect to start.
"""

from __future__ import annotations

import os
import threading
import time


def exit_with_parent(parent: int) -> None:
    """In each worker: exit when the run that started it is gone. A run killed with SIGKILL
    cannot stop its pool, and idle workers would otherwise wait on their pipe forever, holding
    memory and the killed run's stdout open."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
