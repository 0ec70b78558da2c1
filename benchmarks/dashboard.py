"""The Filters tab's speed in a real browser (headless Chromium), on a run of 1,000 logged steps.

A run of a 7x7x3x64 kernel (ResNet-50's conv1) is written through FilterLogger's own path (LayerLog and
TensorBoardWriter: grid, health, stored kernel) as a random walk of 1,000 steps; then a real `tensorboard`
serves it and the browser opens the tab. It prints:
  first grid      seconds from clicking the Filters tab to the newest grid drawn, the plugin reading the
                  run's event files for the first time meanwhile; goal <= 1 s
  scrubbing       steps drawn per second when stepping through 300 steps one after another; goal >= 20
  memory          the page's JS heap and the grids it holds, after 100 and after 1,000 steps: bounded

Run:  python benchmarks/dashboard.py   (needs chromium and chromium-driver, as the tests do)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1]))  # the tests' browser and TensorBoard helpers

from tests.browser import chromium, wait_until
from tests.tensorboard_server import tensorboard

from filterviz import RenderOptions
from filterviz.layer_log import LayerLog
from filterviz.renderer import Renderer
from filterviz.writers.tensorboard import TensorBoardWriter

STEPS = 1000
SHAPE = (7, 7, 3, 64)


def write_run(run_dir: Path, steps: int = STEPS) -> None:
    rng = np.random.default_rng(0)
    log = LayerLog(
        Renderer(SHAPE, RenderOptions()), "filters/conv1", "batch", path="conv1", store_kernel=True
    )
    writer = TensorBoardWriter(run_dir)
    kernel = rng.standard_normal(SHAPE).astype(np.float32) * 0.1
    for step in range(steps):
        before = kernel
        kernel = (kernel + 0.002 * rng.standard_normal(SHAPE)).astype(np.float32)
        logged, _ = log.logged(step, kernel, before if step else None)
        writer.write(logged)


def in_frame(driver, script: str):
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        f"(async () => {{ {script} }})().then(done, (error) => done('error: ' + error));"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        write_run(Path(folder) / "long" / "filters")
        print(f"wrote {STEPS} steps in {time.perf_counter() - started:.1f} s")
        with tensorboard(folder) as server, chromium() as driver:
            server.wait_for(
                "/data/plugins_listing", lambda answer: answer["filterviz"]["enabled"], timeout=300
            )
            driver.get(f"{server.base}/#scalars")
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
            frame = wait_until(lambda: driver.find_element("css selector", "iframe"), timeout=30)
            driver.switch_to.frame(frame)
            while True:
                canvases = driver.find_elements("css selector", "canvas.grid[data-step]")
                if canvases and canvases[0].get_attribute("data-step") == str(STEPS - 1):
                    break
                time.sleep(0.005)
            first = time.perf_counter() - clicked
            driver.set_script_timeout(600)
            memory = (
                "return [performance.memory.usedJSHeapSize, window.filtervizDashboard.grids.entries.size];"
            )
            scrub = (
                "const d = window.filtervizDashboard; const t0 = performance.now();"
                "for (let i = FROM; i < TO; i++) await d.show(i);"
                "return (performance.now() - t0) / 1000;"
            )
            in_frame(driver, scrub.replace("FROM", "0").replace("TO", "100"))
            heap_100, grids_100 = driver.execute_script(memory)
            seconds = in_frame(driver, scrub.replace("FROM", "100").replace("TO", "400"))
            in_frame(driver, scrub.replace("FROM", "400").replace("TO", str(STEPS)))
            heap_1000, grids_1000 = driver.execute_script(memory)
    print(f"first grid   {first:.2f} s after clicking the tab (goal <= 1 s)")
    print(f"scrubbing    {300 / seconds:.0f} steps/s over 300 steps (goal >= 20)")
    print(
        f"memory       JS heap {heap_100 / 1e6:.1f} MB holding {grids_100} grids after 100 steps, "
        f"{heap_1000 / 1e6:.1f} MB holding {grids_1000} after {STEPS}"
    )


if __name__ == "__main__":
    main()
