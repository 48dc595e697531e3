"""CUDA inside bubblewrap (run on a GPU machine: `python -m pytest -m gpu`). No skips: on a machine meant to run
experiments on a GPU, a missing GPU or a missing bwrap is a failure, not a reason to pass."""

from __future__ import annotations

import glob
import shutil
import sys

import pytest

from alphalab.config import SandboxConfig
from alphalab.sandbox import run_command

pytestmark = pytest.mark.gpu

CUDA_CHECK = ("import torch; assert torch.cuda.is_available(); print(torch.cuda.get_device_name(0)); "
              "x=torch.randn(1024,1024,device='cuda'); print(float((x@x).sum()))")


def test_cuda_works_under_bwrap(tmp_path):
    assert shutil.which("bwrap"), "bubblewrap must be on PATH (on the device: the Debian .deb, unpacked with dpkg -x)"
    host = sorted(glob.glob("/dev/nvidia*"))
    # --dev /dev alone gives a /dev without these: CUDA needs the control and UVM nodes besides one per GPU
    assert glob.glob("/dev/nvidia[0-9]*") and {"/dev/nvidiactl", "/dev/nvidia-uvm"} <= set(host), host
    res = run_command(["ls", "-d", *host], cwd=tmp_path, timeout_s=60, sandbox=SandboxConfig(mode="bwrap"))
    assert res.returncode == 0 and sorted(res.output.split()) == host, res.output  # nvidia-uvm-tools, nvidia-caps too
    res = run_command([sys.executable, "-c", CUDA_CHECK], cwd=tmp_path, timeout_s=300,
                      sandbox=SandboxConfig(mode="bwrap"))
    assert res.returncode == 0, res.output
    name, total = res.output.strip().splitlines()[-2:]
    assert name and float(total) == float(total)  # a number, not NaN: the matmul ran on the device
