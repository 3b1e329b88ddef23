"""course_utils.train (the loop, recipes, evaluation) and course_utils.plot."""

import dataclasses

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn

from course_utils import data, device, plot, train


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


def _toy_model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 2))


def test_train_epoch_returns_mean_loss_and_accuracy_over_all_batches():
    inputs, labels = _toy_problem()
    model = _toy_model()
    model[2].p = 0.0  # no dropout, so the training pass gives the same outputs as evaluate
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # no update: the figures describe one fixed model
    batches = data.Batches(inputs, labels, 50, shuffle=False)  # 5 batches of 50 and one of 6
    loss, accuracy = train.train_epoch(model, optimizer, nn.functional.cross_entropy, batches)
    expected_loss, expected_accuracy = train.evaluate(model, inputs, labels, loss_fn=nn.functional.cross_entropy)
    assert loss == pytest.approx(expected_loss, rel=1e-5)    # mean per image, not mean of the batch means
    assert accuracy == pytest.approx(expected_accuracy)
    assert isinstance(loss, float) and isinstance(accuracy, float)


def test_train_epoch_updates_the_weights_and_uses_augment_and_scheduler():
    inputs, labels = _toy_problem()
    model = _toy_model()
    before = [parameter.detach().clone() for parameter in model.parameters()]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    augmented = []
    batches = data.Batches(inputs, labels, 64, shuffle=True, seed=0)
    train.train_epoch(model, optimizer, nn.functional.cross_entropy, batches,
                      augment=lambda x: augmented.append(len(x)) or x, scheduler=scheduler)
    assert model.training
    assert all(not torch.equal(old, new) for old, new in zip(before, model.parameters()))
    assert augmented == [64, 64, 64, 64]                                 # every batch, before the forward pass
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** 4)  # stepped after every update


def test_fit_leaves_the_model_in_eval_mode_with_and_without_val_data():
    inputs, labels = _toy_problem(64)
    for val_data in (None, (inputs[:16], labels[:16])):
        model = _toy_model().train()
        train.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.functional.cross_entropy, (inputs, labels),
                  val_data=val_data, num_epochs=1, batch_size=16, live_plot=False, progress=False)
        assert not model.training and not any(module.training for module in model.modules())


def _total_gradient_norm(model) -> float:
    return float(torch.norm(torch.stack([p.grad.norm() for p in model.parameters() if p.grad is not None])))


def test_max_grad_norm_caps_the_gradient_norm_before_each_update():
    inputs, labels = _toy_problem(64)
    huge_loss = lambda outputs, targets: 1e4 * nn.functional.cross_entropy(outputs, targets)  # noqa: E731
    norms = {}
    for max_grad_norm in (None, 1.0):
        model = _toy_model()
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-6)
        seen = norms[max_grad_norm] = []
        optimizer.register_step_pre_hook(lambda *_: seen.append(_total_gradient_norm(model)))
        train.fit(model, optimizer, huge_loss, (inputs, labels), num_epochs=2, batch_size=16,
                  max_grad_norm=max_grad_norm, live_plot=False, progress=False)
        assert len(seen) == 8
    assert min(norms[None]) > 10, "without clipping the huge loss gives huge gradients"
    assert max(norms[1.0]) == pytest.approx(1.0, rel=1e-4)


def _digits(count=128):
    splits = data.load_mnist()
    return data.to_tensors(splits.train_images[:count], splits.train_labels[:count])


def _linear_digit_model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))


SMALL_RECIPE = train.Recipe(num_epochs=2, batch_size=32, learning_rate=1e-2, optimizer="adamw", weight_decay=1e-4,
                            max_shift=2, max_grad_norm=5.0)


def test_train_with_recipe_rejects_an_unknown_optimizer():
    recipe = dataclasses.replace(SMALL_RECIPE, optimizer="sgd")
    with pytest.raises(ValueError, match="unknown optimizer 'sgd'; use one of adam, adamw"):
        train.train_with_recipe(_linear_digit_model(), _digits(8), recipe)


def test_train_with_recipe_passes_its_settings_to_fit(monkeypatch):
    calls = []
    real_fit = train.fit

    def recording_fit(model, optimizer, loss_fn, train_data, **options):
        calls.append({"optimizer": optimizer, **options})
        return real_fit(model, optimizer, loss_fn, train_data, **options)

    monkeypatch.setattr(train, "fit", recording_fit)
    digits = _digits(100)
    train.train_with_recipe(_linear_digit_model(), digits, SMALL_RECIPE, seed=3)
    one_cycle = calls[-1]
    assert isinstance(one_cycle["optimizer"], torch.optim.AdamW)
    assert one_cycle["optimizer"].param_groups[0]["weight_decay"] == 1e-4
    scheduler = one_cycle["scheduler"]
    assert isinstance(scheduler, torch.optim.lr_scheduler.OneCycleLR)
    assert scheduler.total_steps == 2 * 4                       # 2 epochs of ceil(100 / 32) batches
    assert scheduler.optimizer.param_groups[0]["max_lr"] == SMALL_RECIPE.learning_rate
    assert isinstance(one_cycle["augment"], data.RandomShift) and one_cycle["augment"].max_shift == 2
    assert (one_cycle["num_epochs"], one_cycle["batch_size"], one_cycle["seed"], one_cycle["max_grad_norm"]) == (2, 32, 3, 5.0)

    constant = dataclasses.replace(SMALL_RECIPE, one_cycle=False, max_shift=0, optimizer="adam")
    train.train_with_recipe(_linear_digit_model(), digits, constant)
    plain = calls[-1]
    assert plain["scheduler"] is None and plain["augment"] is None
    assert type(plain["optimizer"]) is torch.optim.Adam
    assert plain["optimizer"].param_groups[0]["lr"] == SMALL_RECIPE.learning_rate   # constant: never scheduled


def test_train_with_recipe_gives_the_same_history_twice_for_one_seed():
    digits = _digits()
    first = train.train_with_recipe(_linear_digit_model(), digits, SMALL_RECIPE, val_data=digits, seed=0)
    second = train.train_with_recipe(_linear_digit_model(), digits, SMALL_RECIPE, val_data=digits, seed=0)
    other = train.train_with_recipe(_linear_digit_model(), digits, SMALL_RECIPE, val_data=digits, seed=1)
    assert len(first.train_loss) == 2
    assert first.train_loss == second.train_loss and first.val_accuracy == second.val_accuracy
    assert first.train_loss != other.train_loss   # another seed: other batches and other shifts


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
    true_labels, predicted_labels = [1, 2, 3, 4], np.array([1, 2, 0, 4])
    assert train.accuracy(true_labels, predicted_labels) == 0.75
    assert train.accuracy(torch.tensor(true_labels), torch.from_numpy(predicted_labels)) == 0.75
    with pytest.raises(ValueError, match=r"shapes differ: labels \(2,\), predictions \(3,\)"):  # true labels first
        train.accuracy([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="no predictions"):
        train.accuracy([], [])
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
