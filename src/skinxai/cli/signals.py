"""Ctrl-C and SIGTERM end a command the same way, with 128 + the signal as its exit code."""

from __future__ import annotations

import os
import signal

_signals_received: list[int] = []


def interrupt_on_signals() -> None:
    """SIGTERM ends a command as Ctrl-C does (a KeyboardInterrupt, so every command cleans up
    the same way); a second signal during that clean-up is ignored, so it cannot break it off
    with a traceback; a third ends the process at once."""

    def on_signal(signum: int, _frame) -> None:
        _signals_received.append(signum)
        if len(_signals_received) == 1:
            raise KeyboardInterrupt
        if len(_signals_received) >= 3:
            os._exit(128 + _signals_received[0])

    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, on_signal)


def interrupted_exit_code() -> int:
    """128 + the signal that stopped the command: 130 for Ctrl-C, 143 for SIGTERM."""
    return 128 + (_signals_received[0] if _signals_received else signal.SIGINT)
