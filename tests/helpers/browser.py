"""A real headless Chromium for the tests of the Filters tab, driven by Selenium.

Debian's `chromium` and `chromium-driver` packages work here (CI installs them with apt-get). Without them a
local test run skips these tests, and its summary says so in one line with the command that installs them
(`SKIPPED [N] ... apt-get install chromium chromium-driver`); CI's strict skips turn that into a failure.
The browser starts with no network beyond 127.0.0.1: its background services would only fail.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

NO_BROWSER = (
    "no headless browser here, so the Filters tab's browser tests did not run: "
    "sudo apt-get install chromium chromium-driver (CI installs them)"
)
SCREENSHOTS = os.environ.get("FILTERVIZ_SCREENSHOTS")  # a folder: tests save the README's screenshots there


@contextlib.contextmanager
def chromium(width: int = 1280, height: int = 900):
    """A headless Chromium, or a skip when there is none."""
    binary, driver_path = (
        shutil.which("chromium") or shutil.which("chromium-browser"),
        shutil.which("chromedriver"),
    )
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        binary = None
    if binary is None or driver_path is None:  # one place, so that the run's summary says it in one line
        pytest.skip(NO_BROWSER)
    options = webdriver.ChromeOptions()
    profile = tempfile.mkdtemp(prefix="filterviz-chromium-")
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--force-device-scale-factor=1",
        f"--window-size={width},{height}",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    options.binary_location = binary
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_until(condition, timeout: float = 60.0, what: str = "the page"):
    """Poll `condition()` until it returns something true (what the browser shows arrives asynchronously)."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as error:  # the element is not there yet, the frame is reloading, ...
            last_error = error
        time.sleep(0.1)
    raise TimeoutError(f"{what} never got there ({last_error!r})")


def open_filters_tab(driver, base: str):
    """TensorBoard's Filters tab, with Selenium switched into the plugin's frame."""
    driver.get(f"{base}/#filterviz")
    frame = wait_until(lambda: driver.find_element("css selector", "iframe"), what="the Filters tab's frame")
    driver.switch_to.frame(frame)
    wait_until(
        lambda: driver.find_element("css selector", "canvas.grid").get_attribute("data-step"), what="a grid"
    )
    return driver


def choose(driver, label: str, value: str) -> None:
    """Pick `value` in the select labelled `label`."""
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("css selector", f"[aria-label='{label}']")).select_by_value(value)


def go_to(driver, index: int) -> None:
    """Move the step slider to the `index`-th logged step."""
    driver.execute_script(
        "const slider = document.querySelector('input[aria-label=Step]');"
        "slider.value = arguments[0]; slider.dispatchEvent(new Event('input'));",
        index,
    )


def canvas_pixels(driver, selector: str = "canvas.grid") -> np.ndarray:
    """The canvas's pixels, read back through toDataURL, as uint8 RGB."""
    url = driver.execute_script(f"return document.querySelector({selector!r}).toDataURL('image/png')")
    data = base64.b64decode(url.split(",", 1)[1])
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def unzoomed(pixels: np.ndarray, zoom: int) -> np.ndarray:
    """One pixel of each zoom x zoom block, after checking that every block is one colour."""
    height, width = pixels.shape[0] // zoom, pixels.shape[1] // zoom
    blocks = pixels[: height * zoom, : width * zoom].reshape(height, zoom, width, zoom, 3)
    assert (blocks == blocks[:, :1, :, :1]).all(), "a zoomed pixel is not one colour: the grid was smoothed"
    return blocks[:, 0, :, 0]


def screenshot(driver, name: str) -> Path | None:
    """Save the page for the README, when FILTERVIZ_SCREENSHOTS names a folder."""
    if not SCREENSHOTS:
        return None
    path = Path(SCREENSHOTS) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    return path
