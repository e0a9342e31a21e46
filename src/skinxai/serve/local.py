"""``skinxai serve`` started as a child process on a free local port, for the docs' screenshot
and the tests: the one place that knows how to wait for it to answer."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_local_server(
    *options: str, stderr: int = subprocess.DEVNULL, timeout_s: float = 120
) -> tuple[subprocess.Popen, str]:
    """``skinxai serve OPTIONS`` on a free port and its base URL, once /healthz answers 200; a
    RuntimeError (with the end of its stderr, when piped) if it exits or never answers."""
    port = free_port()
    command = [sys.executable, "-m", "skinxai.cli", "serve", "--port", str(port), *options]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            said = process.stderr.read()[-2000:] if process.stderr else ""
            raise RuntimeError(f"server exited: {said}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return process, base
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"skinxai serve did not start within {timeout_s:.0f} s")
