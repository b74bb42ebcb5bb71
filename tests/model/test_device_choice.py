"""A device named by the user: cpu, cuda or cuda:N, checked against this machine."""

from __future__ import annotations

import pytest
import torch

from coloc_viewer.errors import InputError
from coloc_viewer.model.device import default_device, parse_device


def test_cpu_and_the_default_are_accepted():
    assert parse_device("cpu") == torch.device("cpu")
    assert parse_device(" CPU ") == torch.device("cpu")
    assert parse_device(None) == default_device()
    assert parse_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize("bad", ["foo", "gpu", "cpu:1", "cuda:x", "mps", ""])
def test_unknown_devices_are_one_line(bad):
    with pytest.raises(InputError, match="choose cpu, cuda or cuda:N"):
        parse_device(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_says_so():
    for value in ("cuda", "cuda:0"):
        with pytest.raises(InputError, match="no CUDA GPU; use cpu"):
            parse_device(value)
