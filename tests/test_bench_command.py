"""`bihuan bench` without its extra says how to install it (issue 18 §6), no traceback."""

import importlib.util
import subprocess
import sys

import pytest


@pytest.mark.skipif(importlib.util.find_spec("aiohttp") is not None, reason="the bench extra is installed here")
def test_bench_without_its_extra_names_the_install_command():
    out = subprocess.run([sys.executable, "-m", "bihuan.cli", "bench", "--scale", "smoke", "--only", "plans"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert "pip install -e '.[bench]'" in out.stderr and "Traceback" not in out.stderr
