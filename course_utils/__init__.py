"""Helpers for the course notebooks: data, device, plotting, training and exercise checks.

Import the module you need and call through it, so a reader sees where things come from::

    from course_utils import data, device, plot, train
    splits = data.load_mnist()
"""

__version__ = "0.1.0"
