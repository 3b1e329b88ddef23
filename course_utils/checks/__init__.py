"""Automatic checks for the exercises, and the numerical tools behind them.

Each ``check_<name>(learner_function)`` prints one verdict line and returns
True or False; it never raises on an unfinished or wrong answer. The
reference answers live in the topic modules of ``course_utils``.
"""

from course_utils.checks.core import gradient_check, numerical_gradient, rel_error, run_check
from course_utils.checks.data_basics import check_class_counts, check_nearest_mean_predict
from course_utils.checks.cnn import check_conv2d, check_conv_output_size, check_fgsm_perturbation, check_max_pool2d
from course_utils.checks.mlp import check_accuracy_from_scores, check_dense_parameter_count, check_one_hot
from course_utils.checks.gradient_descent import check_largest_stable_learning_rate, check_loss_gradient, check_sgd_epoch
from course_utils.checks.numpy_nets import check_cross_entropy_gradient, check_sgd_step, check_softmax, check_tanh_layer_backward
from course_utils.checks.production import check_least_confident, check_request_to_tensor
from course_utils.checks.rnn import check_lstm_cell_step, check_rnn_forward, check_sample_with_temperature

__all__ = [
    "rel_error", "numerical_gradient", "gradient_check", "run_check",
    "check_class_counts", "check_nearest_mean_predict",
    "check_conv2d", "check_conv_output_size", "check_max_pool2d", "check_fgsm_perturbation",
    "check_loss_gradient", "check_largest_stable_learning_rate", "check_sgd_epoch",
    "check_one_hot", "check_accuracy_from_scores", "check_dense_parameter_count",
    "check_softmax", "check_cross_entropy_gradient", "check_tanh_layer_backward", "check_sgd_step",
    "check_least_confident", "check_request_to_tensor",
    "check_rnn_forward", "check_lstm_cell_step", "check_sample_with_temperature",
]
