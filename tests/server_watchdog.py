"""Stops a test run's own servers once that run's process is gone.

Started by the suite in a session of its own: ``python -m tests.server_watchdog PID ROOT``.
A run that ends normally stops its servers itself and kills this watchdog;
one that is killed leaves this to stop them.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

from tests.servers import stop_servers_under


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main() -> None:
    pid, root = int(sys.argv[1]), Path(sys.argv[2])
    while alive(pid):
        time.sleep(1.0)
    stop_servers_under(root)
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
