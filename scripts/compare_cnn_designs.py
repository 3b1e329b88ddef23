"""One or two convolutions per block? The measurement behind notebook 04's design choice (maintainers only).

Trains ``models.CNN(convs_per_block=N)`` for N = 1 and 2 with notebook 04's recipe (``models.CNN_RECIPE``;
its number of epochs can be changed with ``--epochs``) on notebook 04's training split (7,200 digits) for
several seeds, and prints the accuracy on its validation split (800 digits). The test digits are not
loaded. About 20 s (N = 1) and 50 s (N = 2) per run of 10 epochs on an idle 2-core CPU::

    python scripts/compare_cnn_designs.py              # seeds 0 1 2, the recipe's 10 epochs
    python scripts/compare_cnn_designs.py --epochs 15  # the other row of notebook 04's table
    python scripts/compare_cnn_designs.py --seeds 0 1 2 3 4

It prints the mean and the seed-to-seed spread (sample standard deviation) for each design, so the
difference can be compared with the noise.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics

from course_utils import data, device, models, train


def validation_accuracy(convs_per_block: int, seed: int, splits, num_epochs: int) -> tuple[float, float, int]:
    """(validation accuracy, training seconds, parameters) of one CNN trained with notebook 04's recipe."""
    train_data, val_data = splits
    recipe = dataclasses.replace(models.CNN_RECIPE, num_epochs=num_epochs)
    model, history = models.trained(lambda: models.CNN(convs_per_block=convs_per_block), train_data, recipe, seed=seed)
    return train.evaluate(model, *val_data)[1], history.total_seconds, train.count_parameters(model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=models.CNN_RECIPE.num_epochs,
                        help=f"epochs of the one-cycle recipe (default {models.CNN_RECIPE.num_epochs}, notebook 04's)")
    arguments = parser.parse_args()
    device.seed_everything(0)
    mnist = data.load_mnist()
    train_uint8, train_labels, val_uint8, val_labels = data.train_val_split(
        mnist.train_images, mnist.train_labels, val_fraction=0.1, seed=0)     # notebook 04's split
    splits = (data.to_tensors(train_uint8, train_labels, "cpu"), data.to_tensors(val_uint8, val_labels, "cpu"))
    print(f"training {len(train_labels):,} digits, validation {len(val_labels):,}; seeds {arguments.seeds}; "
          f"{arguments.epochs} epochs")
    for convs_per_block in (1, 2):
        accuracies = []
        for seed in arguments.seeds:
            accuracy, seconds, parameters = validation_accuracy(convs_per_block, seed, splits, arguments.epochs)
            accuracies.append(accuracy)
            print(f"convs per block {convs_per_block}, seed {seed}: validation {accuracy:.2%} "
                  f"({parameters:,} parameters, {seconds:.0f} s)", flush=True)
        spread = statistics.stdev(accuracies) if len(accuracies) > 1 else float("nan")
        print(f"convs per block {convs_per_block}: mean {statistics.mean(accuracies):.2%}, "
              f"seed-to-seed sd {spread:.2%}, range {min(accuracies):.2%}..{max(accuracies):.2%}")


if __name__ == "__main__":
    main()
