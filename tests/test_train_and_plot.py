"""course_utils.train and course_utils.plot."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn

from course_utils import device, plot, train


def _toy_problem(num_samples=256):
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(num_samples, 2, generator=generator)
    labels = (inputs[:, 0] + inputs[:, 1] > 0).long()
    return inputs, labels


def _fit_once(num_epochs=5):
    device.seed_everything(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    inputs, labels = _toy_problem()
    history = train.fit(model, optimizer, nn.functional.cross_entropy, (inputs, labels), val_data=(inputs[:64], labels[:64]),
                        num_epochs=num_epochs, batch_size=32, live_plot=False, progress=False)
    return model, history


def test_fit_learns_and_records_history():
    _, history = _fit_once()
    assert len(history.train_loss) == len(history.val_accuracy) == len(history.epoch_seconds) == 5
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert history.train_accuracy[-1] > 0.9
    assert all(0 <= value <= 1 for value in history.val_accuracy)
    assert "5 epochs" in repr(history)


def test_fit_is_deterministic_on_cpu():
    first, second = _fit_once()[1], _fit_once()[1]
    assert first.train_loss == second.train_loss and first.val_accuracy == second.val_accuracy


def test_fit_with_live_plot_and_progress_outside_notebook():
    device.seed_everything(0)
    model = nn.Linear(2, 2)
    inputs, labels = _toy_problem(64)
    history = train.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.functional.cross_entropy, (inputs, labels),
                        num_epochs=2, batch_size=16, live_plot=True, progress=True)
    assert len(history.train_loss) == 2


def test_fit_rejects_bad_arguments():
    model = nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    inputs, labels = _toy_problem(8)
    with pytest.raises(ValueError, match="num_epochs"):
        train.fit(model, optimizer, nn.functional.cross_entropy, (inputs, labels), num_epochs=0)
    with pytest.raises(TypeError, match="to_tensors"):
        train.fit(model, optimizer, nn.functional.cross_entropy, (inputs.numpy(), labels.numpy()))
    with pytest.raises(ValueError, match="8 inputs but 7 labels"):
        train.fit(model, optimizer, nn.functional.cross_entropy, (inputs, labels[:7]))


def test_evaluate_and_predict():
    model, _ = _fit_once()
    inputs, labels = _toy_problem()
    loss, accuracy = train.evaluate(model, inputs, labels, loss_fn=nn.functional.cross_entropy, batch_size=50)
    assert accuracy > 0.9 and loss < 0.5
    outputs = train.predict(model, inputs, batch_size=7)
    assert outputs.shape == (256, 2)
    assert np.isnan(train.evaluate(model, inputs, labels)[0])
    with pytest.raises(ValueError, match="empty"):
        train.evaluate(model, inputs[:0], labels[:0])


def test_accuracy_and_confusion_matrix():
    assert train.accuracy([1, 2, 3, 4], np.array([1, 2, 0, 4])) == 0.75
    with pytest.raises(ValueError, match="shapes differ"):
        train.accuracy([1, 2], [1, 2, 3])
    matrix = train.confusion_matrix([0, 0, 1, 2], [0, 1, 1, 2], num_classes=3)
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 1, 0], [0, 0, 1]])
    assert matrix.sum() == 4
    with pytest.raises(ValueError, match="0..2"):
        train.confusion_matrix([0, 3], [0, 1], num_classes=3)


def test_count_parameters():
    model = nn.Sequential(nn.Linear(3 * 1024, 100), nn.Linear(100, 3, bias=False))
    assert train.count_parameters(model) == 3 * 1024 * 100 + 100 + 100 * 3
    model[1].weight.requires_grad_(False)
    assert train.count_parameters(model, trainable_only=True) == 3 * 1024 * 100 + 100


def test_image_grid_titles_and_shape_errors():
    images = np.random.default_rng(0).integers(0, 255, size=(12, 28, 28))
    fig = plot.image_grid(images, [f"digit {i}" for i in range(12)], ncols=5, suptitle="Examples")
    shown = [axis for axis in fig.axes if axis.images]
    assert len(shown) == 12 and shown[3].get_title() == "digit 3"
    plt.close(fig)
    fig = plot.image_grid(torch.zeros(3, 1, 28, 28))
    assert len([axis for axis in fig.axes if axis.images]) == 3
    plt.close(fig)
    with pytest.raises(ValueError, match="titles"):
        plot.image_grid(images, ["one"])
    with pytest.raises(ValueError, match="shape"):
        plot.image_grid(np.zeros((28, 28)))


def test_training_curves_are_labelled():
    _, history = _fit_once(num_epochs=3)
    fig = plot.training_curves(history)
    loss_axis, accuracy_axis = fig.axes
    assert loss_axis.get_xlabel() == "epoch" and "loss" in loss_axis.get_ylabel()
    assert "accuracy" in accuracy_axis.get_ylabel()
    assert len(loss_axis.lines) == 2 and list(loss_axis.lines[0].get_ydata()) == history.train_loss
    plt.close(fig)


def test_live_plot_records_outside_notebook():
    _, history = _fit_once(num_epochs=2)
    live = plot.LivePlot()
    assert live.live is False
    live.update(history)
    fig = live.close()
    assert len(fig.axes[0].lines) == 2


def test_confusion_matrix_plot():
    matrix = np.array([[5, 1], [0, 4]])
    fig = plot.confusion_matrix(matrix, class_names=["cat", "dog"])
    axis = fig.axes[0]
    assert axis.get_xlabel() == "predicted label" and axis.get_ylabel() == "true label"
    assert [text.get_text() for text in axis.texts] == ["5", "1", "0", "4"]
    plt.close(fig)
    fig = plot.confusion_matrix(matrix, normalize=True)
    assert fig.axes[0].texts[0].get_text() == "83.3"
    plt.close(fig)
    with pytest.raises(ValueError, match="square"):
        plot.confusion_matrix(np.zeros((2, 3)))


def test_live_plot_redraws_at_most_once_per_interval_and_finally_on_close(monkeypatch):
    import IPython.display

    class FakeHandle:
        updates = 0

        def update(self, figure):
            FakeHandle.updates += 1

    monkeypatch.setattr(plot, "in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", lambda figure, display_id=False: FakeHandle())
    _, history = _fit_once(num_epochs=3)
    live = plot.LivePlot(min_interval=1e9)
    assert live.live and live.handle is not None
    draws = []
    original_draw = live._draw
    monkeypatch.setattr(live, "_draw", lambda: (draws.append(len(live._history.train_loss)), original_draw()))
    for epochs in range(1, 4):
        partial = train.History(history.train_loss[:epochs], history.train_accuracy[:epochs])
        live.update(partial)
    assert draws == [1], "only the first epoch is drawn within the interval"
    fig = live.close()
    assert draws == [1, 3], "close draws the final state"
    assert FakeHandle.updates == 2
    assert list(fig.axes[0].lines[0].get_ydata()) == history.train_loss
