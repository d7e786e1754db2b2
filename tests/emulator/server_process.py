"""Starts tests/emulator/server.py as a child process for a test session, and stops it after.

Honours EMULATOR_SKIP_PATCHES=name[,name], so any suite can be run without some patches to see
which tests catch their gap."""

from __future__ import annotations

import contextlib
import os
import selectors
import subprocess
import sys
from pathlib import Path
from typing import Iterator

SERVER = Path(__file__).with_name("server.py")


@contextlib.contextmanager
def running_server(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Iterator[str]:
    """Yields the server's URL once it prints READY."""
    cmd = [sys.executable, str(SERVER), "--port", "0", *args]
    for name in filter(None, os.environ.get("EMULATOR_SKIP_PATCHES", "").split(",")):
        cmd += ["--skip-patch", name]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=cwd)
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout=120):
                raise RuntimeError("the emulator did not print READY within 120 s")
        line = proc.stdout.readline()
        assert line.startswith("READY http://127.0.0.1:"), f"unexpected first line: {line!r}"
        yield line.split()[1]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
