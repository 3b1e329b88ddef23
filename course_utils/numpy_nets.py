"""Neural networks from scratch in numpy (notebook 02): the reference versions of what the learner builds.

Everything here is plain numpy on float arrays; shapes use N for the batch
size, D for input features, H for hidden units and C for classes.

    params = numpy_nets.init_two_layer(784, 64, 10, rng)
    loss, grads = numpy_nets.two_layer_loss_and_gradients(params, images, labels)
    params = numpy_nets.sgd_step(params, grads, learning_rate=0.1)

Also here: the activations and their derivatives, a stable softmax and the
cross-entropy, the weight initialisers, a deep fully connected net for
measuring gradients and activations layer by layer, and the
activation-playground widget.
"""

from __future__ import annotations

from typing import Callable

import matplotlib.pyplot as plt
import numpy as np

# ----------------------------------------------------------------------------- activations

def _as_float(array) -> np.ndarray:
    """The array as floats, keeping float32 or float64 as given (integers become float64)."""
    array = np.asarray(array)
    return array if np.issubdtype(array.dtype, np.floating) else array.astype(np.float64)


PRELU_SLOPE = 0.25  # PReLU learns this slope; 0.25 is the usual starting value


def sigmoid(a):
    """Logistic function 1 / (1 + e^-a), elementwise, output in (0, 1). Stable for large |a|."""
    a = _as_float(a)
    out = np.empty_like(a)
    positive = a >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-a[positive]))
    exp_a = np.exp(a[~positive])
    out[~positive] = exp_a / (1.0 + exp_a)
    return out


def sigmoid_derivative(a):
    """d sigmoid / da = sigmoid(a) (1 - sigmoid(a)); at most 0.25 (at a = 0)."""
    s = sigmoid(a)
    return s * (1.0 - s)


def tanh(a):
    """Hyperbolic tangent, elementwise, output in (-1, 1)."""
    return np.tanh(_as_float(a))


def tanh_derivative(a):
    """d tanh / da = 1 - tanh(a)^2; at most 1 (at a = 0)."""
    return 1.0 - np.tanh(_as_float(a)) ** 2


def relu(a):
    """Rectified linear unit max(0, a), elementwise."""
    return np.maximum(0.0, _as_float(a))


def relu_derivative(a):
    """1 where a > 0, else 0 (we take 0 at a = 0)."""
    a = _as_float(a)
    return (a > 0).astype(a.dtype)


def prelu(a, slope: float = PRELU_SLOPE):
    """Parametric ReLU: a where a > 0, slope * a elsewhere (slope is learned in a real net)."""
    a = _as_float(a)
    return np.where(a > 0, a, slope * a)


def prelu_derivative(a, slope: float = PRELU_SLOPE):
    """1 where a > 0, slope elsewhere."""
    a = _as_float(a)
    return np.where(a > 0, 1.0, slope)


ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "sigmoid": (sigmoid, sigmoid_derivative),
    "tanh": (tanh, tanh_derivative),
    "relu": (relu, relu_derivative),
    "prelu": (prelu, prelu_derivative),
}


def get_activation(name: str) -> tuple[Callable, Callable]:
    """(function, derivative) for an activation name: 'sigmoid', 'tanh', 'relu' or 'prelu'."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; use one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def neuron(inputs, weights, bias: float, activation: str = "sigmoid"):
    """One artificial neuron y = g(sum_j W_j x_j + b).

    inputs (D,) or a batch (N, D); weights (D,); bias a number. Returns a
    number for one input, an array (N,) for a batch.
    """
    inputs = np.asarray(inputs, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 1 or inputs.shape[-1] != weights.shape[0]:
        raise ValueError(f"inputs {inputs.shape} and weights {weights.shape} do not match: "
                         "the last axis of inputs must equal the length of weights")
    function, _ = get_activation(activation)
    return function(inputs @ weights + bias)


# ----------------------------------------------------------------------------- softmax and losses

def _logits_2d(logits) -> np.ndarray:
    logits = _as_float(logits)
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape (N, C), got {logits.shape}; for one example use logits[None, :]")
    return logits


def softmax_naive(logits):
    """e^a_i / sum_j e^a_j along the last axis, as written: overflows (nan) once a logit passes ~709."""
    exp_logits = np.exp(_as_float(logits))
    return exp_logits / exp_logits.sum(axis=-1, keepdims=True)


def softmax(logits):
    """Stable softmax along the last axis: subtract the row maximum first (the result is the same).

    logits (..., C) -> probabilities (..., C), each row summing to 1.
    """
    logits = _as_float(logits)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp_shifted = np.exp(shifted)
    return exp_shifted / exp_shifted.sum(axis=-1, keepdims=True)


def log_softmax(logits):
    """log softmax along the last axis, computed stably (no log of 0)."""
    logits = _as_float(logits)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _check_labels(labels, num_examples: int, num_classes: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (num_examples,):
        raise ValueError(f"labels must have shape ({num_examples},), one class index per row of logits, got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels must be integers 0..{num_classes - 1}, got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}, got values {labels.min()}..{labels.max()}")
    return labels.astype(np.int64)


def one_hot(labels, num_classes: int):
    """labels (N,) int -> (N, num_classes) float64 array of 0s and 1s (the target distribution p)."""
    labels = np.asarray(labels)
    labels = _check_labels(labels, len(labels), num_classes)
    encoded = np.zeros((len(labels), num_classes))
    encoded[np.arange(len(labels)), labels] = 1.0
    return encoded


def cross_entropy(logits, labels) -> float:
    """Mean over the batch of -log q_correct, where q = softmax(logits). logits (N, C), labels (N,) int.

    Equal to -sum_j p_j log q_j with p the one-hot target. Units: nats per example.
    """
    logits = _logits_2d(logits)
    labels = _check_labels(labels, logits.shape[0], logits.shape[1])
    return float(-log_softmax(logits)[np.arange(len(labels)), labels].mean())


def cross_entropy_gradient(logits, labels):
    """d cross_entropy / d logits = (q - p) / N, shape (N, C): the softmax minus the one-hot target, per batch mean."""
    logits = _logits_2d(logits)
    labels = _check_labels(labels, logits.shape[0], logits.shape[1])
    probabilities = softmax(logits)
    return (probabilities - one_hot(labels, logits.shape[1]).astype(probabilities.dtype)) / logits.shape[0]


def squared_error(predictions, targets) -> float:
    """Mean of (target - prediction)^2 over every entry (regression loss, in squared target units)."""
    predictions, targets = np.asarray(predictions, dtype=np.float64), np.asarray(targets, dtype=np.float64)
    if predictions.shape != targets.shape:
        raise ValueError(f"predictions {predictions.shape} and targets {targets.shape} must have the same shape")
    return float(np.mean((targets - predictions) ** 2))


def l1_error(predictions, targets) -> float:
    """Mean of |target - prediction| over every entry (regression loss, in target units)."""
    predictions, targets = np.asarray(predictions, dtype=np.float64), np.asarray(targets, dtype=np.float64)
    if predictions.shape != targets.shape:
        raise ValueError(f"predictions {predictions.shape} and targets {targets.shape} must have the same shape")
    return float(np.mean(np.abs(targets - predictions)))


# ----------------------------------------------------------------------------- the two-layer tanh net

def init_two_layer(input_size: int, hidden_size: int, output_size: int, rng: np.random.Generator,
                   scheme: str = "xavier", output_scale: float = 1.0, dtype=np.float64) -> dict[str, np.ndarray]:
    """Seed the weights of h = tanh(x W1 + b1), y = h W2 + b2.

    Returns {'W1': (D, H), 'b1': (H,), 'W2': (H, C), 'b2': (C,)} of ``dtype``;
    weights drawn with ``init_weights(scheme)``, biases zero. ``output_scale``
    shrinks W2 (0.1 makes every class start about equally likely: loss ≈ ln C).
    float64 for gradient checks; float32 trains several times faster.
    """
    return {
        "W1": init_weights(input_size, hidden_size, scheme, rng).astype(dtype),
        "b1": np.zeros(hidden_size, dtype=dtype),
        "W2": (output_scale * init_weights(hidden_size, output_size, scheme, rng)).astype(dtype),
        "b2": np.zeros(output_size, dtype=dtype),
    }


def _check_params(params) -> None:
    missing = [name for name in ("W1", "b1", "W2", "b2") if name not in params]
    if missing:
        raise KeyError(f"params lacks {missing}; build it with init_two_layer")


def two_layer_forward(inputs, params):
    """Forward pass: h = tanh(x W1 + b1), logits = h W2 + b2.

    inputs (N, D) -> (logits (N, C), cache) where cache = (inputs, hidden) is
    what the backward pass needs.
    """
    _check_params(params)
    inputs = _as_float(inputs)
    if inputs.ndim != 2 or inputs.shape[1] != params["W1"].shape[0]:
        raise ValueError(f"inputs must have shape (N, {params['W1'].shape[0]}), got {inputs.shape}; "
                         "flatten images to rows first")
    hidden = np.tanh(inputs @ params["W1"] + params["b1"])
    logits = hidden @ params["W2"] + params["b2"]
    return logits, (inputs, hidden)


def tanh_layer_backward(inputs, weights, bias, grad_outputs):
    """Backward pass of outputs = tanh(inputs @ weights + bias).

    inputs (N, D), weights (D, H), bias (H,), grad_outputs (N, H) = dLoss/doutputs.
    Returns (grad_inputs (N, D), grad_weights (D, H), grad_bias (H,)).
    """
    inputs, weights = _as_float(inputs), _as_float(weights)
    outputs = np.tanh(inputs @ weights + bias)
    grad_pre_activation = _as_float(grad_outputs) * (1.0 - outputs ** 2)
    return grad_pre_activation @ weights.T, inputs.T @ grad_pre_activation, grad_pre_activation.sum(axis=0)


def two_layer_backward(grad_logits, cache, params) -> dict[str, np.ndarray]:
    """Backward pass from dLoss/dlogits (N, C) to the gradient of every parameter (same keys and shapes as params)."""
    inputs, hidden = cache
    grad_W2 = hidden.T @ grad_logits
    grad_b2 = grad_logits.sum(axis=0)
    grad_hidden = grad_logits @ params["W2"].T
    grad_pre_activation = grad_hidden * (1.0 - hidden ** 2)
    grad_W1 = inputs.T @ grad_pre_activation
    grad_b1 = grad_pre_activation.sum(axis=0)
    return {"W1": grad_W1, "b1": grad_b1, "W2": grad_W2, "b2": grad_b2}


def two_layer_loss_and_gradients(params, inputs, labels):
    """Forward pass, cross-entropy cost, backward pass. Returns (loss, grads dict)."""
    logits, cache = two_layer_forward(inputs, params)
    loss = cross_entropy(logits, labels)
    grads = two_layer_backward(cross_entropy_gradient(logits, labels), cache, params)
    return loss, grads


def two_layer_predict(inputs, params):
    """Predicted class (N,) int: the index of the largest logit."""
    logits, _ = two_layer_forward(inputs, params)
    return np.argmax(logits, axis=1)


def sgd_step(params, grads, learning_rate: float) -> dict[str, np.ndarray]:
    """One gradient-descent update w <- w - learning_rate * dLoss/dw for every parameter.

    Returns a new dict; the arrays in ``params`` are not changed.
    """
    if set(params) != set(grads):
        raise KeyError(f"params has {sorted(params)} but grads has {sorted(grads)}: they must name the same arrays")
    for name in params:
        if np.shape(params[name]) != np.shape(grads[name]):
            raise ValueError(f"{name}: parameter shape {np.shape(params[name])} but gradient shape {np.shape(grads[name])}")
    return {name: params[name] - learning_rate * grads[name] for name in params}


def train_two_layer(params, inputs, labels, *, num_epochs: int, batch_size: int = 32, learning_rate: float = 0.1,
                    rng: np.random.Generator | None = None):
    """Mini-batch SGD: for each epoch shuffle, then forward, cost, backward, update per batch.

    Returns (params, batch_losses list). The loop the notebook writes out in full.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    batch_losses = []
    for _ in range(num_epochs):
        order = rng.permutation(len(inputs))
        for start in range(0, len(inputs), batch_size):
            batch = order[start:start + batch_size]
            loss, grads = two_layer_loss_and_gradients(params, inputs[batch], labels[batch])
            params = sgd_step(params, grads, learning_rate)
            batch_losses.append(loss)
    return params, batch_losses


# ----------------------------------------------------------------------------- initialisation

INIT_SCHEMES = ("uniform", "gaussian", "glorot_uniform", "xavier", "kaiming")
UNIFORM_LIMIT = 0.05   # 'uniform': U(-0.05, 0.05), a fixed small range that ignores the layer size
GAUSSIAN_STD = 1.0     # 'gaussian': N(0, 1), a fixed unit scale that ignores the layer size


def init_weights(fan_in: int, fan_out: int, scheme: str, rng: np.random.Generator):
    """A (fan_in, fan_out) float64 weight matrix drawn by one of the classic schemes.

    'uniform'        U(-0.05, 0.05)                           fixed scale
    'gaussian'       N(0, 1)                                  fixed scale
    'glorot_uniform' U(-l, l), l = sqrt(6 / (fan_in + fan_out))   variance 2 / (fan_in + fan_out)
    'xavier'         N(0, 2 / (fan_in + fan_out))             Glorot & Bengio 2010, for tanh/sigmoid
    'kaiming'        N(0, 2 / fan_in)                         He et al. 2015, for ReLU
    """
    if fan_in < 1 or fan_out < 1:
        raise ValueError(f"fan_in and fan_out must be positive, got {fan_in} and {fan_out}")
    shape = (fan_in, fan_out)
    if scheme == "uniform":
        return rng.uniform(-UNIFORM_LIMIT, UNIFORM_LIMIT, size=shape)
    if scheme == "gaussian":
        return rng.normal(0.0, GAUSSIAN_STD, size=shape)
    if scheme == "glorot_uniform":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=shape)
    if scheme == "xavier":
        return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=shape)
    if scheme == "kaiming":
        return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)
    raise ValueError(f"unknown initialisation {scheme!r}; use one of {', '.join(INIT_SCHEMES)}")


# ----------------------------------------------------------------------------- a deep fully connected net

def deep_net_forward(inputs, weights: list, activation: str):
    """Apply hidden layers h_l = g(h_{l-1} W_l) in turn (no biases: they start at zero anyway).

    Returns the list [inputs, h_1, ..., h_L] and the list of pre-activations [a_1, ..., a_L].
    """
    function, _ = get_activation(activation)
    layer_outputs, pre_activations = [np.asarray(inputs, dtype=np.float64)], []
    for weight in weights:
        pre_activation = layer_outputs[-1] @ weight
        pre_activations.append(pre_activation)
        layer_outputs.append(function(pre_activation))
    return layer_outputs, pre_activations


def activation_stds(activation: str, scheme: str, *, depth: int = 10, width: int = 256, num_examples: int = 500,
                    seed: int = 0) -> np.ndarray:
    """Standard deviation of each hidden layer's outputs, shape (depth,), for unit-Gaussian inputs."""
    rng = np.random.default_rng(seed)
    weights = [init_weights(width, width, scheme, rng) for _ in range(depth)]
    layer_outputs, _ = deep_net_forward(rng.normal(size=(num_examples, width)), weights, activation)
    return np.array([output.std() for output in layer_outputs[1:]])


def deep_net_gradient_norms(activation: str, scheme: str, *, depth: int = 10, width: int = 64, num_classes: int = 10,
                            num_examples: int = 256, seed: int = 0) -> np.ndarray:
    """Size of dLoss/dW_l for every weight matrix of a deep net, shape (depth + 1,), layer 1 nearest the input.

    The net: ``depth`` hidden layers of ``width`` units with ``activation``, a
    linear output layer to ``num_classes`` logits and cross-entropy on random
    labels. The size is the root-mean-square entry of each gradient.
    """
    rng = np.random.default_rng(seed)
    _, derivative = get_activation(activation)
    weights = [init_weights(width, width, scheme, rng) for _ in range(depth)]
    output_weight = init_weights(width, num_classes, scheme, rng)
    inputs = rng.normal(size=(num_examples, width))
    labels = rng.integers(0, num_classes, size=num_examples)
    layer_outputs, pre_activations = deep_net_forward(inputs, weights, activation)
    grad_logits = cross_entropy_gradient(layer_outputs[-1] @ output_weight, labels)
    norms = [np.sqrt(np.mean((layer_outputs[-1].T @ grad_logits) ** 2))]
    grad_output = grad_logits @ output_weight.T
    for layer in reversed(range(depth)):
        grad_pre_activation = grad_output * derivative(pre_activations[layer])
        norms.append(np.sqrt(np.mean((layer_outputs[layer].T @ grad_pre_activation) ** 2)))
        grad_output = grad_pre_activation @ weights[layer].T
    return np.array(norms[::-1])


# ----------------------------------------------------------------------------- plots

def plot_decision_boundary(predict: Callable, points, labels, *, ax=None, title: str = "Decision boundary",
                           limits: tuple[float, float] = (-0.5, 1.5), resolution: int = 200):
    """Colour the plane by the class ``predict`` gives each point (predict: (M, 2) -> (M,) ints) and draw the data.

    Returns the matplotlib Axes.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    grid = np.linspace(limits[0], limits[1], resolution)
    grid_x, grid_y = np.meshgrid(grid, grid)
    classes = np.asarray(predict(np.column_stack([grid_x.ravel(), grid_y.ravel()]))).reshape(grid_x.shape)
    ax.contourf(grid_x, grid_y, classes, levels=[-0.5, 0.5, 1.5], colors=["#f4c6c6", "#c6d8f4"])
    points, labels = np.asarray(points), np.asarray(labels)
    for label, colour, marker in ((0, "tab:red", "o"), (1, "tab:blue", "s")):
        chosen = labels == label
        ax.scatter(points[chosen, 0], points[chosen, 1], c=colour, marker=marker, s=90, edgecolors="black",
                   label=f"class {label}", zorder=3)
    ax.set(xlabel="input x₁", ylabel="input x₂", title=title, xlim=limits, ylim=limits)
    ax.legend(loc="center", fontsize=8)
    return ax


# ----------------------------------------------------------------------------- the activation playground widget

PLAYGROUND_INPUTS = np.linspace(-5.0, 5.0, 201)


def neuron_curve(activation: str, weight: float, bias: float, inputs=PLAYGROUND_INPUTS):
    """Output of a one-input neuron y = g(w x + b) at every x in ``inputs`` (shape (M,))."""
    function, _ = get_activation(activation)
    return function(weight * np.asarray(inputs, dtype=np.float64) + bias)


def build_activation_playground(activation: str = "sigmoid", weight: float = 1.0, bias: float = 0.0):
    """An ipywidgets box: a dropdown for the activation, sliders for weight and bias, and the curve y = g(w x + b).

    The box carries what it drew, for tests and curious learners:
    ``box.activation_dropdown``, ``box.weight_slider``, ``box.bias_slider``,
    ``box.line`` (the matplotlib Line2D) and ``box.figure``. Display it with
    ``display(box)``.
    """
    import ipywidgets as widgets
    from IPython.display import display

    get_activation(activation)
    dropdown = widgets.Dropdown(options=list(ACTIVATIONS), value=activation, description="activation")
    weight_slider = widgets.FloatSlider(value=weight, min=-5.0, max=5.0, step=0.1, description="weight w")
    bias_slider = widgets.FloatSlider(value=bias, min=-5.0, max=5.0, step=0.1, description="bias b")
    output = widgets.Output()

    figure, axis = plt.subplots(figsize=(5.5, 3.2))
    line, = axis.plot(PLAYGROUND_INPUTS, neuron_curve(activation, weight, bias), lw=2, label="y = g(w·x + b)")
    axis.plot(PLAYGROUND_INPUTS, neuron_curve(activation, 1.0, 0.0), "--", color="gray", lw=1, label="w = 1, b = 0")
    axis.set(xlabel="input x", ylabel="neuron output y", ylim=(-1.6, 5.2))
    axis.grid(alpha=0.3)
    axis.legend(loc="upper left", fontsize=8)
    plt.close(figure)  # shown inside the Output widget, not a second time by the inline backend
    reference_line = axis.lines[1]

    def redraw(_change=None):
        name = dropdown.value
        line.set_ydata(neuron_curve(name, weight_slider.value, bias_slider.value))
        reference_line.set_ydata(neuron_curve(name, 1.0, 0.0))
        axis.set_title(f"{name}: y = g({weight_slider.value:.1f}·x + {bias_slider.value:.1f})")
        output.clear_output(wait=True)
        with output:
            display(figure)

    for control in (dropdown, weight_slider, bias_slider):
        control.observe(redraw, names="value")
    redraw()
    box = widgets.VBox([widgets.HBox([dropdown, weight_slider, bias_slider]), output])
    box.activation_dropdown, box.weight_slider, box.bias_slider = dropdown, weight_slider, bias_slider
    box.line, box.figure = line, figure
    return box
