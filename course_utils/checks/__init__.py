"""Automatic checks for the exercises, and the numerical tools behind them.

Each ``check_<name>(learner_function)`` prints one verdict line and returns
True or False; it never raises on an unfinished or wrong answer. The
reference answers live in the topic modules of ``course_utils``.
"""

from course_utils.checks.core import gradient_check, numerical_gradient, rel_error, run_check
from course_utils.checks.data_basics import check_class_counts, check_nearest_mean_predict
from course_utils.checks.gradient_descent import check_largest_stable_learning_rate, check_loss_gradient, check_sgd_epoch
from course_utils.checks.numpy_nets import check_cross_entropy_gradient, check_sgd_step, check_softmax, check_tanh_layer_backward

__all__ = [
    "rel_error", "numerical_gradient", "gradient_check", "run_check",
    "check_class_counts", "check_nearest_mean_predict",
   
    "check_loss_gradient", "check_largest_stable_learning_rate", "check_sgd_epoch",
   
    "check_softmax", "check_cross_entropy_gradient", "check_tanh_layer_backward", "check_sgd_step",
   
   
]
