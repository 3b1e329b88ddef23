"""Checks for notebook 02 (neural networks from scratch in numpy).

Each check compares the learner's function with the private reference beside it (``_<name>``)
and names the common mistakes of its exercise. Functions that return several arrays (a pair,
a dict of gradients) are compared through a small wrapper that checks their shapes first and
then flattens them into one array; the mistakes are compared through the same wrapper.
"""

from __future__ import annotations

import numpy as np

from course_utils.checks.core import Mistake, Verdict, numerical_gradient, recognising, run_check

__all__ = ["check_two_layer_forward", "check_softmax", "check_numerical_gradient", "check_cross_entropy_gradient",
           "check_two_layer_backward", "check_sgd_step"]

_PARAMETER_NAMES = ("W1", "b1", "W2", "b2")


# --------------------------------------------------------------------------- reference answers

def _two_layer_forward(params, inputs):
    hidden = np.tanh(inputs @ params["W1"] + params["b1"])
    return hidden @ params["W2"] + params["b2"], hidden


def _softmax(logits):
    exp_shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp_shifted / exp_shifted.sum(axis=-1, keepdims=True)


_numerical_gradient = numerical_gradient   # the centred differences of core.py, nudging x in place


def _one_hot(labels, num_classes):
    return np.eye(num_classes)[labels]


def _cross_entropy_gradient(logits, labels):
    return (_softmax(logits) - _one_hot(labels, logits.shape[1])) / len(logits)


def _two_layer_backward(params, inputs, labels, logits, hidden):
    grad_logits = _cross_entropy_gradient(logits, labels)
    grad_pre_activation = (grad_logits @ params["W2"].T) * (1.0 - hidden ** 2)
    return {"W1": inputs.T @ grad_pre_activation, "b1": grad_pre_activation.sum(axis=0),
            "W2": hidden.T @ grad_logits, "b2": grad_logits.sum(axis=0)}


def _sgd_step(params, grads, learning_rate):
    return {name: params[name] - learning_rate * grads[name] for name in params}


def _one_line(paragraph):
    """A triple-quoted paragraph as one line of text: the checks print their advice on one line."""
    return " ".join(paragraph.split())


def _through(wrapper, mistakes):
    """The mistakes with their answers passed through the same wrapper as the learner's."""
    return tuple(Mistake(mistake.diagnosis, wrapper(mistake.wrong)) for mistake in mistakes)


def _random_two_layer(rng, num_examples, num_inputs, num_hidden, num_classes):
    """(params with nonzero biases, inputs) for a small random network, so that every term shows."""
    params = {"W1": rng.normal(size=(num_inputs, num_hidden)), "b1": rng.normal(size=num_hidden),
              "W2": rng.normal(size=(num_hidden, num_classes)), "b2": rng.normal(size=num_classes)}
    return params, rng.normal(size=(num_examples, num_inputs))


# --------------------------------------------------------------------------- the forward pass

def _flattened_forward(two_layer_forward):
    """The learner's (logits, hidden) as one array, after checking that both have the right shape."""
    def flattened(params, inputs):
        result = two_layer_forward(params, inputs)
        if result is None:
            return None
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise ValueError("return the pair (logits, hidden)")
        for what, array, width in (("logits", result[0], params["b2"].size), ("hidden", result[1], params["b1"].size)):
            if np.shape(array) != (len(inputs), width):
                raise ValueError(f"{what} has shape {np.shape(array)}, expected {(len(inputs), width)}: "
                                 "one row per example")
        return np.concatenate([np.ravel(np.asarray(array, dtype=np.float64)) for array in result])
    return flattened


def _bias_after_tanh(params, inputs):
    hidden = np.tanh(inputs @ params["W1"]) + params["b1"]
    return hidden @ params["W2"] + params["b2"], hidden


def _tanh_on_the_scores(params, inputs):
    logits, hidden = _two_layer_forward(params, inputs)
    return np.tanh(logits), hidden


def _probabilities_not_scores(params, inputs):
    logits, hidden = _two_layer_forward(params, inputs)
    return _softmax(logits), hidden


def _no_output_bias(params, inputs):
    hidden = np.tanh(inputs @ params["W1"] + params["b1"])
    return hidden @ params["W2"], hidden


_FORWARD_MISTAKES = (
    Mistake("the bias b1 is added after the tanh: it belongs inside, added to x·W1 before the activation",
            _bias_after_tanh),
    Mistake("the scores went through a tanh as well: the output layer has no activation (the loss applies the "
            "softmax later)", _tanh_on_the_scores),
    Mistake("these are probabilities (each row sums to 1), not scores: return the raw outputs of the second layer; "
            "the softmax belongs to the loss", _probabilities_not_scores),
    Mistake("the output bias b2 is missing from the scores", _no_output_bias),
)


@recognising(*_FORWARD_MISTAKES)
def check_two_layer_forward(two_layer_forward) -> Verdict:
    """``two_layer_forward(params, inputs)`` -> (logits (N, C), hidden (N, H)) of h = tanh(x W1 + b1), h W2 + b2."""
    rng = np.random.default_rng(5)
    networks = [_random_two_layer(rng, *sizes) for sizes in ((5, 3, 4, 2), (2, 4, 3, 5))]   # (params, inputs)
    cases = [(args, _flattened_forward(_two_layer_forward)(*args)) for args in networks]
    return run_check("two_layer_forward", _flattened_forward(two_layer_forward), cases, tolerance=1e-6,
                     describe_inputs=False, mistakes=_through(_flattened_forward, _FORWARD_MISTAKES),
                     start=_one_line("""Start with the hidden layer for the whole batch at once; the scores are
                                        built from it in the same way, with the second layer's parameters and no
                                        activation."""),
                     hint=_one_line("""Check the shapes (hidden is (N, H), logits (N, C)) and which of the two
                                       layers has an activation."""))


# --------------------------------------------------------------------------- softmax

def _overflowing_softmax(logits):
    with np.errstate(over="ignore", invalid="ignore"):
        exp_logits = np.exp(logits)
        return exp_logits / exp_logits.sum(axis=-1, keepdims=True)


def _global_maximum_softmax(logits):
    with np.errstate(invalid="ignore"):
        exp_shifted = np.exp(logits - logits.max())
        return exp_shifted / exp_shifted.sum(axis=-1, keepdims=True)


def _columns_softmax(logits):
    exp_shifted = np.exp(logits - logits.max(axis=0, keepdims=True))
    return exp_shifted / exp_shifted.sum(axis=0, keepdims=True)


def _sums_not_kept_as_a_column(logits):
    exp_shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp_shifted / exp_shifted.sum(axis=-1)


_SOFTMAX_MISTAKES = (
    Mistake("one maximum for the whole array: a row far below it underflows to 0 / 0 = nan; shift each row by its "
            "own maximum", _global_maximum_softmax),
    Mistake("e^1000 overflowed to inf (and inf / inf is nan): shift each row by its largest score before "
            "exponentiating", _overflowing_softmax),
    Mistake("the columns sum to 1 instead of the rows: each row is one example, so work along the last axis",
            _columns_softmax),
    Mistake("entry (i, j) was divided by the total of row j, not of row i: keep the row totals as a column of "
            "shape (N, 1) so that they line up with their rows", _sums_not_kept_as_a_column),
    Mistake("the rows do not sum to 1: the exponentials still have to be divided by their row's total",
            lambda logits: np.exp(logits - logits.max(axis=-1, keepdims=True))),
)


@recognising(*_SOFTMAX_MISTAKES)
def check_softmax(softmax) -> Verdict:
    """``softmax(logits)`` (N, C) -> probabilities (N, C), stable for huge logits."""
    rng = np.random.default_rng(0)
    square_logits, random_logits = rng.normal(size=(3, 3)), rng.normal(size=(5, 4))
    far_apart = np.array([[1000.0, 999.0, 998.0], [-1000.0, -1001.0, -1002.0]])
    cases = [
        ((np.array([[1.0, 2.0, 3.0]]),), np.array([[0.09003057, 0.24472847, 0.66524096]])),
        ((square_logits,), _softmax(square_logits)),
        ((random_logits,), _softmax(random_logits)),
        ((far_apart[:1],), _softmax(far_apart[:1])),   # e^1000 overflows: shift by the row maximum first
        ((far_apart,), _softmax(far_apart)),           # rows 2000 apart: each needs its own maximum
    ]
    return run_check("softmax", softmax, cases, tolerance=1e-6, mistakes=_SOFTMAX_MISTAKES,
                     start=_one_line("""Start by shifting each row so that its largest score becomes 0: an
                                        exponential of a number at most 0 cannot overflow."""),
                     hint=_one_line("""Each row is shifted by its own maximum, exponentiated and divided by its
                                       own total; check that the maximum and the total line up with the row they
                                       belong to."""))


# --------------------------------------------------------------------------- numerical gradient

class _ReadsArray:
    """A scalar function that ignores its argument and reads an array it holds, as a loss reads its weights."""

    def __init__(self, array):
        self.array = array

    def __call__(self, ignored):
        return float(np.sum(np.tanh(self.array) * np.arange(1, self.array.size + 1).reshape(self.array.shape))
                     + np.sum(self.array) ** 2)


def _forward_difference(f, x, h=1e-5):
    gradient, base = np.zeros_like(x, dtype=np.float64), float(f(x))
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + h
        gradient[index] = (float(f(x)) - base) / h
        x[index] = original
    return gradient


def _entries_left_nudged(f, x, h=1e-5):
    gradient = np.zeros_like(x, dtype=np.float64)
    for index in np.ndindex(x.shape):
        original, values = x[index], []
        for shift in (h, -h):
            x[index] = original + shift   # and never put back: the entry stays at original − h
            values.append(float(f(x)))
        gradient[index] = (values[0] - values[1]) / (2 * h)
    return gradient


_NUMERICAL_GRADIENT_MISTAKES = (
    Mistake("a one-sided difference: its error shrinks only like h, the centred one's like h²; evaluate f on both "
            "sides of the entry", _forward_difference),
    Mistake("twice the slope: the two evaluations are 2h apart, so that is the distance to divide by",
            lambda f, x, h=1e-5: 2 * _numerical_gradient(f, x, h)),
    Mistake("every entry after the first is off: an entry is left nudged; put each entry back to its original "
            "value before moving to the next", _entries_left_nudged),
    Mistake("the gradient is zero for a function that reads the array itself (as a loss reads its weights): nudge "
            "the entries of x in place, not of a copy", lambda f, x, h=1e-5: _numerical_gradient(f, x.copy(), h)),
)


@recognising(*_NUMERICAL_GRADIENT_MISTAKES)
def check_numerical_gradient(numerical_gradient) -> Verdict:
    """``numerical_gradient(f, x, h)`` -> centred differences of the scalar f at the float array x, shaped like x."""
    rng = np.random.default_rng(4)
    reader = _ReadsArray(rng.normal(size=(3, 2)))
    functions_and_points = [
        (lambda x: float(np.sum(x ** 3) + np.sum(x) ** 2), np.array([1.0, -2.0, 0.5]), 1e-3),
        (lambda x: float(np.sum(np.sin(x) * np.arange(6.0).reshape(2, 3)) + np.sum(x) ** 2),
         rng.normal(size=(2, 3)), 1e-4),
        (reader, reader.array, 1e-5),   # f reads reader.array, the very array passed as x
    ]
    cases = [((f, x, h), _numerical_gradient(f, x, h)) for f, x, h in functions_and_points]  # x is restored
    return run_check("numerical_gradient", numerical_gradient, cases, tolerance=1e-7, describe_inputs=False,
                     mistakes=_NUMERICAL_GRADIENT_MISTAKES,
                     start=_one_line("""Start with an array of zeros shaped like x and a loop over every
                                        position of x, whatever its number of dimensions."""),
                     hint=_one_line("""At each position: remember the entry, evaluate f a little above and a
                                       little below it, put the entry back, and turn the two values into a slope
                                       over the distance between them."""))


# --------------------------------------------------------------------------- cross-entropy gradient

_CROSS_ENTROPY_GRADIENT_MISTAKES = (
    Mistake("N times too large: the loss is the mean over the N examples of the batch, and so is its gradient",
            lambda logits, labels: _softmax(logits) - _one_hot(labels, logits.shape[1])),
    Mistake("the sign is flipped: the gradient is predicted minus correct, so that a step against it raises the "
            "correct class's score", lambda logits, labels: -_cross_entropy_gradient(logits, labels)),
    Mistake("divided by the number of classes C: the mean is over the N examples (the rows), not the classes",
            lambda logits, labels: _cross_entropy_gradient(logits, labels) * len(logits) / logits.shape[1]),
)


@recognising(*_CROSS_ENTROPY_GRADIENT_MISTAKES)
def check_cross_entropy_gradient(cross_entropy_gradient) -> Verdict:
    """``cross_entropy_gradient(logits, labels)`` -> d mean cross-entropy / d logits, shape (N, C)."""
    rng = np.random.default_rng(1)
    random_logits = rng.normal(size=(6, 5))
    random_labels = rng.integers(0, 5, size=6)
    cases = [
        ((np.array([[0.0, 0.0]]), np.array([1])), np.array([[0.5, -0.5]])),
        ((random_logits, random_labels), _cross_entropy_gradient(random_logits, random_labels)),
    ]
    return run_check("cross_entropy_gradient", cross_entropy_gradient, cases, tolerance=1e-6,
                     mistakes=_CROSS_ENTROPY_GRADIENT_MISTAKES,
                     start=_one_line("""Start with two arrays of shape (N, C): the softmax probabilities of the
                                        logits and the one-hot rows of the labels."""),
                     hint=_one_line("""Use the one-example gradient derived above for every row, then remember
                                       that the batch loss is a mean over the rows."""))


# --------------------------------------------------------------------------- the backward pass

_TRANSPOSED = "a gradient came out transposed: swap the order of a matrix product (and transpose its factors)"


def _flattened_gradients(two_layer_backward):
    """The learner's dict of gradients as one array, after checking its keys and every shape."""
    def flattened(params, inputs, labels, logits, hidden):
        grads = two_layer_backward(params, inputs, labels, logits, hidden)
        if grads is None:
            return None
        if not isinstance(grads, dict) or any(name not in grads for name in _PARAMETER_NAMES):
            raise ValueError(f"return a dict with a gradient for each of {', '.join(_PARAMETER_NAMES)}")
        for name in _PARAMETER_NAMES:
            shape, wanted = np.shape(grads[name]), params[name].shape
            if shape != wanted:
                why = _TRANSPOSED if len(shape) == 2 and shape == wanted[::-1] else "a gradient has its parameter's shape"
                raise ValueError(f"grads['{name}'] has shape {shape} but params['{name}'] has shape {wanted}: {why}")
        return np.concatenate([np.ravel(np.asarray(grads[name], dtype=np.float64)) for name in _PARAMETER_NAMES])
    return flattened


def _slope_one_minus_h(params, inputs, labels, logits, hidden):
    grad_logits = _cross_entropy_gradient(logits, labels)
    grad_pre_activation = (grad_logits @ params["W2"].T) * (1.0 - hidden)
    return {"W1": inputs.T @ grad_pre_activation, "b1": grad_pre_activation.sum(axis=0),
            "W2": hidden.T @ grad_logits, "b2": grad_logits.sum(axis=0)}


def _skips_the_tanh(params, inputs, labels, logits, hidden):
    grad_logits = _cross_entropy_gradient(logits, labels)
    grad_hidden = grad_logits @ params["W2"].T
    return {"W1": inputs.T @ grad_hidden, "b1": grad_hidden.sum(axis=0),
            "W2": hidden.T @ grad_logits, "b2": grad_logits.sum(axis=0)}


def _scaled(factor):
    return lambda *args: {name: factor * gradient for name, gradient in _two_layer_backward(*args).items()}


def _zero_bias_gradients(*args):
    grads = _two_layer_backward(*args)
    return {**grads, "b1": np.zeros_like(grads["b1"]), "b2": np.zeros_like(grads["b2"])}


def _transposed_first_layer(*args):
    grads = _two_layer_backward(*args)
    return {**grads, "W1": grads["W1"].T}


_BACKWARD_MISTAKES = (
    Mistake("the tanh's slope is taken as 1 − h: look up the derivative of tanh in section 2's table again, "
            "remembering that h already is tanh(a1)", _slope_one_minus_h),
    Mistake("dW1 and db1 skip the tanh: on its way from h back to a1 the gradient is multiplied by the tanh's slope",
            _skips_the_tanh),
    Mistake("every gradient is N times too large: the loss is the mean over the batch, so the gradient at the "
            "logits already carries the 1/N", lambda *args: _scaled(len(args[1]))(*args)),
    Mistake("every gradient has the wrong sign: at the logits it is the predicted probabilities minus the one-hot "
            "labels, not the other way round", _scaled(-1.0)),
    Mistake("the bias gradients are zero: a bias shifts the output of every example, so its gradient collects the "
            "gradient arriving from above over the whole batch", _zero_bias_gradients),
    Mistake(_TRANSPOSED, _transposed_first_layer),   # found by the shape check in _flattened_gradients
)


@recognising(*_BACKWARD_MISTAKES)
def check_two_layer_backward(two_layer_backward) -> Verdict:
    """``two_layer_backward(params, inputs, labels, logits, hidden)`` -> {'W1', 'b1', 'W2', 'b2'} gradients."""
    rng = np.random.default_rng(2)
    cases = []
    for num_examples, num_inputs, num_hidden, num_classes in ((6, 4, 5, 3), (3, 3, 2, 4)):
        params, inputs = _random_two_layer(rng, num_examples, num_inputs, num_hidden, num_classes)
        labels = rng.integers(0, num_classes, size=num_examples)
        args = (params, inputs, labels, *_two_layer_forward(params, inputs))
        cases.append((args, _flattened_gradients(_two_layer_backward)(*args)))
    return run_check("two_layer_backward", _flattened_gradients(two_layer_backward), cases, tolerance=1e-6,
                     describe_inputs=False, mistakes=_through(_flattened_gradients, _BACKWARD_MISTAKES),
                     start=_one_line("""Start at the top with the gradient at the logits (Exercise 4), then undo
                                        one operation of the forward pass at a time: the output layer, the tanh,
                                        the first layer."""),
                     hint=_one_line("""Compare each gradient's shape with its parameter's, and each of the four
                                       with a numerical gradient (the cells below the solution do this) to see
                                       which one is off."""))


# --------------------------------------------------------------------------- one SGD step

_IN_PLACE = "the arrays in params were changed in place: build new arrays and leave the old ones as they were"


def _flattened_update(sgd_step):
    """The learner's new parameters as one array, after checking that params was left unchanged."""
    def flattened(params, grads, learning_rate):
        originals = {name: value.copy() for name, value in params.items()}
        result = sgd_step(params, grads, learning_rate)
        if result is None:
            return None
        if any(not np.array_equal(params[name], originals[name]) for name in params):
            raise ValueError(_IN_PLACE)
        if not isinstance(result, dict) or set(result) != set(params):
            raise ValueError(f"return a dict with the same keys as params {sorted(params)}")
        for name in params:
            if np.shape(result[name]) != params[name].shape:
                raise ValueError(f"{name} has shape {np.shape(result[name])}, expected {params[name].shape}")
        return np.concatenate([np.ravel(np.asarray(result[name], dtype=np.float64)) for name in sorted(params)])
    return flattened


def _updates_in_place(params, grads, learning_rate):
    for name in params:
        params[name] -= learning_rate * grads[name]
    return params


_SGD_MISTAKES = (
    Mistake("the step goes uphill: the gradient points to where the loss grows, so move against it",
            lambda params, grads, learning_rate: _sgd_step(params, grads, -learning_rate)),
    Mistake("the learning rate is missing: the step is the gradient scaled by the learning rate",
            lambda params, grads, learning_rate: _sgd_step(params, grads, 1.0)),
    Mistake(_IN_PLACE, _updates_in_place),   # found by the comparison in _flattened_update
)


@recognising(*_SGD_MISTAKES)
def check_sgd_step(sgd_step) -> Verdict:
    """``sgd_step(params, grads, learning_rate)`` -> a new dict of parameters, one gradient-descent step on."""
    rng = np.random.default_rng(3)
    params = {"W1": rng.normal(size=(3, 2)), "b1": rng.normal(size=2)}
    grads = {"W1": rng.normal(size=(3, 2)), "b1": rng.normal(size=2)}
    cases = []
    for args in (({"w": np.array([2.0])}, {"w": np.array([4.0])}, 0.25), (params, grads, 0.1)):
        cases.append((args, _flattened_update(_sgd_step)(*args)))
    return run_check("sgd_step", _flattened_update(sgd_step), cases, tolerance=1e-9, describe_inputs=False,
                     mistakes=_through(_flattened_update, _SGD_MISTAKES),
                     start=_one_line("""Start with an empty dict and add one new array for each parameter name
                                        in params."""),
                     hint=_one_line("""Each new value is the old one moved by the learning rate times its
                                       gradient, in the direction that lowers the loss; build new arrays rather
                                       than changing the old ones."""))
