"""The exercise checks of notebook 03 (MLP): each accepts a correct answer and rejects named mistakes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from course_utils import checks, models
from course_utils.checks import mlp as mlp_checks


def _not_written(*args):
    raise NotImplementedError


def _assert_names_each_mistake(check, capsys):
    for mistake in check.mistakes:
        assert not check(mistake.wrong)
        assert mistake.diagnosis in capsys.readouterr().out


def _assert_waits_with_a_start(check, capsys):
    assert not check(_not_written)
    line = capsys.readouterr().out
    assert line.startswith("⏳") and "not written yet" in line


# ------------------------------------------------------------------ one_hot

def test_check_one_hot(capsys):
    assert checks.check_one_hot(mlp_checks._one_hot)
    assert checks.check_one_hot(lambda labels, num_classes=10: torch.nn.functional.one_hot(torch.as_tensor(labels), num_classes))
    _assert_names_each_mistake(checks.check_one_hot, capsys)
    assert not checks.check_one_hot(lambda labels, num_classes=10: 1 - mlp_checks._one_hot(labels, num_classes))  # inverted
    assert "expected" in capsys.readouterr().out
    _assert_waits_with_a_start(checks.check_one_hot, capsys)


# ------------------------------------------------------------------ build_mlp

def _tanh_mlp(layer_sizes):
    layers = [nn.Flatten()]
    for number, (width_in, width_out) in enumerate(zip(layer_sizes[:-1], layer_sizes[1:])):
        layers += [nn.Tanh()] if number else []
        layers.append(nn.Linear(width_in, width_out))
    return nn.Sequential(*layers)


def test_check_build_mlp(capsys):
    assert checks.check_build_mlp(mlp_checks._build_mlp)
    assert checks.check_build_mlp(                            # the notebook's own MLP class is a right answer too
        lambda sizes: models.MLP(tuple(sizes[1:-1]), dropout=0.0, num_inputs=sizes[0], num_classes=sizes[-1]))
    capsys.readouterr()
    _assert_names_each_mistake(checks.check_build_mlp, capsys)
    assert not checks.check_build_mlp(_tanh_mlp)              # tanh is not the ReLU asked for
    assert "nn.ReLU" in capsys.readouterr().out
    no_biases = lambda sizes: nn.Sequential(nn.Flatten(), *[nn.Linear(a, b, bias=False) for a, b in zip(sizes[:-1], sizes[1:])])
    assert not checks.check_build_mlp(no_biases)
    assert "'parameters'): expected 25450, got 25408" in capsys.readouterr().out
    _assert_waits_with_a_start(checks.check_build_mlp, capsys)


# ------------------------------------------------------------------ train_one_epoch

def test_check_train_one_epoch(capsys):
    assert checks.check_train_one_epoch(mlp_checks._train_one_epoch)
    _assert_names_each_mistake(checks.check_train_one_epoch, capsys)

    def sums_the_batch_losses(model, optimizer, loss_fn, batches):
        model.train()
        total = 0.0
        for inputs, labels in batches:
            loss = loss_fn(model(inputs), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
        return total

    assert not checks.check_train_one_epoch(sums_the_batch_losses)
    assert "'mean loss per image'): expected" in capsys.readouterr().out
    _assert_waits_with_a_start(checks.check_train_one_epoch, capsys)


def test_check_train_one_epoch_leaves_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    checks.check_train_one_epoch(mlp_checks._train_one_epoch)
    assert torch.equal(torch.rand(3), expected)


def test_the_notebooks_train_epoch_passes_the_loop_check():
    from course_utils import train

    def through_train_epoch(model, optimizer, loss_fn, batches):
        return train.train_epoch(model, optimizer, loss_fn, batches)[0]

    assert checks.check_train_one_epoch(through_train_epoch)


# ------------------------------------------------------------------ evaluate_accuracy

def test_check_evaluate_accuracy(capsys):
    assert checks.check_evaluate_accuracy(mlp_checks._evaluate_accuracy)

    def in_inference_mode(model, images, labels):             # inference mode counts as autograd off
        model.eval()
        with torch.inference_mode():
            return (model(images).argmax(dim=1) == labels).float().mean()

    assert checks.check_evaluate_accuracy(in_inference_mode)
    _assert_names_each_mistake(checks.check_evaluate_accuracy, capsys)

    def off_by_one_denominator(model, images, labels):
        model.eval()
        with torch.no_grad():
            return ((model(images).argmax(dim=1) == labels).sum() / (len(labels) + 1)).item()

    assert not checks.check_evaluate_accuracy(off_by_one_denominator)
    assert "'accuracy returned'): expected" in capsys.readouterr().out
    _assert_waits_with_a_start(checks.check_evaluate_accuracy, capsys)


# ------------------------------------------------------------------ weights_as_images

def test_check_weights_as_images(capsys):
    assert checks.check_weights_as_images(mlp_checks._weights_as_images)
    assert checks.check_weights_as_images(lambda layer: layer.weight.detach().view(-1, 28, 28))    # a tensor is fine
    _assert_names_each_mistake(checks.check_weights_as_images, capsys)
    assert not checks.check_weights_as_images(lambda layer: mlp_checks._weights_as_images(layer)[:, ::-1])  # upside down
    assert "expected" in capsys.readouterr().out
    _assert_waits_with_a_start(checks.check_weights_as_images, capsys)


# ------------------------------------------------------------------ dense_parameter_count

def test_check_dense_parameter_count(capsys):
    assert checks.check_dense_parameter_count(mlp_checks._dense_parameter_count)
    _assert_names_each_mistake(checks.check_dense_parameter_count, capsys)
    assert not checks.check_dense_parameter_count(lambda sizes, biases=True: sum(sizes))   # adds the widths
    assert "expected 307500, got 3175" in capsys.readouterr().out
    _assert_waits_with_a_start(checks.check_dense_parameter_count, capsys)


# ------------------------------------------------------------------ accuracy_from_scores

def test_check_accuracy_from_scores(capsys):
    assert checks.check_accuracy_from_scores(mlp_checks._accuracy_from_scores)
    _assert_names_each_mistake(checks.check_accuracy_from_scores, capsys)
    assert not checks.check_accuracy_from_scores(lambda scores, labels: float((scores.argmin(dim=1) == labels).float().mean()))
    assert "expected 0.75, got 0" in capsys.readouterr().out
    _assert_waits_with_a_start(checks.check_accuracy_from_scores, capsys)


# ------------------------------------------------------------------ expected_calibration_error

def test_check_expected_calibration_error(capsys):
    assert checks.check_expected_calibration_error(mlp_checks._expected_calibration_error)
    _assert_names_each_mistake(checks.check_expected_calibration_error, capsys)
    assert not checks.check_expected_calibration_error(lambda probabilities, labels, num_bins=10: 0.1)
    assert "got 0.1 " in capsys.readouterr().out
    _assert_waits_with_a_start(checks.check_expected_calibration_error, capsys)


@pytest.mark.parametrize("num_bins", [1, 5, 10])
def test_a_perfectly_calibrated_model_has_no_calibration_error(num_bins):
    probabilities = np.tile([0.75, 0.25], (8, 1))
    labels = np.array([0, 0, 0, 1, 0, 0, 0, 1])                  # right three times in four, at confidence 0.75
    assert mlp_checks._expected_calibration_error(probabilities, labels, num_bins) == pytest.approx(0.0)
