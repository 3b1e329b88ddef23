"""The exercise checks of notebook 04 (CNN): each accepts a correct answer, names its common mistakes,
rejects other wrong answers, and says what to start with while the exercise is unwritten."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from course_utils import checks
from course_utils.checks import cnn as cnn_checks


def _not_written(*args):
    raise NotImplementedError


def _named(check, capsys):
    """Every named mistake of ``check`` is rejected with its own diagnosis."""
    assert len(check.mistakes) >= 2
    for mistake in check.mistakes:
        assert not check(mistake.wrong)
        assert mistake.diagnosis in capsys.readouterr().out


def _waiting(check, capsys, *answer_fragments):
    """The ⏳ line says what to start with and gives none of the answer's code."""
    assert not check(_not_written)
    line = capsys.readouterr().out.strip()
    assert line.startswith("⏳")
    for fragment in answer_fragments:
        assert fragment not in line


# --------------------------------------------------------------------------- output size

def test_check_conv_output_size_accepts_the_formula_and_names_the_mistakes(capsys):
    assert checks.check_conv_output_size(cnn_checks._conv_output_size)
    assert "✅" in capsys.readouterr().out
    _named(checks.check_conv_output_size, capsys)


def test_check_conv_output_size_matches_pytorch_on_its_cases():
    for input_size, kernel_size, stride, padding in [(28, 5, 2, 0), (7, 3, 2, 1), (224, 11, 4, 2), (27, 3, 3, 1)]:
        layer = torch.nn.Conv2d(1, 1, kernel_size, stride=stride, padding=padding)
        torch_size = layer(torch.zeros(1, 1, input_size, input_size)).shape[-1]
        assert cnn_checks._conv_output_size(input_size, kernel_size, stride, padding) == torch_size


def test_check_conv_output_size_rejects_other_wrong_answers(capsys):
    assert not checks.check_conv_output_size(lambda n, k, s, p: (n + 2 * p - k + 1) // s)     # +1 inside the division
    assert not checks.check_conv_output_size(lambda n, k, s, p: (n - k) // s + 1)             # padding forgotten
    out = capsys.readouterr().out
    assert out.count("❌") == 2


def test_check_conv_output_size_waits_for_the_learner(capsys):
    _waiting(checks.check_conv_output_size, capsys, "//", "+ 1", "2 * padding")


# --------------------------------------------------------------------------- conv2d

def test_reference_conv2d_is_what_pytorch_computes():
    rng = np.random.default_rng(0)
    image, kernels = rng.normal(size=(3, 9, 8)), rng.normal(size=(4, 3, 3, 2))
    for stride, padding in [(1, 0), (2, 1), (3, 2)]:
        expected = F.conv2d(torch.tensor(image)[None], torch.tensor(kernels), stride=stride, padding=padding)[0].numpy()
        assert np.allclose(cnn_checks._conv2d(image, kernels, stride, padding), expected)


def test_check_conv2d_accepts_the_reference_and_names_the_mistakes(capsys):
    assert checks.check_conv2d(cnn_checks._conv2d)
    assert "✅ conv2d: passed 5 cases" in capsys.readouterr().out
    _named(checks.check_conv2d, capsys)


def test_check_conv2d_accepts_pytorch_itself(capsys):
    def with_torch(image, kernels, stride=1, padding=0):
        return F.conv2d(torch.tensor(image)[None], torch.tensor(kernels), stride=stride, padding=padding)[0]

    assert checks.check_conv2d(with_torch)


def test_check_conv2d_rejects_other_wrong_answers(capsys):
    def square_kernel_assumed(image, kernels, stride=1, padding=0):   # the kernel's height used for its width too
        padded = np.pad(image, ((0, 0), (padding, padding), (padding, padding)))
        size = kernels.shape[-2]
        side = (padded.shape[1] - size) // stride + 1, (padded.shape[2] - size) // stride + 1
        output = np.zeros((len(kernels), *side))
        for index, row, column in np.ndindex(output.shape):
            patch = padded[:, row * stride:row * stride + size, column * stride:column * stride + size]
            output[index, row, column] = np.sum(patch[:, :, :kernels.shape[-1]] * kernels[index])
        return output

    def channels_averaged(image, kernels, stride=1, padding=0):
        return cnn_checks._conv2d(image, kernels, stride, padding) / np.shape(image)[0]

    assert not checks.check_conv2d(channels_averaged)
    assert not checks.check_conv2d(square_kernel_assumed)
    out = capsys.readouterr().out
    assert "case 2 of 5" in out          # averaging shows on the first case with 3 channels
    assert "case 4 of 5" in out          # the 3×2 kernel


def test_check_conv2d_waits_for_the_learner(capsys):
    _waiting(checks.check_conv2d, capsys, "np.sum", "stride *", "[::-1")


# --------------------------------------------------------------------------- max pooling

def test_reference_max_pool2d_is_what_pytorch_computes():
    feature_map = np.random.default_rng(1).normal(size=(7, 10))
    for size in (2, 3):
        expected = F.max_pool2d(torch.tensor(feature_map)[None, None], kernel_size=size)[0, 0].numpy()
        assert np.array_equal(cnn_checks._max_pool2d(feature_map, size), expected)


def test_check_max_pool2d_accepts_the_reference_and_names_the_mistakes(capsys):
    assert checks.check_max_pool2d(cnn_checks._max_pool2d)
    _named(checks.check_max_pool2d, capsys)


def test_check_max_pool2d_rejects_other_wrong_answers(capsys):
    assert not checks.check_max_pool2d(lambda feature_map, size=2: np.asarray(feature_map)[::size, ::size])  # top-left pixel
    assert not checks.check_max_pool2d(lambda feature_map, size=2: cnn_checks._max_pool2d(feature_map, size).T)
    assert capsys.readouterr().out.count("❌") == 2


def test_check_max_pool2d_waits_for_the_learner(capsys):
    _waiting(checks.check_max_pool2d, capsys, ".max(", "reshape")


def test_reference_max_pool2d_backward_is_what_autograd_computes():
    rng = np.random.default_rng(2)
    feature_map = np.maximum(rng.normal(size=(7, 9)), 0)      # many zeros: ties
    upstream = rng.normal(size=(3, 4))
    expected = cnn_checks._torch_max_pool_backward(feature_map, upstream, 2)
    assert np.array_equal(cnn_checks._max_pool2d_backward(feature_map, upstream, 2), expected)


def test_check_max_pool2d_backward_accepts_the_reference_and_names_the_mistakes(capsys):
    assert checks.check_max_pool2d_backward(cnn_checks._max_pool2d_backward)
    _named(checks.check_max_pool2d_backward, capsys)


def test_check_max_pool2d_backward_rejects_other_wrong_answers(capsys):
    def to_the_minimum(feature_map, upstream_gradient, size=2):
        return cnn_checks._max_pool2d_backward(-np.asarray(feature_map), upstream_gradient, size)

    def last_maximum_on_ties(feature_map, upstream_gradient, size=2):   # reading order backwards
        flipped = cnn_checks._max_pool2d_backward(np.asarray(feature_map)[::-1, ::-1], np.asarray(upstream_gradient)[::-1, ::-1], size)
        return flipped[::-1, ::-1]

    assert not checks.check_max_pool2d_backward(to_the_minimum)
    assert not checks.check_max_pool2d_backward(lambda feature_map, upstream_gradient, size=2: np.zeros(np.shape(feature_map)))
    assert not checks.check_max_pool2d_backward(last_maximum_on_ties)
    assert capsys.readouterr().out.count("❌") == 3


def test_check_max_pool2d_backward_waits_for_the_learner(capsys):
    _waiting(checks.check_max_pool2d_backward, capsys, "argmax", "unravel")


# --------------------------------------------------------------------------- the attacks

def test_reference_fgsm_moves_every_pixel_by_epsilon_and_stays_valid():
    model, images = cnn_checks._attack_model(), cnn_checks._attack_images(8, 0)
    labels = torch.arange(8) % 3
    adversarial = cnn_checks._fgsm_attack(model, images, labels, 0.1)
    change = (adversarial - images).abs()
    assert adversarial.min() >= 0 and adversarial.max() <= 1
    inside = (images > 0.1) & (images < 0.9)               # pixels the clamp cannot touch
    assert torch.allclose(change[inside], torch.full_like(change[inside], 0.1))
    before = torch.nn.functional.cross_entropy(model(images), labels)
    assert torch.nn.functional.cross_entropy(model(adversarial), labels) > before


def test_check_fgsm_attack_accepts_the_reference_and_names_the_mistakes(capsys):
    assert checks.check_fgsm_attack(cnn_checks._fgsm_attack)
    _named(checks.check_fgsm_attack, capsys)


def test_check_fgsm_attack_accepts_backward_instead_of_autograd_grad(capsys):
    def with_backward(model, images, labels, epsilon):
        images = images.clone().requires_grad_()
        loss = torch.nn.functional.cross_entropy(model(images), labels, reduction="sum")   # sum or mean: same sign
        loss.backward()
        return torch.clamp(images + epsilon * torch.sign(images.grad), 0, 1).detach()

    assert checks.check_fgsm_attack(with_backward)


def test_check_fgsm_attack_rejects_other_wrong_answers(capsys):
    assert not checks.check_fgsm_attack(lambda model, images, labels, epsilon: images)                 # no attack
    assert not checks.check_fgsm_attack(                                                                # random noise
        lambda model, images, labels, epsilon: (images + epsilon * torch.randn_like(images).sign()).clamp(0, 1))
    assert capsys.readouterr().out.count("❌") == 2


def test_check_fgsm_attack_waits_for_the_learner(capsys):
    _waiting(checks.check_fgsm_attack, capsys, "sign", "clamp", "epsilon *")


def test_reference_targeted_attack_raises_the_target_and_stays_within_epsilon():
    model, images = cnn_checks._attack_model(), cnn_checks._attack_images(8, 1)
    targets = torch.full((8,), 2)
    adversarial = cnn_checks._targeted_attack(model, images, targets, 0.3, 6)
    assert (adversarial - images).abs().max() <= 0.3 + 1e-12
    assert adversarial.min() >= 0 and adversarial.max() <= 1
    before = torch.softmax(model(images), dim=1)[:, 2]
    after = torch.softmax(model(adversarial), dim=1)[:, 2]
    assert (after > before).all()


def test_check_targeted_attack_accepts_the_reference_and_names_the_mistakes(capsys):
    assert checks.check_targeted_attack(cnn_checks._targeted_attack)
    _named(checks.check_targeted_attack, capsys)


def test_check_targeted_attack_rejects_other_wrong_answers(capsys):
    def away_from_the_true_class(model, images, target_labels, epsilon, num_steps):   # untargeted, iterated
        true_labels = model(images).argmax(dim=1)
        adversarial = images.clone()
        for _ in range(num_steps):
            adversarial = cnn_checks._fgsm_attack(model, adversarial, true_labels, epsilon / num_steps)
        return adversarial

    assert not checks.check_targeted_attack(away_from_the_true_class)
    assert not checks.check_targeted_attack(lambda model, images, target_labels, epsilon, num_steps: images)
    assert capsys.readouterr().out.count("❌") == 2


def test_check_targeted_attack_waits_for_the_learner(capsys):
    _waiting(checks.check_targeted_attack, capsys, "sign", "clamp", "epsilon /")


@pytest.mark.parametrize("name", cnn_checks.__all__)
def test_no_start_hint_or_diagnosis_holds_the_answer(name, capsys):
    """None of the texts a learner sees quotes the reference's code."""
    check = getattr(checks, name)
    texts = [mistake.diagnosis for mistake in check.mistakes]
    check(_not_written)
    texts.append(capsys.readouterr().out)
    for text in texts:
        for answer in ("np.sign(", ".sign()", "np.sum(", ".clamp(", "argmax(", "// stride", "np.pad(", "epsilon *"):
            assert answer not in text, f"{name}: {answer!r} appears in {text!r}"
