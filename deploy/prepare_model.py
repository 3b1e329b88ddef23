"""Put the model the container will serve at TARGET (used by deploy/Dockerfile).

    python deploy/prepare_model.py TARGET

If deploy/model/mnist_cnn.pt exists (saved with course_utils.deployment.save_model,
its .json model card beside it), it is checked by loading it and copied to TARGET.
Otherwise the notebook-06 CNN is trained on the bundled digits (seed 0, CPU) and saved there.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from anywhere inside the repository

from course_utils import data, deployment, device, models, train  # noqa: E402

PROVIDED = HERE / "model" / "mnist_cnn.pt"


def main(target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if PROVIDED.is_file():
        deployment.load_model(PROVIDED)  # fails loudly if the file or its card is wrong
        shutil.copyfile(PROVIDED, target)
        card = deployment.model_card_path(PROVIDED)
        if card.is_file():
            shutil.copyfile(card, deployment.model_card_path(target))
        print(f"packaged {PROVIDED}")
        return
    device.seed_everything(0)
    splits = data.load_mnist()
    train_x, train_y, val_x, val_y = data.train_val_split(splits.train_images, splits.train_labels, val_fraction=0.1)
    model, history = models.trained(deployment.build_served_cnn, data.to_tensors(train_x, train_y), deployment.SERVED_RECIPE)
    _, test_accuracy = train.evaluate(model, *data.to_tensors(splits.test_images, splits.test_labels))
    deployment.save_model(model, target, test_accuracy=round(test_accuracy, 4), data="bundled MNIST, 7,200 training digits")
    print(f"trained and saved {target}: test accuracy {test_accuracy:.2%} ({history.total_seconds:.0f} s)")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
