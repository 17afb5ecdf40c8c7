"""Child processes that cannot outlive newsetl: a `kill -9` of the parent takes them with it.

Linux's PR_SET_PDEATHSIG makes the kernel signal a process when the thread that created it
exits, however it exits. A process calls it for itself: `Popen(..., preexec_fn=die_with(pid))`
between fork and exec, or a multiprocessing worker as the first thing it does.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1

# NOTE: looked up here, in the parent: loading a library between fork and exec may deadlock
# when other threads of the parent held the loader's lock at the fork.
_prctl = (
    ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl if sys.platform == "linux" else None
)


def die_with_parent(parent_pid: int, sig: int = signal.SIGKILL) -> None:
    """Ask the kernel to send `sig` to this process when its parent ends; end now if it already has."""
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
    # The parent may have died before the call above: then this process was re-parented already.
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), sig)


def die_with(parent_pid: int, sig: int = signal.SIGKILL) -> Callable[[], None]:
    """A `preexec_fn` for subprocess.Popen: the child dies with the process `parent_pid`."""
    return lambda: die_with_parent(parent_pid, sig)
