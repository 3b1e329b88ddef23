"""Unit tests for course_utils.mlp and the checks of notebook 03."""

import numpy as np
import pytest
import torch

from course_utils import data, mlp, train
from course_utils.checks import mlp as mlp_checks


# one_hot ---------------------------------------------------------------------------------------------

def test_one_hot_table_for_0_4_3_9():
    rows = mlp.one_hot(np.array([0, 4, 3, 9]))
    assert rows.shape == (4, 10)
    assert rows.sum(axis=1).tolist() == [1, 1, 1, 1]
    assert rows.argmax(axis=1).tolist() == [0, 4, 3, 9]


def test_one_hot_keeps_tensors_as_tensors():
    rows = mlp.one_hot(torch.tensor([1, 2]), num_classes=3)
    assert torch.is_tensor(rows) and rows.dtype == torch.float32
    assert rows.tolist() == [[0, 1, 0], [0, 0, 1]]


@pytest.mark.parametrize("bad, message", [(np.array([0, 10]), "0..9"), (np.array([-1]), "0..9"),
                                          (np.array([[1, 2]]), "one-dimensional"), (np.array([0.5]), "integers")])
def test_one_hot_rejects_bad_labels(bad, message):
    with pytest.raises(ValueError, match=message):
        mlp.one_hot(bad)


# accuracy and parameter counts -------------------------------------------------------------------------

def test_accuracy_from_scores():
    scores = torch.tensor([[1.0, 0.0], [0.0, 1.0], [3.0, 2.0]])
    assert mlp.accuracy_from_scores(scores, torch.tensor([0, 1, 1])) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="labels"):
        mlp.accuracy_from_scores(scores, torch.tensor([0, 1]))


def test_dense_parameter_count_matches_slides_and_pytorch():
    assert mlp.dense_parameter_count((3 * 1024, 100, 3), biases=False) == 307_500
    assert mlp.dense_parameter_count((784, 256, 10)) == train.count_parameters(mlp.MLP((256,)))
    with pytest.raises(ValueError, match="at least two"):
        mlp.dense_parameter_count((784,))


# the model -------------------------------------------------------------------------------------------

def test_mlp_accepts_grid_and_flat_images():
    torch.manual_seed(0)
    model = mlp.MLP().eval()
    grid = torch.randn(3, 1, 28, 28)
    assert model(grid).shape == (3, 10)
    assert torch.allclose(model(grid), model(grid.reshape(3, 784)))
    with pytest.raises(ValueError, match="expected images"):
        model(torch.randn(3, 100))
    with pytest.raises(ValueError, match="dropout"):
        mlp.MLP(dropout=1.5)


def test_train_mlp_learns_a_small_set(monkeypatch):
    monkeypatch.setattr(mlp, "NUM_EPOCHS", 5)
    monkeypatch.setattr(mlp, "HIDDEN_SIZES", (64,))
    splits = data.load_mnist()
    train_data = data.to_tensors(splits.train_images[:1500], splits.train_labels[:1500])
    val_data = data.to_tensors(splits.test_images[:300], splits.test_labels[:300])
    model, history = mlp.train_mlp(train_data, val_data=val_data, seed=0)
    assert len(history.train_loss) == 5
    assert not model.training
    assert history.val_accuracy[-1] > 0.8


def test_train_mlp_rejects_numpy():
    splits = data.load_mnist()
    with pytest.raises(TypeError, match="to_tensors"):
        mlp.train_mlp((splits.train_images[:10], splits.train_labels[:10]))


# evaluation helpers ---------------------------------------------------------------------------------------

def test_most_confused_pairs():
    matrix = np.array([[5, 2, 0], [7, 9, 1], [0, 0, 3]])
    assert mlp.most_confused_pairs(matrix, count=2) == [(1, 0, 7), (0, 1, 2)]
    assert mlp.most_confused_pairs(np.eye(3, dtype=int) * 4) == []
    with pytest.raises(ValueError, match="square"):
        mlp.most_confused_pairs(np.zeros((2, 3)))


def test_k_fold_indices_cover_everything_once():
    folds = mlp.k_fold_indices(23, 5, seed=1)
    assert len(folds) == 5
    val_parts = np.concatenate([val for _, val in folds])
    assert sorted(val_parts.tolist()) == list(range(23))
    for train_part, val_part in folds:
        assert len(set(train_part) & set(val_part)) == 0 and len(train_part) + len(val_part) == 23
    with pytest.raises(ValueError, match="num_folds"):
        mlp.k_fold_indices(10, 1)
    with pytest.raises(ValueError, match="cannot cut"):
        mlp.k_fold_indices(3, 5)


# checks accept the reference and reject plausible wrong answers -------------------------------------------

def test_check_one_hot(capsys):
    assert mlp_checks.check_one_hot(mlp.one_hot)
    assert not mlp_checks.check_one_hot(lambda labels, num_classes=10: mlp.one_hot(labels).T)          # transposed
    assert not mlp_checks.check_one_hot(lambda labels, num_classes=10: mlp.one_hot(labels, 10))        # ignores num_classes
    assert not mlp_checks.check_one_hot(lambda labels, num_classes=10: mlp.one_hot((np.asarray(labels) + 1) % num_classes, num_classes))
    def stub(labels, num_classes=10):
        raise NotImplementedError
    assert not mlp_checks.check_one_hot(stub)
    assert "not written yet" in capsys.readouterr().out


def test_check_accuracy_from_scores():
    assert mlp_checks.check_accuracy_from_scores(mlp.accuracy_from_scores)
    assert not mlp_checks.check_accuracy_from_scores(lambda s, l: 100 * mlp.accuracy_from_scores(s, l))   # percent
    assert not mlp_checks.check_accuracy_from_scores(lambda s, l: (s.argmax(dim=0) == l).float().mean().item())  # wrong dim
    assert not mlp_checks.check_accuracy_from_scores(lambda s, l: int((s.argmax(dim=1) == l).sum()))     # a count


def test_check_dense_parameter_count():
    assert mlp_checks.check_dense_parameter_count(mlp.dense_parameter_count)
    assert not mlp_checks.check_dense_parameter_count(lambda sizes, biases=True: mlp.dense_parameter_count(sizes, False))  # forgets biases
    assert not mlp_checks.check_dense_parameter_count(lambda sizes, biases=True: int(np.prod(sizes)))  # multiplies everything


def test_checks_are_exported():
    from course_utils import checks
    for name in mlp_checks.__all__:
        assert getattr(checks, name) is getattr(mlp_checks, name)
