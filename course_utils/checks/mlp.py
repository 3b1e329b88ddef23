"""Checks for notebook 03 (MLP on MNIST with PyTorch, and how to evaluate a model).

Exercises that build or train a model are checked through small measurements of what the learner's code
does (a parameter count, the mode the model was in during each forward pass, the weights after one epoch):
each case names the measurement it compares, so a failure says what differs.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from course_utils.checks.core import Mistake, Verdict, recognising, run_check

__all__ = ["check_one_hot", "check_build_mlp", "check_train_one_epoch", "check_evaluate_accuracy",
           "check_weights_as_images", "check_dense_parameter_count", "check_accuracy_from_scores",
           "check_expected_calibration_error"]


# ------------------------------------------------------------------ reference answers

def _one_hot(labels, num_classes=10):
    labels = np.asarray(labels)
    rows = np.zeros((len(labels), num_classes))
    rows[np.arange(len(labels)), labels] = 1.0
    return rows


def _build_mlp(layer_sizes):
    layers = [nn.Flatten()]
    for number, (width_in, width_out) in enumerate(zip(layer_sizes[:-1], layer_sizes[1:])):
        if number > 0:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(width_in, width_out))
    return nn.Sequential(*layers)


def _train_one_epoch(model, optimizer, loss_fn, batches):
    model.train()
    loss_sum, seen = 0.0, 0
    for inputs, labels in batches:
        loss = loss_fn(model(inputs), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss_sum += loss.item() * len(labels)
        seen += len(labels)
    return loss_sum / seen


def _evaluate_accuracy(model, images, labels):
    model.eval()
    with torch.no_grad():
        predicted = model(images).argmax(dim=1)
    return (predicted == labels).float().mean().item()


def _weights_as_images(linear_layer):
    return linear_layer.weight.detach().cpu().numpy().reshape(-1, 28, 28)


def _dense_parameter_count(layer_sizes, biases=True):
    return sum(n_in * n_out + (n_out if biases else 0) for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]))


def _accuracy_from_scores(scores, labels):
    return float((scores.argmax(dim=1) == labels).float().mean())


def _calibration_gaps(probabilities, labels, num_bins, confidence=None):
    """Per non-empty bin: (share of the images, accuracy minus mean confidence)."""
    probabilities, labels = np.asarray(probabilities, dtype=np.float64), np.asarray(labels)
    confidence = probabilities.max(axis=1) if confidence is None else confidence
    correct = probabilities.argmax(axis=1) == labels
    bins = np.clip(np.ceil(confidence * num_bins).astype(int) - 1, 0, num_bins - 1)   # bin b holds (b/B, (b+1)/B]
    members = [bins == number for number in range(num_bins) if (bins == number).any()]
    return [(inside.mean(), correct[inside].mean() - confidence[inside].mean()) for inside in members]


def _expected_calibration_error(probabilities, labels, num_bins=10):
    return float(sum(share * abs(gap) for share, gap in _calibration_gaps(probabilities, labels, num_bins)))


# ------------------------------------------------------------------ helpers

def _wrapped(learner_function, measure):
    """The learner's function seen through ``measure``: a case (setting, name) gives the measurement of that name.

    ``measure(learner_function, setting)`` runs the learner's code once per setting and returns a dict of
    measurements (None when the function returned None); non-functions pass unchanged, for run_check to reject.
    """
    if not callable(learner_function):
        return learner_function
    outcomes = {}

    def measured(setting, name):
        if repr(setting) not in outcomes:
            outcomes[repr(setting)] = measure(learner_function, setting)
        outcome = outcomes[repr(setting)]
        return None if outcome is None else outcome[name]
    return measured


def _run_measured(name, learner_function, measure, settings, names, mistakes, **options) -> Verdict:
    """run_check on the measurements ``names`` of the learner's function and of the reference ``_<name>``."""
    expected = _wrapped(globals()[f"_{name}"], measure)
    cases = [((setting, measurement), expected(setting, measurement)) for setting in settings for measurement in names]
    measured_mistakes = [Mistake(mistake.diagnosis, _wrapped(mistake.wrong, measure)) for mistake in mistakes]
    return run_check(name, _wrapped(learner_function, measure), cases, mistakes=measured_mistakes, **options)


class _ProbeNet(nn.Module):
    """A tiny 6-16-3 classifier with dropout that records, for every forward pass, its mode and autograd's."""

    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3))
        self.passes = []

    def forward(self, inputs):
        self.passes.append((self.training, torch.is_grad_enabled()))
        return self.layers(inputs)

    def modes(self, which):
        """'training', 'evaluation' or 'mixed' (which=0), or autograd 'on', 'off' or 'mixed' (which=1)."""
        seen = {record[which] for record in self.passes}
        names = ("evaluation", "training") if which == 0 else ("off", "on")
        return names[seen.pop()] if len(seen) == 1 else "mixed" if seen else "no forward pass"


# ------------------------------------------------------------------ one_hot

_ONE_HOT_MISTAKES = (
    Mistake("the rows and columns are swapped: row i must belong to label i, so the shape is (N, num_classes)",
            lambda labels, num_classes=10: _one_hot(labels, num_classes).T),
    Mistake("num_classes is ignored: each row must be num_classes wide, not always 10",
            lambda labels, num_classes=10: _one_hot(labels, 10)),
    Mistake("off by one: the 1 sits one column to the left of the label; digit 0 belongs in column 0",
            lambda labels, num_classes=10: _one_hot((np.asarray(labels) - 1) % num_classes, num_classes)),
)


@recognising(*_ONE_HOT_MISTAKES)
def check_one_hot(one_hot) -> Verdict:
    """``one_hot(labels, num_classes)`` must turn labels (N,) into rows (N, num_classes) with a single 1 at the label."""
    random_labels = np.random.default_rng(3).integers(0, 10, size=50)
    cases = [
        ((np.array([0, 4, 3, 9]), 10), _one_hot(np.array([0, 4, 3, 9]))),
        ((np.array([2, 0, 1, 1]), 3), _one_hot(np.array([2, 0, 1, 1]), 3)),  # num_classes must be honoured
        ((random_labels, 10), _one_hot(random_labels)),
    ]
    return run_check("one_hot", one_hot, cases, tolerance=0, mistakes=_ONE_HOT_MISTAKES,
                     start="Begin with an array of zeros that has one row per label and one column per class.",
                     hint="Each row holds exactly one 1, in the column named by that row's label.")


# ------------------------------------------------------------------ build_mlp

def _output_shape(model, inputs):
    try:
        return str(tuple(model(inputs).shape))
    except Exception as error:  # a model without a Flatten fails on images: that is what is measured
        return f"fails with {type(error).__name__}"


def _mlp_measure(build_mlp, layer_sizes):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_mlp(layer_sizes)
        if model is None:
            return None
        rows = torch.randn(16, layer_sizes[0])
    with torch.no_grad():
        scores = model(rows)
        together = model(torch.cat([2 * rows, torch.zeros_like(rows[:1])]))   # a linear map has f(2x) = 2 f(x) - f(0)
        return {"output shape for (16, n_in) rows": _output_shape(model, rows),
                "output shape for (2, 1, 28, 28) images":
                    _output_shape(model, torch.zeros(2, 1, 28, 28)) if layer_sizes[0] == 784 else "not measured",
                "Linear layers": sum(isinstance(module, nn.Linear) for module in model.modules()),
                "nn.ReLU layers": sum(isinstance(module, nn.ReLU) for module in model.modules()),
                "parameters": sum(parameter.numel() for parameter in model.parameters()),
                "some scores are negative": bool((scores < 0).any()),
                "the model is one linear map": bool(torch.allclose(together[:-1], 2 * scores - together[-1:], atol=1e-5))}


def _mlp_without(extra_relu=False, inner_relu=True, flatten=True, last_layer=True):
    def build(layer_sizes):
        layers = [nn.Flatten()] if flatten else []
        pairs = list(zip(layer_sizes[:-1], layer_sizes[1:]))
        for number, (width_in, width_out) in enumerate(pairs if last_layer else pairs[:-1]):
            if number > 0 and inner_relu:
                layers.append(nn.ReLU())
            layers.append(nn.Linear(width_in, width_out))
        return nn.Sequential(*layers, *([nn.ReLU()] if extra_relu else []))
    return build


_BUILD_MLP_MISTAKES = tuple(Mistake(diagnosis, _mlp_without(**change)) for diagnosis, change in (
    ("the model has no nn.Flatten in front, so (N, 1, 28, 28) images fail: flatten each image to a row first", {"flatten": False}),
    ("there is no nn.ReLU between the Linear layers: without one, a stack of linear maps is itself a single linear map",
     {"inner_relu": False}),
    ("one layer is missing: there must be one Linear layer for each pair of consecutive sizes, the last pair included",
     {"last_layer": False}),
    ("a ReLU follows the last layer, so no score can be negative: the scores (logits) go into softmax as they are",
     {"extra_relu": True}),
))


@recognising(*_BUILD_MLP_MISTAKES)
def check_build_mlp(build_mlp) -> Verdict:
    """``build_mlp(layer_sizes)`` must return an nn.Module: Flatten, then Linear layers with a ReLU between each two."""
    measurements = ("output shape for (16, n_in) rows", "output shape for (2, 1, 28, 28) images", "Linear layers",
                    "parameters", "some scores are negative", "nn.ReLU layers", "the model is one linear map")
    return _run_measured("build_mlp", build_mlp, _mlp_measure, ((784, 32, 10), (784, 16, 12, 10), (5, 7, 3)),
                         measurements, _BUILD_MLP_MISTAKES, tolerance=0,
                         start="Start from a Python list of layers holding an nn.Flatten(), then walk through consecutive pairs of sizes.",
                         hint="Count what the model holds: one Linear per pair of consecutive sizes, a ReLU after every Linear but the last.")


# ------------------------------------------------------------------ train_one_epoch

def _epoch_measure(train_one_epoch, batch_sizes):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(sum(batch_sizes))
        model = _ProbeNet().eval()               # as a model is after an evaluation: the loop must switch it back
        optimizer = torch.optim.SGD(model.parameters(), lr=0.2)
        batches = [(torch.randn(size, 6), torch.randint(0, 3, (size,))) for size in batch_sizes]
        mean_loss = train_one_epoch(model, optimizer, F.cross_entropy, batches)
    if mean_loss is None:
        return None
    return {"mode during the forward passes": model.modes(0), "mean loss per image": mean_loss,
            "weights after the epoch": torch.cat([parameter.detach().flatten() for parameter in model.parameters()])}


def _epoch_with(zero_grad=True, train_mode=True, step_first=False, per_batch=False, last=False):
    def train_one_epoch(model, optimizer, loss_fn, batches):
        if train_mode:
            model.train()
        losses, sizes = [], []
        for inputs, labels in batches:
            loss = loss_fn(model(inputs), labels)
            if zero_grad:
                optimizer.zero_grad()
            if step_first:
                optimizer.step()
            loss.backward()
            if not step_first:
                optimizer.step()
            losses.append(loss.item())
            sizes.append(len(labels))
        if last:
            return losses[-1]
        return float(np.mean(losses)) if per_batch else float(np.dot(losses, sizes) / sum(sizes))
    return train_one_epoch


_TRAIN_ONE_EPOCH_MISTAKES = tuple(Mistake(diagnosis, _epoch_with(**change)) for diagnosis, change in (
    ("the forward passes ran in evaluation mode (dropout off): a model may arrive in evaluation mode, "
     "so switch it to training mode first", {"train_mode": False}),
    ("the gradients are never cleared, so each update adds up the gradients of all the batches so far: "
     "clear them once per batch", {"zero_grad": False}),
    ("the weights never change: the update runs before the backward pass has filled in this batch's gradients",
     {"step_first": True}),
    ("the mean is taken over batches, not images: a batch of 2 images counts as much as a batch of 8; "
     "weight each batch by its size", {"per_batch": True}),
    ("only the last batch's loss is returned: return the mean over every image of the epoch", {"last": True}),
))


@recognising(*_TRAIN_ONE_EPOCH_MISTAKES)
def check_train_one_epoch(train_one_epoch) -> Verdict:
    """``train_one_epoch(model, optimizer, loss_fn, batches)`` must train on every batch and return the mean loss per image."""
    measurements = ("mode during the forward passes", "weights after the epoch", "mean loss per image")
    return _run_measured("train_one_epoch", train_one_epoch, _epoch_measure, ((5, 3, 8, 2), (4, 4, 1)), measurements,
                         _TRAIN_ONE_EPOCH_MISTAKES, tolerance=1e-5,
                         start="Loop over the batches doing the five steps of the tiny-batch loop above, and keep running totals of loss and images.",
                         hint="Look at the mode the model is in when the loop starts, at which gradients each update uses, "
                              "and at how much each image counts in the mean.")


# ------------------------------------------------------------------ evaluate_accuracy

def _evaluation_measure(evaluate_accuracy, num_images):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(num_images)
        model = _ProbeNet()                      # in training mode, as a model is straight after training
        images = torch.randn(num_images, 6)
        labels = model.layers.eval()(images).argmax(dim=1)
        labels[::3] = torch.randint(0, 3, (len(labels[::3]),))
        model.train()
        accuracy = evaluate_accuracy(model, images, labels)
    if accuracy is None:
        return None
    return {"mode during the forward pass": model.modes(0), "autograd during the forward pass": model.modes(1),
            "accuracy returned": accuracy}


def _evaluation_with(eval_mode=True, no_grad=True, count=False, percent=False):
    def evaluate_accuracy(model, images, labels):
        if eval_mode:
            model.eval()
        with torch.set_grad_enabled(not no_grad):
            correct = (model(images).argmax(dim=1) == labels).sum().item()
        return correct if count else correct / len(labels) * (100 if percent else 1)
    return evaluate_accuracy


_EVALUATE_ACCURACY_MISTAKES = tuple(Mistake(diagnosis, _evaluation_with(**change)) for diagnosis, change in (
    ("the model was evaluated in training mode, so dropout switched units off at random: "
     "switch it to evaluation mode first", {"eval_mode": False}),
    ("autograd recorded the evaluation for a backward pass that never comes: evaluate inside a block that turns it off",
     {"no_grad": False}),
    ("that is a count of correct answers, not a fraction: divide by the number of images", {"count": True}),
    ("that is a percentage: return the fraction between 0 and 1", {"percent": True}),
))


@recognising(*_EVALUATE_ACCURACY_MISTAKES)
def check_evaluate_accuracy(evaluate_accuracy) -> Verdict:
    """``evaluate_accuracy(model, images, labels)`` must score the model in evaluation mode without autograd."""
    measurements = ("mode during the forward pass", "autograd during the forward pass", "accuracy returned")
    return _run_measured("evaluate_accuracy", evaluate_accuracy, _evaluation_measure, (60, 25), measurements,
                         _EVALUATE_ACCURACY_MISTAKES, tolerance=1e-6,
                         start="Begin with the two switches that separate evaluating from training, then one forward pass over all images.",
                         hint="Evaluation differs from training in two ways (dropout, and autograd's record); the answer is a fraction.")


# ------------------------------------------------------------------ weights_as_images

_WEIGHTS_AS_IMAGES_MISTAKES = (
    Mistake("the images are scrambled: the weight matrix was transposed before reshaping; row k of it is class k's 784 weights",
            lambda linear_layer: linear_layer.weight.detach().numpy().T.reshape(-1, 28, 28)),
    Mistake("each image is transposed (rows and columns swapped): the 784 weights were laid out column by column, "
            "but images were flattened row after row",
            lambda linear_layer: linear_layer.weight.detach().numpy().reshape(-1, 28, 28).transpose(0, 2, 1)),
    Mistake("the rows of the weight matrix were not reshaped: each must become a 28 x 28 image",
            lambda linear_layer: linear_layer.weight.detach().numpy()),
)


@recognising(*_WEIGHTS_AS_IMAGES_MISTAKES)
def check_weights_as_images(weights_as_images) -> Verdict:
    """``weights_as_images(linear_layer)`` must turn an nn.Linear(784, K) into K images of shape (28, 28)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        ten_classes, three_classes = nn.Linear(784, 10), nn.Linear(784, 3)
    with torch.no_grad():
        three_classes.weight.copy_(torch.arange(3 * 784, dtype=torch.float32).reshape(3, 784) / 784)
    cases = [((layer,), _weights_as_images(layer)) for layer in (three_classes, ten_classes)]
    return run_check("weights_as_images", weights_as_images, cases, tolerance=1e-6, describe_inputs=False,
                     mistakes=_WEIGHTS_AS_IMAGES_MISTAKES,
                     start="Begin with the layer's weight matrix: one row of 784 numbers for each output class.",
                     hint="Class k's weights are row k of the matrix, in the order the images were flattened (row after row).")


# ------------------------------------------------------------------ dense_parameter_count

def _count_with_biases_on(bias_units):
    """A parameter count that gives one bias to each of ``bias_units(layer_sizes, biases)`` units."""
    return lambda layer_sizes, biases=True: _dense_parameter_count(layer_sizes, False) + bias_units(layer_sizes, biases)


_DENSE_PARAMETER_COUNT_MISTAKES = tuple(Mistake(diagnosis, wrong) for diagnosis, wrong in (
    ("the biases are forgotten: with biases=True every unit after the input has one",
     _count_with_biases_on(lambda sizes, biases: 0)),
    ("biases are counted with biases=False: then only the weights count", _count_with_biases_on(lambda sizes, biases: sum(sizes[1:]))),
    ("the input units got biases too: a bias belongs to a unit that computes a weighted sum, and inputs compute nothing",
     _count_with_biases_on(lambda sizes, biases: sum(sizes) if biases else 0)),
    ("each layer got one bias per input instead of one per output unit",
     _count_with_biases_on(lambda sizes, biases: sum(sizes[:-1]) if biases else 0)),
    ("all widths were multiplied together: weights connect consecutive layers only, so count one pair at a time",
     lambda layer_sizes, biases=True: int(np.prod(layer_sizes))),
))


@recognising(*_DENSE_PARAMETER_COUNT_MISTAKES)
def check_dense_parameter_count(dense_parameter_count) -> Verdict:
    """``dense_parameter_count(layer_sizes, biases)`` must count the weights (and biases) of fully connected layers."""
    cases = [
        (((3 * 1024, 100, 3), False), 307_500),
        (((3 * 1024, 100, 3), True), 307_603),
        (((784, 256, 128, 10), True), _dense_parameter_count((784, 256, 128, 10))),
        (((2, 3), True), 9),
    ]
    return run_check("dense_parameter_count", dense_parameter_count, cases, tolerance=0,
                     mistakes=_DENSE_PARAMETER_COUNT_MISTAKES,
                     start="Walk through consecutive pairs of widths: each pair (n_in, n_out) is one fully connected layer.",
                     hint="Count one layer at a time: how many weights join n_in inputs to n_out units, and which units own a bias?")


# ------------------------------------------------------------------ accuracy_from_scores

_ACCURACY_FROM_SCORES_MISTAKES = (
    Mistake("the argmax ran down the columns (one per class) instead of along each row (one per image)",
            lambda scores, labels: float((scores.argmax(dim=0) == labels).float().mean())),
    Mistake("that is a count of correct rows, not a fraction: divide by the number of rows",
            lambda scores, labels: int((scores.argmax(dim=1) == labels).sum())),
    Mistake("that is a percentage: return the fraction between 0 and 1",
            lambda scores, labels: 100 * _accuracy_from_scores(scores, labels)),
)


@recognising(*_ACCURACY_FROM_SCORES_MISTAKES)
def check_accuracy_from_scores(accuracy_from_scores) -> Verdict:
    """``accuracy_from_scores(scores, labels)`` must return the fraction (0..1) of rows whose top score is the true label."""
    generator = torch.Generator().manual_seed(4)
    random_scores = torch.randn(200, 10, generator=generator)
    random_labels = torch.randint(0, 10, (200,), generator=generator)
    square_scores = torch.tensor([[0.1, 0.7, 0.2, 0.0], [0.9, 0.1, 0.7, 0.3], [0.2, 0.3, 0.1, 0.8], [0.3, 0.2, 0.6, 0.1]])
    cases = [
        ((square_scores, torch.tensor([1, 0, 3, 3])), 0.75),   # square: an argmax over the wrong dimension still runs
        ((torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.5, 0.2, 0.1], [0.0, 0.0, 4.0]]), torch.tensor([0, 1, 2, 2])), 0.75),
        ((random_scores, random_labels), _accuracy_from_scores(random_scores, random_labels)),
    ]
    return run_check("accuracy_from_scores", accuracy_from_scores, cases, tolerance=1e-6, describe_inputs=False,
                     mistakes=_ACCURACY_FROM_SCORES_MISTAKES,
                     start="Find each row's predicted class first: the column that holds the row's highest score.",
                     hint="One predicted class per image (per row); compare with the labels and turn the matches into a fraction.")


# ------------------------------------------------------------------ expected_calibration_error

_EXPECTED_CALIBRATION_ERROR_MISTAKES = (
    Mistake("the bins were averaged as equals: weight each bin's gap by the share of the images that fall in it",
            lambda probabilities, labels, num_bins=10: float(np.mean(
                [abs(gap) for _, gap in _calibration_gaps(probabilities, labels, num_bins)]))),
    *(Mistake("over- and under-confident bins cancel out: each bin must add the size of its gap, whatever its sign",
              lambda probabilities, labels, num_bins=10, sign=sign: float(sign * sum(
                  share * gap for share, gap in _calibration_gaps(probabilities, labels, num_bins)))) for sign in (1, -1)),
    Mistake("the confidence used is the probability of the true label; the confidence is the probability of the predicted class",
            lambda probabilities, labels, num_bins=10: float(sum(share * abs(gap) for share, gap in _calibration_gaps(
                probabilities, labels, num_bins, np.asarray(probabilities)[np.arange(len(labels)), labels])))),
    Mistake("num_bins is ignored: the bins must be num_bins equal slices of the confidence range",
            lambda probabilities, labels, num_bins=10: _expected_calibration_error(probabilities, labels, 10)),
)


@recognising(*_EXPECTED_CALIBRATION_ERROR_MISTAKES)
def check_expected_calibration_error(expected_calibration_error) -> Verdict:
    """``expected_calibration_error(probabilities, labels, num_bins)``: the bins' |accuracy - confidence|, weighted by size."""
    rng = np.random.default_rng(6)
    logits = 3 * rng.standard_normal((300, 10))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    probabilities[0] = np.eye(10)[4]                                  # a confidence of exactly 1 goes in the last bin
    labels = np.where(rng.random(300) < 0.6, probabilities.argmax(axis=1), rng.integers(0, 10, 300))
    small = np.array([[0.93, 0.07], [0.72, 0.28], [0.35, 0.65], [0.14, 0.86], [0.55, 0.45]])
    cases = [
        ((small, np.array([0, 1, 1, 1, 0]), 10), _expected_calibration_error(small, np.array([0, 1, 1, 1, 0]))),
        ((probabilities, labels, 10), _expected_calibration_error(probabilities, labels, 10)),
        ((probabilities, labels, 4), _expected_calibration_error(probabilities, labels, 4)),
    ]
    return run_check("expected_calibration_error", expected_calibration_error, cases, tolerance=1e-6,
                     describe_inputs=False, mistakes=_EXPECTED_CALIBRATION_ERROR_MISTAKES,
                     start="Begin with each image's confidence (its highest probability) and whether its predicted class is right.",
                     hint="Check that every image lands in exactly one bin (a confidence of exactly 1 in the last), "
                          "and that empty bins add nothing.")
