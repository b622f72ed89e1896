#!/usr/bin/env python3
"""`rusm attach` on a pseudo-terminal, for attach_cluster_test.sh:

  attach_pty.py RUSM NODE basic       the greeting and the prompt, `nodes`
                                      answered, the history kept (0600),
                                      Ctrl-D leaves with status 0
  attach_pty.py RUSM NODE trace PID   `trace PID` streams; Ctrl-C stops the
                                      trace, not attach; the prompt returns

Prints "pty ok" on success; exits non-zero saying what it saw otherwise.
Run with HOME set to a scratch directory (the history file goes there)."""
import os
import pty
import select
import sys
import time

rusm, node, mode = sys.argv[1], sys.argv[2], sys.argv[3]
child, fd = pty.fork()
if child == 0:
    os.execv(rusm, [rusm, "attach", node])
seen = b""


def until(what, limit=15, times=1):
    global seen
    end = time.time() + limit
    while seen.count(what) < times:
        if time.time() > end:
            sys.exit("timed out waiting for %r; saw %r" % (what, seen))
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break


def leave():
    """Ctrl-D; attach must end with status 0 within 15 s. libedit prints
    the prompt before it puts the terminal in raw mode: a Ctrl-D typed in
    between is the cooked terminal's end-of-file, which reaches libedit as
    a character in the line, and a Ctrl-D on a non-empty line does not
    leave. No typist is that fast; this script is. So it waits a moment
    after the prompt, and if attach is still there a second later, clears
    the line (Ctrl-U) and presses Ctrl-D again."""
    time.sleep(0.3)
    end = time.time() + 15
    pressed = 0.0
    while True:
        if time.time() - pressed >= 1:
            os.write(fd, b"\x15\x04" if pressed else b"\x04")
            pressed = time.time()
        done, status = os.waitpid(child, os.WNOHANG)
        if done:
            break
        if time.time() > end:
            os.kill(child, 9)
            sys.exit("attach did not end after Ctrl-D; saw %r" % seen)
        time.sleep(0.05)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        sys.exit("attach on a terminal ended with status %r; saw %r" % (status, seen))


until(b"attached to ")
until(b"> ")
if mode == "basic":
    os.write(fd, b"nodes\r")
    until(b"(this node)")
    until(b"> ", times=2)  # the prompt again after the answer
    leave()
    hist = os.path.join(os.environ["HOME"], ".rusm_history")
    if "nodes" not in open(hist).read():
        sys.exit("the history file lacks the command")
    if os.stat(hist).st_mode & 0o077:
        sys.exit("the history file is readable by others")
elif mode == "trace":
    pid = sys.argv[4]
    os.write(fd, ("trace %s\r" % pid).encode())
    until(b"tracing " + pid.encode())
    time.sleep(0.3)
    os.write(fd, b"\x03")
    until(b"ended (stopped)")
    until(b"> ", times=2)
    leave()
else:
    sys.exit("unknown mode " + mode)
print("pty ok")
