"""The course in a real browser: JupyterLab in headless Chromium, driven like a learner drives it.

nbval runs the notebooks without a browser; these tests check what a learner meets:
JupyterLab opens the course, runs it, renders the widgets, and redraws when a slider
is moved or a number is typed. One JupyterLab server (token authentication on, on
127.0.0.1, serving a temporary copy of notebooks/) and one Chromium serve every test;
each test opens its notebook in a fresh browser tab and stops its kernel afterwards.

Each test first clears the committed outputs (Edit ▸ Clear Outputs of All Cells), so every
execution count, output and widget it then sees comes from its own run. How much of each
notebook runs, to keep the whole file under about 2 minutes:

* notebook 00 runs completely (Run ▸ Run All Cells): the device report and the absence
  of errors are what a learner checks first;
* the widget notebooks run from the top down to the cell that builds the widget
  (select that cell, Run ▸ Run All Above Selected Cell, then Run ▸ Run Selected Cell).
  A widget only depends on the cells above it, and the rest of each notebook (training
  runs, up to minutes for the CNN) is already run top to bottom by nbval in `make test`.

Needs /usr/bin/chromium (Debian package ``chromium``) and the Python package
``playwright`` (in the ``test`` extra); without them the tests are skipped with the
install commands, except under CI (``CI=true``), where they fail. When a test fails,
a screenshot, the browser console, the outputs and the server log are saved under
test-artifacts/ui/<test name>/, and the failure message names the folder.
"""

from __future__ import annotations

import re

import pytest

import ui_support
from ui_support import NOTEBOOKS, LabSession, NotebookPage

pytestmark = pytest.mark.ui


@pytest.fixture(scope="module")
def lab():
    """A JupyterLab server and a headless Chromium for all tests of this file."""
    ui_support.skip_or_fail_without_a_browser()
    from playwright.sync_api import sync_playwright

    with ui_support.jupyter_lab() as server, sync_playwright() as playwright:
        browser = ui_support.launch_chromium(playwright)
        try:
            yield LabSession(server, browser)
        finally:
            browser.close()


def require_notebook(name: str) -> None:
    if not (NOTEBOOKS / name).is_file():
        pytest.skip(f"notebooks/{name} does not exist yet")


def test_jupyterlab_listens_on_loopback_and_requires_the_token(lab):
    server = lab.server
    assert server.base_url.startswith("http://127.0.0.1:")
    assert server.api_status(with_token=False) == 403, "JupyterLab answered without the token"
    assert server.api_status(with_token=True) == 200


def test_notebook_00_runs_and_shows_the_device_report(lab, request):
    name = "00_setup_and_data.ipynb"
    require_notebook(name)
    with lab.notebook(name, request.node.name) as notebook:
        notebook.run_all(timeout=240)
        outputs = "\n".join(notebook.output_texts())
        for line in (r"python\s+3\.\d+", r"torch\s+\d", r"numpy\s+\d", r"device\s+(cpu|cuda|mps)"):
            assert re.search(rf"^{line}", outputs, re.MULTILINE), (
                f"the device report (a line matching {line!r}) is not among the outputs of {name}")
        errors = notebook.error_outputs()
        assert not errors, f"{name} shows error output after Run All Cells:\n" + "\n---\n".join(errors)


def run_to_widget(notebook: NotebookPage, builder_call: str, timeout: float = 180) -> int:
    """Run the notebook down to the cell that calls ``builder_call``; return that cell's index."""
    widget_cell = ui_support.widget_cell_index(notebook.server.root / notebook.name, builder_call)
    notebook.run_through(widget_cell, timeout=timeout)
    errors = notebook.error_outputs()
    assert not errors, f"{notebook.name} shows error output above its widget:\n" + "\n---\n".join(errors)
    return widget_cell


def change_restore_then_drag(notebook, cell, change, restore, what, *, drag_label, drag_fraction):
    """The widget must follow ``change()``, draw its first picture again after ``restore()``,
    and follow a drag of the slider labelled ``drag_label`` to yet another picture."""
    slider = notebook.slider(cell, drag_label)
    slider.wait_for(state="visible")
    first_picture = notebook.image_source(cell)
    changed_picture = notebook.change_and_restore(cell, first_picture, change, restore, what)
    dragged_picture = notebook.drag_and_wait_for_change(cell, slider, drag_fraction, first_picture,
                                                        f"dragging the {drag_label} slider")
    assert dragged_picture != changed_picture, f"dragging the {drag_label} slider drew the same picture as {what}"


def test_learning_rate_sliders_redraw_the_path(lab, request):
    """01: type a learning rate into the η slider's number and drag the steps slider; the plot must follow."""
    name = "01_gradient_descent.ipynb"
    require_notebook(name)
    with lab.notebook(name, request.node.name) as notebook:
        cell = run_to_widget(notebook, "learning_rate_explorer(")
        rate_slider = notebook.slider(cell, "η")
        rate_slider.wait_for(state="visible")
        start_rate = notebook.readout(rate_slider)

        def type_diverging_rate():
            notebook.type_slider_value(rate_slider, "0.120")
            assert notebook.readout(rate_slider) == "0.120"

        change_restore_then_drag(notebook, cell, type_diverging_rate,
                                 lambda: notebook.type_slider_value(rate_slider, start_rate), "typing η = 0.120",
                                 drag_label="steps", drag_fraction=0.3)


def test_activation_playground_redraws_the_neuron(lab, request):
    """02: pick another activation in the menu and drag the weight slider; the curve must follow."""
    name = "02_neural_networks_numpy.ipynb"
    require_notebook(name)
    with lab.notebook(name, request.node.name) as notebook:
        cell = run_to_widget(notebook, "activation_explorer(")
        menu = notebook.cell(cell).locator(".widget-dropdown select").first
        menu.wait_for(state="visible")
        start_activation = menu.input_value()
        other = "relu" if start_activation != "relu" else "tanh"
        change_restore_then_drag(notebook, cell, lambda: menu.select_option(other),
                                 lambda: menu.select_option(start_activation), f"choosing the activation {other!r}",
                                 drag_label="weight w", drag_fraction=-0.25)


def test_kernel_editor_redraws_the_feature_map(lab, request):
    """04: type a number into the 3×3 kernel and tick ReLU; the feature map must follow."""
    name = "04_cnn_mnist.ipynb"
    require_notebook(name)
    with lab.notebook(name, request.node.name) as notebook:
        cell = run_to_widget(notebook, "kernel_explorer(")
        kernel_boxes = notebook.cell(cell).locator(".widget-gridbox input")
        kernel_boxes.first.wait_for(state="visible")
        assert kernel_boxes.count() == 9, f"the kernel editor shows {kernel_boxes.count()} number boxes, not 3×3"
        first_picture = notebook.image_source(cell)

        centre = kernel_boxes.nth(4)
        start_value = centre.input_value()
        new_value = "5" if float(start_value) != 5 else "-5"
        centre.click()
        notebook.page.keyboard.press("Control+A")
        notebook.page.keyboard.type(new_value)
        notebook.page.keyboard.press("Enter")
        edited_picture = notebook.wait_for_image_change(cell, first_picture, f"typing {new_value} in the kernel's centre")

        centre.click()
        notebook.page.keyboard.press("Control+A")
        notebook.page.keyboard.type(start_value)
        notebook.page.keyboard.press("Enter")
        notebook.wait_for_image(cell, first_picture, f"typing the centre value {start_value} back")

        notebook.cell(cell).locator(".widget-checkbox input[type=checkbox]").first.click()
        relu_picture = notebook.wait_for_image_change(cell, first_picture, "ticking 'ReLU on the feature map'")
        assert relu_picture != edited_picture
