"""The drawing page (GET / of course_utils/serve.py) in a real browser: headless Chromium driven by Playwright.

A seeded served CNN is trained here (one epoch on the bundled 7,200 training digits, a few seconds) and
served on a free 127.0.0.1 port. The test opens the page, draws with the mouse, and checks what a learner
sees: a vertical bar reads as 1 and a closed loop as 0, the 28×28 image the model received is centred
(its ink's centre of mass within 2 pixels of the middle), Clear and the Escape key empty the drawing and the
answer, every answer carries the Content-Security-Policy, the page breaks none of it, and every request the
page makes goes to the service's own origin. Screenshots are saved under test-artifacts/draw-page/;
docs/draw_a_digit.png (shown in the README) is a copy of ``after-drawing-0.png``.

Needs Chromium and Playwright like tests/test_ui.py (skipped without them, except under CI, where it fails).
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
import re

import pytest

import ui_support
from course_utils import data, deployment, device, models, serve

pytestmark = pytest.mark.ui
ROOT = pathlib.Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "draw-page"
SCREENSHOT = ROOT / "docs" / "draw_a_digit.png"

# Reports how many pixels of a canvas hold ink, and the ink's centre of mass (row, column): alpha for the
# transparent drawing pad, darkness (255 - red) for the preview, which is drawn dark on white.
CANVAS_INK = """([selector, measure]) => {
    const canvas = document.querySelector(selector);
    const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let count = 0, mass = 0, rows = 0, columns = 0;
    for (let index = 0; index < pixels.length; index += 4) {
        const ink = measure === "alpha" ? pixels[index + 3] : (pixels[index + 3] ? 255 - pixels[index] : 0);
        if (ink > 0) count += 1;
        const position = index / 4;
        mass += ink; rows += ink * Math.floor(position / canvas.width); columns += ink * (position % canvas.width);
    }
    return { count, row: mass ? rows / mass : null, column: mass ? columns / mass : null };
}"""

RECORD_VIOLATIONS = """window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => window.__violations.push(
    `${event.violatedDirective} blocked ${event.blockedURI}`));"""


@pytest.fixture(scope="module")
def page_service(tmp_path_factory):
    device.seed_everything(0)
    splits = data.load_mnist()
    model, _ = models.trained(deployment.build_served_cnn, data.to_tensors(splits.train_images, splits.train_labels),
                              dataclasses.replace(deployment.SERVED_RECIPE, num_epochs=1))
    server = serve.make_server(model)
    thread = serve.start_in_background(server)
    yield server
    serve.stop(server, thread)


@pytest.fixture(scope="module")
def browser():
    ui_support.skip_or_fail_without_a_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = ui_support.launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


class DrawingPage:
    """The page open in a fresh browser tab, with the requests, console messages and CSP violations recorded."""

    def __init__(self, browser, server):
        self.origin = serve.url(server)
        self.context = browser.new_context(viewport={"width": 900, "height": 560})
        self.context.set_default_timeout(20_000)
        self.page = self.context.new_page()
        self.requests, self.console = [], []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("console", lambda message: self.console.append(f"[{message.type}] {message.text}"))
        self.page.on("pageerror", lambda error: self.console.append(f"[pageerror] {error}"))
        self.page.add_init_script(RECORD_VIOLATIONS)
        self.response = self.page.goto(self.origin + "/", wait_until="load")
        self.page.locator("#bars li").nth(9).wait_for(state="attached")

    def stroke(self, points) -> None:
        """Drag the mouse through ``points`` (fractions of the pad's width and height), button held."""
        box = self.page.locator("#pad").bounding_box()
        to_screen = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in points]
        self.page.mouse.move(*to_screen[0])
        self.page.mouse.down()
        for point in to_screen[1:]:
            self.page.mouse.move(*point, steps=2)
        self.page.mouse.up()

    def read_digit(self) -> str:
        """The digit shown once the service has answered (the status line says so)."""
        from playwright.sync_api import expect

        expect(self.page.locator("#status")).to_have_text(re.compile(r"^Read as \d"), timeout=20_000)
        return self.page.locator("#digit").inner_text().strip()

    def ink(self, selector: str, measure: str) -> dict:
        return self.page.evaluate(CANVAS_INK, [selector, measure])

    def bar_widths(self) -> list[float]:
        """The ten bars as drawn on the screen: each filled part's width in % of its track."""
        return self.page.locator("#bars .fill").evaluate_all(
            "fills => fills.map(f => 100 * f.getBoundingClientRect().width / f.parentElement.getBoundingClientRect().width)")

    def save(self, name: str) -> pathlib.Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path))
        return path

    def problems(self) -> list[str]:
        violations = self.page.evaluate("window.__violations")
        errors = [line for line in self.console if line.startswith(("[error]", "[pageerror]"))]
        elsewhere = [url for url in self.requests if not url.startswith(self.origin + "/")]
        return [f"CSP: {v}" for v in violations] + errors + [f"request outside the origin: {u}" for u in elsewhere]


@pytest.fixture()
def drawing_page(browser, page_service, request):
    page = DrawingPage(browser, page_service)
    try:
        yield page
    finally:
        page.save(f"end-of-{ui_support._safe_name(request.node.name)}.png")   # what the page showed last, pass or fail
        page.context.close()


VERTICAL_BAR = [(0.5, 0.15 + 0.7 * step / 20) for step in range(21)]
CLOSED_LOOP = [(0.5 + 0.24 * math.sin(2 * math.pi * step / 48), 0.5 - 0.34 * math.cos(2 * math.pi * step / 48))
               for step in range(49)]


def test_the_page_loads_under_its_security_policy(drawing_page):
    headers = drawing_page.response.headers
    assert drawing_page.response.status == 200
    assert headers["content-security-policy"] == serve.SECURITY_HEADERS["Content-Security-Policy"]
    assert headers["content-type"].startswith("text/html")
    assert drawing_page.page.locator("#bars li").count() == 10
    assert drawing_page.page.locator("#digit").inner_text().strip() == ""
    for path in ("/draw.js", "/draw.css"):
        assert any(url == drawing_page.origin + path for url in drawing_page.requests), f"{path} was not loaded"
    assert drawing_page.problems() == []


def test_a_bar_reads_as_one_and_a_loop_as_zero_with_a_centred_input(drawing_page):
    page = drawing_page
    for name, points, expected in (("bar", VERTICAL_BAR, "1"), ("loop", CLOSED_LOOP, "0")):
        page.page.locator("#clear").click()
        page.stroke(points)
        digit = page.read_digit()
        shown = page.ink("#preview", "darkness")
        page.save(f"after-drawing-{expected}.png")
        assert digit == expected, f"the {name} was read as {digit!r}, not {expected}"
        assert shown["count"] > 20, f"the preview of the {name} is (nearly) empty"
        assert abs(shown["row"] - serve.MNIST_CENTRE) <= 2 and abs(shown["column"] - serve.MNIST_CENTRE) <= 2, (
            f"the {name}'s preview is not centred: centre of mass at {shown}")
        widths = page.bar_widths()
        assert widths.index(max(widths)) == int(expected) and abs(sum(widths) - 100) < 2, widths
    posted = [url for url in page.requests if url.endswith("/predict")]
    assert len(posted) == 2, page.requests
    assert page.problems() == []


@pytest.mark.parametrize("how", ["button", "Escape key"])
def test_clear_empties_the_drawing_and_the_answer(drawing_page, how):
    page = drawing_page
    page.stroke(VERTICAL_BAR)
    assert page.read_digit() != ""
    assert page.ink("#pad", "alpha")["count"] > 0 and page.ink("#preview", "darkness")["count"] > 0
    if how == "button":
        page.page.locator("#clear").click()
    else:
        page.page.keyboard.press("Escape")
    assert page.ink("#pad", "alpha")["count"] == 0
    assert page.ink("#preview", "darkness")["count"] == 0
    assert page.page.locator("#digit").inner_text().strip() == ""
    assert page.bar_widths() == [0] * 10
    assert page.problems() == []


def test_a_tap_outside_any_digit_still_gets_an_answer_and_no_error_on_the_page(drawing_page):
    page = drawing_page
    page.stroke([(0.1, 0.1)])                      # one tap: a dot, which the service scales up like any drawing
    assert page.read_digit() in list("0123456789")
    assert page.problems() == []


def test_the_committed_screenshot_is_small():
    assert SCREENSHOT.is_file(), f"{SCREENSHOT} is missing: copy {ARTIFACTS / 'after-drawing-0.png'} there"
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert SCREENSHOT.stat().st_size < 100_000, f"{SCREENSHOT} is {SCREENSHOT.stat().st_size:,} bytes"
