"""The page's modules without DOM, under node's own test runner (tests/dashboard/js/), and the browser's
geometry checked against Python's GridPlan on the same plans."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from filterviz.core.grid import plan_grid
from filterviz.dashboard.answers import THRESHOLDS
from filterviz.eventfile.format import plan_of

JS_TESTS = Path(__file__).parent / "js"
STATIC = Path(__file__).parents[2] / "src" / "filterviz" / "dashboard" / "static"
NODE = shutil.which("node") or shutil.which("nodejs")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed (Debian: apt-get install nodejs)")


@needs_node
def test_modules_without_dom_pass_their_node_tests():
    run = subprocess.run([NODE, "--test", str(JS_TESTS)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "# fail 0" in run.stdout
    passed = int(run.stdout.split("# pass ")[1].split()[0])
    assert passed >= 17, run.stdout[-2000:]  # every test file was found and ran


@needs_node
@pytest.mark.parametrize(
    "units, per_unit, tile, scale, padding",
    [(10, 1, (5, 5), 1, 1), (7, 3, (3, 4), 2, 2), (64, 1, (8, 8), 3, 0), (5, 1, (28, 28), None, 1)],
)
def test_browser_geometry_is_gridplans(units, per_unit, tile, scale, padding):
    plan = plan_grid(units, per_unit, tile, ncols=None, scale=scale, padding=padding, max_tiles=None)
    as_json = json.dumps(plan_of(plan))  # as /layer sends it
    script = f"""
        const g = await import({json.dumps((STATIC / "geometry.js").as_uri())});
        const plan = {as_json};
        const cells = [];
        for (let r = 0; r < plan.rows; r++) {{
          for (let c = 0; c < plan.cols; c++) cells.push(g.cellBox(plan, r, c));
        }}
        const units = [...Array(plan.units).keys()].map((u) => g.unitBox(plan, u));
        console.log(JSON.stringify({{ size: g.gridSize(plan), cells, units }}));
    """
    answer = subprocess.run(
        [NODE, "--input-type=module", "-e", script], capture_output=True, text=True, check=True
    )
    browser = json.loads(answer.stdout)
    assert browser["size"] == {"width": plan.width, "height": plan.height}
    boxes = [plan.cell_box(r, c) for r in range(plan.rows) for c in range(plan.cols)]
    assert [(b["y"], b["x"], b["height"], b["width"]) for b in browser["cells"]] == boxes
    assert [(b["y"], b["x"], b["height"], b["width"]) for b in browser["units"]] == [
        plan.unit_box(u) for u in range(plan.units)
    ]


def test_the_thresholds_the_page_states_are_the_ones_python_uses():
    from filterviz.core import health
    from filterviz.eventfile.format import KERNEL_STORE_LIMIT

    assert THRESHOLDS["dead_fraction"] == health.DEAD_FRACTION
    assert THRESHOLDS["collapse_fraction"] == health.COLLAPSE_FRACTION
    assert THRESHOLDS["duplicate_cosine"] == health.DUPLICATE_COSINE
    assert THRESHOLDS["update_ratio_band"] == list(health.UPDATE_RATIO_BAND)
    assert THRESHOLDS["heavy"] == list(health.HEAVY)
    assert THRESHOLDS["kernel_store_limit"] == KERNEL_STORE_LIMIT
    for module in STATIC.glob("*.js"):  # no JavaScript repeats them
        text = module.read_text()
        for number in ("1 MiB", "0.9", "1e-4", "1e-2", "1e-1", "0.1", "1% of", "10% of"):
            found = re.search(rf"(?<![\d.]){re.escape(number)}(?!\d)", text)  # 0.1, not 0.18
            assert not found, f"{module.name} repeats {number}; take it from the layer's thresholds"


def test_a_link_python_makes_opens_the_view_the_page_reads_from_it():
    from filterviz.dashboard.links import view_link

    address = view_link(
        "http://localhost:6006", "templates/filters", "filters/templates", ["lr & co/filters"], step=15
    )
    assert address.startswith("http://localhost:6006/?") and address.endswith("#filterviz")
    search = address.split("?", 1)[1].split("#")[0]
    script = f"""
        import {{ readState }} from {json.dumps((STATIC / "state.js").as_uri())};
        console.log(JSON.stringify(readState({json.dumps("?" + search)})));
    """
    answer = subprocess.run(
        [NODE, "--input-type=module", "-e", script], capture_output=True, text=True, check=True
    )
    state = json.loads(answer.stdout)
    assert (state["run"], state["layer"], state["compare"], state["step"]) == (
        "templates/filters",
        "filters/templates",
        ["lr & co/filters"],
        15,
    )
