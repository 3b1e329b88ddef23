"""course_utils.device: device choice, seeding, the report."""

import numpy as np
import pytest
import torch

from course_utils import device


def test_env_variable_forces_cpu(monkeypatch):
    monkeypatch.setenv(device.ENV_VARIABLE, "cpu")
    assert device.pick_device() == torch.device("cpu")
    assert "COURSE_DEVICE=cpu" in device.explain_choice()


def test_default_choice_order(monkeypatch):
    monkeypatch.delenv(device.ENV_VARIABLE, raising=False)
    expected = "cuda" if torch.cuda.is_available() else "mps" if device._mps_available() else "cpu"
    assert device.pick_device().type == expected


def test_unknown_device_is_refused(monkeypatch):
    monkeypatch.setenv(device.ENV_VARIABLE, "tpu")
    with pytest.raises(ValueError, match="unknown device 'tpu'.*cpu, cuda, mps"):
        device.pick_device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_missing_cuda_is_an_error_not_a_silent_fallback(monkeypatch):
    monkeypatch.delenv(device.ENV_VARIABLE, raising=False)
    with pytest.raises(RuntimeError, match="not available.*'cpu'"):
        device.pick_device("cuda")


def test_seed_everything_makes_runs_repeat():
    device.seed_everything(7)
    first = (np.random.rand(3), torch.rand(3))
    device.seed_everything(7)
    second = (np.random.rand(3), torch.rand(3))
    np.testing.assert_array_equal(first[0], second[0])
    assert torch.equal(first[1], second[1])


@pytest.mark.parametrize("seed", [-1, 1.5, "0"])
def test_seed_rejects_bad_values(seed):
    with pytest.raises(ValueError, match="non-negative integer"):
        device.seed_everything(seed)


def test_report_lists_versions_and_device(capsys):
    text = device.report(torch.device("cpu"))
    for name in ("python", "numpy", "torch", "torchvision", "matplotlib", "ipywidgets", "device"):
        assert name in text
    assert torch.__version__ in text
    assert text in capsys.readouterr().out


def test_a_blank_variable_counts_as_unset(monkeypatch):
    monkeypatch.setenv(device.ENV_VARIABLE, "   ")
    assert device.pick_device() == device.pick_device(None)
    assert "COURSE_DEVICE" not in device.explain_choice(device.pick_device())


def test_names_are_case_insensitive_in_the_argument_and_the_variable(monkeypatch):
    monkeypatch.delenv(device.ENV_VARIABLE, raising=False)
    assert device.pick_device("CPU") == torch.device("cpu")
    monkeypatch.setenv(device.ENV_VARIABLE, " Cpu ")
    assert device.pick_device() == torch.device("cpu")
    assert "COURSE_DEVICE=Cpu is set" in device.explain_choice()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_the_fix_matches_where_the_missing_device_was_asked_for(monkeypatch):
    monkeypatch.delenv(device.ENV_VARIABLE, raising=False)
    with pytest.raises(RuntimeError) as by_argument:
        device.pick_device("cuda")
    assert "pick_device('cuda')" in str(by_argument.value) and "unset" not in str(by_argument.value)
    monkeypatch.setenv(device.ENV_VARIABLE, "cuda")
    with pytest.raises(RuntimeError, match="COURSE_DEVICE='cuda'.*unset COURSE_DEVICE"):
        device.pick_device()


def test_a_non_string_device_is_refused():
    with pytest.raises(TypeError, match="device name"):
        device.pick_device(0)
