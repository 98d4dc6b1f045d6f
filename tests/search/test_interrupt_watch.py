"""A Ctrl-C that tune.run's own handler takes is still noticed (no Ray needed)."""

from __future__ import annotations

import os
import signal

from ambientsweep.search.tuner import InterruptWatch


def test_ctrl_c_is_noted_and_handed_on() -> None:
    before = signal.getsignal(signal.SIGINT)
    seen: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: seen.append(signum))  # "tune.run's"
    try:
        watch = InterruptWatch()
        watch.setup()
        assert not watch.interrupted.is_set()
        os.kill(os.getpid(), signal.SIGINT)
        assert watch.interrupted.is_set() and seen == [signal.SIGINT]  # handed on
        os.kill(os.getpid(), signal.SIGINT)  # the inner handler is back in place
        assert seen == [signal.SIGINT, signal.SIGINT]
    finally:
        signal.signal(signal.SIGINT, before)
