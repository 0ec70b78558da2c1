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

Then a large log directory: 20 runs of 2,000 steps each, beside a log directory of 1 run of those steps,
each served by its own TensorBoard, measured interleaved:
  /runs, /grid    the median time of each over HTTP at 20 runs, and its ratio to 1 run       /grid <= 1.5x
  RSS             TensorBoard's resident memory when it starts and after all of the above
  playback        4 of the 20 runs side by side, played at 30 steps/s: the share of the steps played
                  that were drawn, and the steps per second reached                          >= 90%

Run:  python benchmarks/dashboard.py   (needs chromium and chromium-driver, as the tests do)
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1]))  # the tests' browser and TensorBoard helpers

from filterviz import RenderOptions
from filterviz.core.renderer import Renderer
from filterviz.eventfile.writer import TensorBoardWriter
from filterviz.pipeline.steps import LayerLog
from tests.helpers.browser import chromium, wait_until
from tests.helpers.tensorboard_server import tensorboard

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
MEMORY = "return [performance.memory.usedJSHeapSize, filtervizDashboard.pictures.grids.entries.size];"


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


LARGE_RUNS, LARGE_STEPS = 20, 2000


def rss_mb(server) -> float:
    """TensorBoard's resident memory, with its children (the data server of the fast loader)."""
    pids = [server.process.pid]
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    if children.exists():
        pids += [int(pid) for pid in children.read_text().split()]
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total / 1e6


def median_request_ms(server, path: str, repeats: int, **query) -> float:
    times = []
    for i in range(repeats):
        extra = {key: (value(i) if callable(value) else value) for key, value in query.items()}
        url = f"{server.base}{path}?" + "&".join(f"{key}={value}" for key, value in extra.items())
        started = time.perf_counter()
        with urllib.request.urlopen(url) as answer:
            answer.read()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e3


PLAY = """
const d = filtervizDashboard;
const canvas = document.querySelector('canvas.grid');
const drawn = new Set();
const observer = new MutationObserver(() => drawn.add(canvas.dataset.step));
observer.observe(canvas, { attributes: true, attributeFilter: ['data-step'] });
d.playback.speed.value = '30';
await d.show(0);
const first = d.index, t0 = performance.now();
d.playback.play();
await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
d.playback.stop();
const seconds = (performance.now() - t0) / 1000;
observer.disconnect();
const played = d.steps.slice(first + 1, d.index + 1).map(String);
return [played.filter((step) => drawn.has(step)).length, played.length, seconds];
"""


def large_log_directory(folder: Path) -> None:
    """1 run and 20 runs of 2,000 steps: /runs and /grid at each, RSS, and playback of 4 side by side."""
    one, twenty = folder / "one", folder / "twenty"
    started = time.perf_counter()
    write_run(one / "run00" / "filters", 0, LARGE_STEPS)
    for k in range(LARGE_RUNS):  # the same steps in every run: what is measured is their number
        shutil.copytree(one / "run00", twenty / f"run{k:02d}")
    print(f"\nwrote {LARGE_RUNS} runs of {LARGE_STEPS} steps in {time.perf_counter() - started:.1f} s")
    step = lambda i: (i * 37) % LARGE_STEPS  # noqa: E731 (steps spread over the run)
    with tensorboard(one) as small, tensorboard(twenty) as large:
        for server in (small, large):
            server.wait_for(
                "/data/plugins_listing", lambda answer: answer["filterviz"]["enabled"], timeout=300
            )
        rss_start = rss_mb(large)
        for server in (small, large):  # the first /runs reads the files: not what is compared
            server.get("/data/plugin/filterviz/runs")
        grid = {"run": "run00/filters", "tag": "filters/conv1", "step": step}
        rows = {"one": [], "twenty": [], "one again": []}
        for _ in range(3):  # interleaved; the second 1-run row is the noise floor
            for name, server in (("one", small), ("twenty", large), ("one again", small)):
                rows[name].append(
                    (
                        median_request_ms(server, "/data/plugin/filterviz/runs", 20),
                        median_request_ms(server, "/data/plugin/filterviz/grid", 50, **grid),
                    )
                )
        runs_ms = {name: statistics.median(r for r, _ in values) for name, values in rows.items()}
        grid_ms = {name: statistics.median(g for _, g in values) for name, values in rows.items()}
        with chromium(width=1600, height=1000) as driver:
            driver.get(f"{large.base}/#filterviz")
            driver.switch_to.frame(
                wait_until(lambda: driver.find_element("css selector", "iframe"), timeout=60)
            )
            wait_until(lambda: driver.find_elements("css selector", "canvas.grid[data-step]"), timeout=120)
            for k in range(1, 4):
                driver.find_element(
                    "css selector", f"fieldset.compare input[value='run{k:02d}/filters']"
                ).click()
            wait_until(lambda: len(driver.find_elements("css selector", "canvas.grid")) == 4, what="4 views")
            driver.set_script_timeout(120)
            drawn, played, seconds = in_frame(driver, PLAY.replace("SECONDS", "20"))
        rss_end = rss_mb(large)
    for name in ("twenty", "one again"):
        print(
            f"/runs {name:>9}: {runs_ms[name]:7.2f} ms = {runs_ms[name] / runs_ms['one']:.2f}x 1 run;   "
            f"/grid: {grid_ms[name]:6.2f} ms = {grid_ms[name] / grid_ms['one']:.2f}x 1 run (goal <= 1.5)"
        )
    print(f"/runs, /grid at 1 run: {runs_ms['one']:.2f} ms, {grid_ms['one']:.2f} ms (medians)")
    print(
        f"RSS             TensorBoard with 20 runs: {rss_start:.0f} MB when started, {rss_end:.0f} MB after"
    )
    print(
        f"playback        4 runs side by side at 30 steps/s for {seconds:.0f} s: {drawn} of {played} steps "
        f"drawn ({100 * drawn / max(played, 1):.0f}%, goal >= 90%), {played / seconds:.1f} steps/s reached"
    )


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
    with tempfile.TemporaryDirectory() as folder:
        large_log_directory(Path(folder))


if __name__ == "__main__":
    main()
