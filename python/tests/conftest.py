"""Shared fixtures: every test ends with no C message alive and no socket
open beyond what it found (tofu.live_messages(), tofu.open_sockets())."""
import gc
import glob
import os
import shutil
import sys

import pytest

import tofu

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "examples"))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))


@pytest.fixture(autouse=True)
def no_leaks():
    gc.collect()
    msgs, socks = tofu.live_messages(), tofu.open_sockets()
    yield
    gc.collect()
    assert tofu.live_messages() == msgs, "C messages leaked"
    assert tofu.open_sockets() == socks, "sockets leaked"


@pytest.fixture
def engine():
    with tofu.Engine() as e:
        yield e


def _find_tofucat():
    env = os.environ.get("TOFUCAT")
    if env:
        return env
    for pattern in ("build*/tools/tofucat/tofucat", "build*/tools/tofucat/tofucat.exe"):
        for path in sorted(glob.glob(os.path.join(REPO, pattern))):
            if os.access(path, os.X_OK):
                return path
    return shutil.which("tofucat")


@pytest.fixture
def tofucat():
    path = _find_tofucat()
    if path is None:
        pytest.skip("tofucat not built (set TOFUCAT or build the C tree in build/)")
    return path
