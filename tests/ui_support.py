"""Helpers for the real-browser tests (tests/test_ui.py): JupyterLab on loopback, Chromium via Playwright.

* ``JupyterLabServer`` starts ``python -m jupyter lab`` from the running environment
  (the project's .venv under ``make test``) on a free 127.0.0.1 port, with token
  authentication on (a fresh random token, handed over in ``$JUPYTER_TOKEN`` so it
  does not show in the process list), serving a *temporary copy* of notebooks/ so
  the tests never modify the committed notebooks. Its user settings, workspaces and
  runtime files live in the same temporary folder, so a developer's own JupyterLab
  settings cannot change what the tests see.
* ``launch_chromium`` starts the operating system's Chromium (Debian package
  ``chromium``, /usr/bin/chromium) through Playwright with flags that keep it off
  the network; Playwright never downloads a browser here.
* ``NotebookPage`` drives one notebook the way a learner does: the Run menu, clicks
  and typing, and reads what is on the screen.
* ``artifacts_on_failure`` saves a screenshot, the browser console log and the
  server log under test-artifacts/ui/<test>/ when a test fails, and names that
  folder in the failure message.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import pathlib
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
ARTIFACTS = ROOT / "test-artifacts" / "ui"
CHROMIUM = pathlib.Path(os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium"))

INSTALL_HINT = (
    "install Chromium from the operating system (Debian/Ubuntu: `sudo apt-get install chromium`) "
    "and Playwright for Python into the course environment (`.venv/bin/pip install -e .[test]`); "
    "Playwright drives the system browser, so never run `playwright install`"
)

# Flags for a headless Chromium that makes no network calls of its own (Playwright adds --headless).
CHROMIUM_FLAGS = [
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-features=Translate,MediaRouter,OptimizationHints",
]


def running_in_ci() -> bool:
    """True under CI: ``COURSE_REQUIRE_UI_TESTS=1`` (set by .ci/run) or ``CI=true`` (set by most CI systems).

    There a missing browser fails the tests instead of skipping them.
    """
    return any(os.environ.get(variable, "").strip().lower() in {"1", "true", "yes"}
               for variable in ("COURSE_REQUIRE_UI_TESTS", "CI"))


def missing_requirement() -> str | None:
    """Why the browser tests cannot run here, or None when Chromium and Playwright are both available."""
    problems = []
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        problems.append(f"Chromium not found at {CHROMIUM}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append("the Python package playwright is not installed")
    if not problems:
        return None
    return "browser tests need a real browser: " + "; ".join(problems) + ". To run them, " + INSTALL_HINT + "."


def skip_or_fail_without_a_browser() -> None:
    """Skip the calling test when Chromium or Playwright is missing; under CI, fail instead (see ``running_in_ci``)."""
    import pytest

    missing = missing_requirement()
    if missing:
        if running_in_ci():
            pytest.fail(f"CI must run the browser tests, but {missing}", pytrace=False)
        pytest.skip(missing)


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class JupyterLabServer:
    """``python -m jupyter lab`` on 127.0.0.1 serving a temporary copy of notebooks/, token required."""

    def __init__(self, workdir: pathlib.Path, *, startup_timeout: float = 180.0):
        self.workdir = pathlib.Path(workdir)
        self.root = self.workdir / "notebooks"
        self.log_path = self.workdir / "jupyter-server.log"
        self.token = secrets.token_hex(24)
        self.port = free_loopback_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen | None = None
        self._log_file = None

    def _prepare(self) -> dict:
        shutil.copytree(NOTEBOOKS, self.root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        config, settings = self.workdir / "jupyter-config", self.workdir / "lab-settings"
        (config / "labconfig").mkdir(parents=True)
        # The news pop-up ("receive official Jupyter news?") would cover part of the page.
        (config / "labconfig" / "page_config.json").write_text(json.dumps(
            {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
        notebook_settings = settings / "@jupyterlab" / "notebook-extension"
        notebook_settings.mkdir(parents=True)
        # Render every cell (no windowing), so each cell and its output are in the page to read.
        (notebook_settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
        env = dict(os.environ)
        env.update({
            "JUPYTER_TOKEN": self.token,
            "JUPYTER_CONFIG_DIR": str(config),
            "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(self.workdir / "lab-workspaces"),
            "JUPYTER_RUNTIME_DIR": str(self.workdir / "jupyter-runtime"),
            "PYTHONUNBUFFERED": "1",
        })
        env.pop("MPLBACKEND", None)  # the kernel uses the inline backend, as in a learner's JupyterLab
        return env

    def start(self) -> "JupyterLabServer":
        env = self._prepare()
        command = [
            sys.executable, "-m", "jupyter", "lab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",  # no PyPI look-ups from the extension manager
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")  # containers and CI runners often run as root
        self._log_file = open(self.log_path, "w")
        self.process = subprocess.Popen(command, cwd=self.root, env=env, stdin=subprocess.DEVNULL,
                                        stdout=self._log_file, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with code {self.process.returncode} while starting:\n"
                                   f"{self.log_tail()}")
            if self.api_status(with_token=True) == 200:
                return self
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"JupyterLab did not answer on {self.base_url} within {self.startup_timeout:.0f} s:\n"
                           f"{self.log_tail()}")

    def api_status(self, *, with_token: bool, path: str = "/api/contents") -> int | None:
        """HTTP status of a GET on the server's REST API, with or without the token (None: no answer)."""
        url = self.base_url + path + (f"?token={self.token}" if with_token else "")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code
        except (urllib.error.URLError, OSError):
            return None

    def shutdown_kernels(self) -> None:
        """Stop every kernel the browser started, so the next notebook has the CPU to itself."""
        url = f"{self.base_url}/api/kernels"
        headers = {"Authorization": f"token {self.token}"}
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
                kernels = json.loads(response.read())
            for kernel in kernels:
                request = urllib.request.Request(f"{url}/{kernel['id']}", headers=headers, method="DELETE")
                urllib.request.urlopen(request, timeout=30).close()
        except (urllib.error.URLError, OSError, ValueError):
            pass  # best effort: the server is stopped at the end anyway

    def lab_url(self, notebook: str) -> str:
        # ?reset: open this notebook alone, not the tabs an earlier test left in the workspace
        return f"{self.base_url}/lab/tree/{notebook}?reset&token={self.token}"

    def log_tail(self, num_chars: int = 4000) -> str:
        if self._log_file:
            self._log_file.flush()
        try:
            return self.log_path.read_text(errors="replace")[-num_chars:]
        except OSError:
            return "(no server log)"

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self._log_file:
            self._log_file.close()
            self._log_file = None


@contextlib.contextmanager
def jupyter_lab():
    """A running ``JupyterLabServer`` in a fresh temporary folder, stopped and removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="course-ui-") as workdir:
        server = JupyterLabServer(pathlib.Path(workdir)).start()
        try:
            yield server
        finally:
            server.stop()


def launch_chromium(playwright):
    """The system Chromium, headless, with no network calls of its own; --no-sandbox only when running as root."""
    running_as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    flags = CHROMIUM_FLAGS + (["--no-sandbox"] if running_as_root else [])
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=flags,
                                      chromium_sandbox=not running_as_root, timeout=120_000)


# --------------------------------------------------------------------------- failure artifacts

def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:120] or "test"


@contextlib.contextmanager
def artifacts_on_failure(test_name: str, page, console: list[str], server: JupyterLabServer):
    """On any exception: save screenshot.png, console.log, outputs.txt and jupyter-server.log, then fail naming them."""
    try:
        yield
    except Exception as error:  # noqa: BLE001 - re-raised below with the artifact folder named
        folder = ARTIFACTS / _safe_name(test_name)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        saved = []
        with contextlib.suppress(Exception):
            page.screenshot(path=str(folder / "screenshot.png"), full_page=True, timeout=30_000)
            saved.append("screenshot.png")
        (folder / "console.log").write_text("\n".join(console) + "\n")
        saved.append("console.log")
        with contextlib.suppress(Exception):
            texts = page.locator(".jp-OutputArea-output").all_inner_texts()
            (folder / "outputs.txt").write_text("\n\n----- next output -----\n".join(texts))
            saved.append("outputs.txt")
        (folder / "jupyter-server.log").write_text(server.log_tail(200_000))
        saved.append("jupyter-server.log")
        reason = str(error) if isinstance(error, AssertionError) else f"{type(error).__name__}: {error}"
        message = f"{reason}\n\nUI test artifacts ({', '.join(saved)}) saved in {folder}"
        raise AssertionError(message) from error


# --------------------------------------------------------------------------- driving a notebook

PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook tab on show
NOTEBOOK = f"{PANEL} .jp-Notebook"


class NotebookPage:
    """One notebook open in JupyterLab in a Playwright page, driven with the menus, the mouse and the keyboard."""

    def __init__(self, page, server: JupyterLabServer, name: str):
        self.page = page
        self.server = server
        self.name = name
        self.num_cells = len(json.loads((server.root / name).read_text())["cells"])

    # -- opening and the kernel
    def open(self, timeout: float = 120.0) -> "NotebookPage":
        self.page.goto(self.server.lab_url(self.name), timeout=timeout * 1000)
        panel = self.page.locator(PANEL).first
        panel.wait_for(state="visible", timeout=timeout * 1000)
        self.page.locator(f"{NOTEBOOK} .jp-Cell").nth(self.num_cells - 1).wait_for(state="attached",
                                                                                      timeout=timeout * 1000)
        self.wait_for_kernel_idle(timeout)
        return self

    def kernel_status(self) -> str | None:
        return self.page.locator(f"{PANEL} .jp-Notebook-ExecutionIndicator").first.get_attribute(
            "data-status")

    def wait_for_kernel_idle(self, timeout: float = 120.0, cells: list[int] | None = None) -> None:
        """Wait until the kernel is idle, no cell shows [*], and each cell in ``cells`` shows an execution count."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            prompts = self.page.locator(f"{NOTEBOOK} .jp-Cell").evaluate_all(
                # null for markdown cells and for code cells whose input is collapsed (no prompt shown)
                "cells => cells.map(c => { const p = c.querySelector('.jp-InputArea-prompt');"
                " return c.classList.contains('jp-CodeCell') && p ? p.textContent.trim() : null; })")
            pending = [index for index, prompt in enumerate(prompts) if prompt is not None and "*" in prompt]
            not_run = [index for index in (cells or []) if prompts[index] is not None
                       and not re.fullmatch(r"\[\d+\]:", prompts[index])]
            status = self.kernel_status()
            if status == "idle" and not pending and not not_run:
                return
            last = f"kernel {status!r}, cells still running {pending}, cells not yet run {not_run}"
            self.page.wait_for_timeout(250)
        raise AssertionError(f"{self.name}: the kernel did not finish within {timeout:.0f} s ({last})")

    # -- running cells with the Run menu
    def menu(self, menu: str, item: str) -> None:
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{re.escape(menu)}$")).click()
        self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{re.escape(item)}$")).click()

    def cell(self, index: int):
        return self.page.locator(f"{NOTEBOOK} .jp-Cell").nth(index)

    def select_cell(self, index: int) -> None:
        """Click the cell's prompt area (to the left of the code): selects it without entering the editor."""
        cell = self.cell(index)
        for _attempt in range(20):  # a click during the page's start-up can get lost: check, and click again
            cell.scroll_into_view_if_needed()
            cell.locator(".jp-InputPrompt").first.click()
            if "jp-mod-active" in (cell.get_attribute("class") or ""):
                return
            self.page.wait_for_timeout(500)
        raise AssertionError(f"{self.name}: clicking cell {index} did not select it")

    def clear_all_outputs(self) -> None:
        """Edit ▸ Clear Outputs of All Cells: removes the committed outputs and execution counts, so every
        count and output seen afterwards comes from this run."""
        self.menu("Edit", "Clear Outputs of All Cells")
        deadline = time.monotonic() + 30
        while self.page.locator(f"{NOTEBOOK} .jp-OutputArea-output").count():
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: Edit ▸ Clear Outputs of All Cells left outputs behind")
            self.page.wait_for_timeout(200)

    def run_all(self, timeout: float) -> None:
        self.clear_all_outputs()
        self.menu("Run", "Run All Cells")
        code_cells = [index for index in range(self.num_cells)
                      if "jp-CodeCell" in (self.cell(index).get_attribute("class") or "")]
        self.wait_for_kernel_idle(timeout, cells=code_cells)

    def run_through(self, last_cell: int, timeout: float) -> None:
        """Run every cell from the top down to ``last_cell`` included, as a learner would:
        select the cell, Run ▸ Run All Above Selected Cell, then Run ▸ Run Selected Cell."""
        code_cells = [index for index in range(last_cell + 1)
                      if "jp-CodeCell" in (self.cell(index).get_attribute("class") or "")]
        self.clear_all_outputs()
        self.select_cell(last_cell)
        self.menu("Run", "Run All Above Selected Cell")
        self.wait_for_kernel_idle(timeout, cells=code_cells[:-1])
        self.select_cell(last_cell)
        self.menu("Run", "Run Selected Cell")
        self.wait_for_kernel_idle(timeout, cells=code_cells)

    # -- reading outputs
    def error_outputs(self) -> list[str]:
        """Texts of the outputs that show an error: tracebacks and stderr mentioning an error."""
        texts = self.page.locator(
            f'{NOTEBOOK} .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts()
        return [text for text in texts if re.search(r"Traceback|Error|Exception", text)]

    def output_texts(self) -> list[str]:
        return self.page.locator(f"{NOTEBOOK} .jp-OutputArea-output").all_inner_texts()

    # -- widgets, as a learner sees and uses them
    def slider(self, cell_index: int, label: str):
        """The ipywidgets slider with description ``label`` in the output of cell ``cell_index``."""
        label_pattern = re.compile(rf"^\s*{re.escape(label)}\s*$")
        return self.cell(cell_index).locator(".widget-slider").filter(
            has=self.page.locator(".widget-label", has_text=label_pattern)).first

    def drawn_image(self, cell_index: int):
        """The picture inside the widget's Output area (a matplotlib PNG) in cell ``cell_index``."""
        return self.cell(cell_index).locator(".widget-output img").first

    def image_source(self, cell_index: int) -> str:
        image = self.drawn_image(cell_index)
        image.wait_for(state="visible")
        return image.get_attribute("src") or ""

    def wait_for_image_change(self, cell_index: int, old_source: str, what: str, timeout: float = 30.0) -> str:
        """Wait until the widget's picture differs from ``old_source`` below its title; return the new source.

        Only a change in the plot itself counts: a callback that ignores the new value
        but still prints it in the title would otherwise look like a redraw.
        """
        deadline = time.monotonic() + timeout
        source = None
        while time.monotonic() < deadline:
            image = self.drawn_image(cell_index)
            source = image.get_attribute("src") if image.count() else None
            if source and source != old_source and source.startswith("data:image/png;base64,"):
                if plot_area_differs(old_source, source):
                    return source
            self.page.wait_for_timeout(200)
        if source and source != old_source:
            raise AssertionError(f"{self.name}: after {what}, the widget redrew its picture but only the title "
                                 "changed: the plot itself ignores the new value")
        raise AssertionError(f"{self.name}: after {what}, the widget's picture did not change within {timeout:.0f} s "
                             "(the callback did not redraw, or ignored the new value)")

    def wait_for_image(self, cell_index: int, expected_source: str, what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.drawn_image(cell_index).get_attribute("src") == expected_source:
                return
            self.page.wait_for_timeout(200)
        raise AssertionError(f"{self.name}: after {what}, the widget did not draw the same picture as before "
                             "for the same settings")

    def type_slider_value(self, slider, value: str) -> None:
        """Click the slider's number (the readout), replace it by ``value`` and press Enter, as a learner types it."""
        readout = slider.locator(".widget-readout")
        readout.click()
        self.page.keyboard.press("Control+A")
        self.page.keyboard.type(value)
        self.page.keyboard.press("Enter")

    def drag_slider(self, slider, fraction: float) -> None:
        """Drag the slider's handle with the mouse by ``fraction`` of the track width (negative: to the left)."""
        slider.scroll_into_view_if_needed()
        handle = slider.locator(".noUi-handle").first
        track = slider.locator(".noUi-target").first
        handle_box, track_box = handle.bounding_box(), track.bounding_box()
        start_x = handle_box["x"] + handle_box["width"] / 2
        start_y = handle_box["y"] + handle_box["height"] / 2
        self.page.mouse.move(start_x, start_y)
        self.page.mouse.down()
        self.page.mouse.move(start_x + fraction * track_box["width"], start_y, steps=12)
        self.page.mouse.up()

    def readout(self, slider) -> str:
        return slider.locator(".widget-readout").inner_text().strip()

    def change_and_restore(self, cell_index: int, first_source: str, change, restore, what: str) -> str:
        """Call ``change()``, wait for a new picture, call ``restore()``, wait for the first picture again.

        Returns the changed picture: the widget must follow a change and must draw the same
        picture again for the same settings.
        """
        change()
        changed_source = self.wait_for_image_change(cell_index, first_source, what)
        restore()
        self.wait_for_image(cell_index, first_source, f"undoing {what}")
        return changed_source

    def drag_and_wait_for_change(self, cell_index: int, slider, fraction: float, old_source: str, what: str) -> str:
        """Drag ``slider`` by ``fraction`` of its track, check it moved, and wait for the picture to change; return it."""
        start = self.readout(slider)
        self.drag_slider(slider, fraction)
        assert self.readout(slider) != start, f"{what} did not move it"
        return self.wait_for_image_change(cell_index, old_source, what)


def _decode_png(source: str):
    import matplotlib.image
    return matplotlib.image.imread(io.BytesIO(base64.b64decode(source.split(",", 1)[1])), format="png")


def plot_area_differs(old_source: str, new_source: str, title_band: float = 0.15) -> bool:
    """Whether two PNG data URLs differ below the top ``title_band`` of the picture (where titles are drawn).

    Pictures of different sizes count as different (a tight bounding box changed with the content).
    """
    import numpy as np
    old, new = _decode_png(old_source), _decode_png(new_source)
    if old.shape != new.shape:
        return True
    top = int(round(old.shape[0] * title_band))
    return not np.array_equal(old[top:], new[top:])


def widget_cell_index(notebook_path: pathlib.Path, marker: str) -> int:
    """Index of the first code cell whose source contains ``marker`` (the call that builds the widget)."""
    cells = json.loads(notebook_path.read_text())["cells"]
    for index, cell in enumerate(cells):
        if cell["cell_type"] == "code" and marker in "".join(cell["source"]):
            return index
    raise LookupError(f"{notebook_path.name}: no code cell contains {marker!r}")


# --------------------------------------------------------------------------- one browser tab per test

class LabSession:
    """A running JupyterLab and a running Chromium; ``notebook()`` opens one notebook in a fresh browser context."""

    def __init__(self, server: JupyterLabServer, browser):
        self.server = server
        self.browser = browser

    @contextlib.contextmanager
    def notebook(self, name: str, test_name: str, *, open_timeout: float = 120.0):
        """Yield a ``NotebookPage`` for ``name``; on failure save artifacts (see ``artifacts_on_failure``)."""
        context = self.browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(60_000)
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda message: console.append(f"[{message.type}] {message.text}"))
        page.on("pageerror", lambda error: console.append(f"[pageerror] {error}"))
        try:
            with artifacts_on_failure(test_name, page, console, self.server):
                yield NotebookPage(page, self.server, name).open(open_timeout)
        finally:
            context.close()
            self.server.shutdown_kernels()
