"""The Filters tab's speed in a real browser (headless Chromium), on runs of 1,000 logged steps.

Four runs of a 7x7x3x64 kernel (ResNet-50's conv1) are written through FilterLogger's own path (LayerLog
and TensorBoardWriter: grid, health, stored kernel) as random walks of 1,000 steps; a real `tensorboard`
serves them and the browser opens the tab. It prints, with the goals:
  first grid      from clicking the Filters tab to the newest grid drawn, the plugin reading the event
                  files for the first time meanwhile                                        <= 1 s
  scrubbing       steps drawn per second, stepping through 300 steps one after another      >= 20
  memory          the page's JS heap and the grids it holds after 100 and after 1,000 steps  bounded
  re-normalizing  drawing a step in another normalize mode from its stored kernel, the kernel
                  fetched, and already in the page                                          <= 50 ms
  strip           one filter at all 1,000 steps, fetched and decoded                        <= 1 s
  side by side    steps per second with the 4 runs shown together                           >= 10

Run:  python benchmarks/dashboard.py   (needs chromium and chromium-driver, as the tests do)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1]))  # the tests' browser and TensorBoard helpers

from tests.helpers.browser import chromium, wait_until
from tests.helpers.tensorboard_server import tensorboard

from filterviz import RenderOptions
from filterviz.layer_log import LayerLog
from filterviz.renderer import Renderer
from filterviz.writers.tensorboard import TensorBoardWriter

STEPS = 1000
SHAPE = (7, 7, 3, 64)
RUNS = ("run1", "run2", "run3", "run4")


def write_run(run_dir: Path, seed: int, steps: int = STEPS) -> None:
    rng = np.random.default_rng(seed)
    renderer = Renderer(SHAPE, RenderOptions())
    log = LayerLog(renderer, "filters/conv1", "batch", path="conv1", store_kernel=True)
    writer = TensorBoardWriter(run_dir)
    kernel = rng.standard_normal(SHAPE).astype(np.float32) * 0.1
    for step in range(steps):
        before = kernel
        kernel = (kernel + 0.002 * rng.standard_normal(SHAPE)).astype(np.float32)
        logged, _ = log.logged(step, kernel, before if step else None)
        writer.write(logged)


def in_frame(driver, script: str):
    """Run `script` (the body of an async function) in the tab's frame and return what it returns."""
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        f"(async () => {{ {script} }})().then(done, (error) => done('error: ' + error));"
    )


def open_tab(driver, base: str) -> float:
    """Open TensorBoard, click the Filters tab, and return the seconds until the newest grid is drawn."""
    driver.get(f"{base}/#scalars")
    tab = wait_until(
        lambda: next(
            label
            for label in driver.find_elements("css selector", ".plugin-name")
            if label.get_attribute("textContent").strip() == "Filters"
        ),
        what="the Filters tab",
    )
    clicked = time.perf_counter()
    driver.execute_script("arguments[0].click()", tab)
    driver.switch_to.frame(wait_until(lambda: driver.find_element("css selector", "iframe"), timeout=30))
    while True:
        canvases = driver.find_elements("css selector", "canvas.grid[data-step]")
        if canvases and canvases[0].get_attribute("data-step") == str(STEPS - 1):
            return time.perf_counter() - clicked
        time.sleep(0.005)


SCRUB = (
    "const d = filtervizDashboard; const t0 = performance.now();"
    "for (let i = FROM; i < TO; i++) await d.show(i);"
    "return (performance.now() - t0) / 1000;"
)
MEMORY = "return [performance.memory.usedJSHeapSize, filtervizDashboard.grids.entries.size];"


def scrub(driver, start: int, stop: int) -> float:
    return in_frame(driver, SCRUB.replace("FROM", str(start)).replace("TO", str(stop)))


def renormalizing(driver) -> tuple[float, float]:
    """(ms to draw a step in another mode with its kernel fetched, ms with it already in the page)."""
    times = in_frame(
        driver,
        """
        const d = filtervizDashboard;
        d.normalizePicker.value = 'global';
        const fetched = [], cached = [];
        for (let i = 500; i < 520; i++) {
          let t0 = performance.now(); await d.show(i); fetched.push(performance.now() - t0);
          t0 = performance.now(); await d.show(i); cached.push(performance.now() - t0);
        }
        d.normalizePicker.value = 'logged';
        return [fetched, cached];
        """,
    )
    return statistics.median(times[0]), statistics.median(times[1])


def strip_seconds(driver) -> float:
    return in_frame(
        driver,
        """
        const api = await import(document.querySelector('link').href.replace('style.css', 'api.js'));
        const t0 = performance.now();
        const image = await api.image('strip', { run: 'run1/filters', tag: 'filters/conv1', filter: 7 });
        const seconds = (performance.now() - t0) / 1000;
        if (image.width < 1000) throw new Error('the strip has ' + image.width + ' columns');
        return seconds;
        """,
    )


def side_by_side(driver) -> float:
    for run in RUNS[1:]:
        driver.find_element("css selector", f"fieldset.compare input[value='{run}/filters']").click()
    wait_until(lambda: len(driver.find_elements("css selector", "canvas.grid")) == len(RUNS), what="4 views")
    in_frame(driver, "await filtervizDashboard.setViews();")
    return 100 / scrub(driver, 100, 200)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        for seed, run in enumerate(RUNS):
            write_run(Path(folder) / run / "filters", seed)
        print(f"wrote {len(RUNS)} runs of {STEPS} steps in {time.perf_counter() - started:.1f} s")
        with tensorboard(folder) as server, chromium(width=1600, height=1000) as driver:
            server.wait_for(
                "/data/plugins_listing", lambda answer: answer["filterviz"]["enabled"], timeout=300
            )
            first = open_tab(driver, server.base)
            driver.set_script_timeout(600)
            scrub(driver, 0, 100)
            heap_100, grids_100 = driver.execute_script(MEMORY)
            seconds = scrub(driver, 100, 400)
            scrub(driver, 400, STEPS)
            heap_1000, grids_1000 = driver.execute_script(MEMORY)
            fetched, cached = renormalizing(driver)
            strip = strip_seconds(driver)
            together = side_by_side(driver)
    print(f"first grid      {first:.2f} s after clicking the tab (goal <= 1 s)")
    print(f"scrubbing       {300 / seconds:.0f} steps/s over 300 steps (goal >= 20)")
    print(
        f"memory          JS heap {heap_100 / 1e6:.1f} MB holding {grids_100} grids after 100 steps, "
        f"{heap_1000 / 1e6:.1f} MB holding {grids_1000} after {STEPS}"
    )
    print(f"re-normalizing  {fetched:.1f} ms a step, kernel fetched; {cached:.1f} ms, kernel in page (<= 50)")
    print(f"strip           {strip:.2f} s for one filter at {STEPS} steps (goal <= 1 s)")
    print(f"side by side    {together:.0f} steps/s with {len(RUNS)} runs shown together (goal >= 10)")


if __name__ == "__main__":
    main()
