#!/usr/bin/python3
"""exec-with-parent.py PARENT_PID COMMAND [ARGS...]

Runs COMMAND in this same process (so the pid the caller tracks stays right),
after asking Linux to send it SIGTERM when its parent dies
(prctl PR_SET_PDEATHSIG). A test process that is killed outright therefore
cannot leave X servers or VNC servers behind. The setting survives exec.
"""
import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1

libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
    sys.exit("prctl failed: errno %d" % ctypes.get_errno())
# The parent may have died before prctl took effect: then nobody would stop us.
if os.getppid() != int(sys.argv[1]):
    sys.exit("parent already gone")
os.execvp(sys.argv[2], sys.argv[2:])
