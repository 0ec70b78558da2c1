// One filter's life, in a panel beside the grid: the filter large at the step shown, its cells at every
// logged step (a strip the server cuts from the grids as logged), and its numbers over the run. Arrow keys
// go to the filter before or after; Esc closes it.

import * as api from "./api.js";
import { cutOut } from "./arrange.js";
import { COLOURS, LineChart } from "./charts.js";
import { element } from "./dom.js";
import { drawZoomed, toCanvas } from "./draw.js";
import { chartOptions } from "./health_view.js";

const LARGE = 192; // pixels of the large filter's longer side, at an integer zoom
const SPARKLINES = [
  ["norm", "norm"],
  ["update_ratio", "update ratio (log)"],
  ["noise", "noise"],
];

export class FilterPanel {
  constructor(doc) {
    this.doc = doc;
    this.unit = null; // the filter shown, or null when closed
    this.lives = new api.Cache(8, (life) => life.strip.close());
    this.root = element(doc, "aside", { class: "filter-panel", hidden: "", tabindex: "0", "aria-label": "One filter's life" });
    this.root.addEventListener("keydown", (event) => this.onKey(event));
  }

  close() {
    this.unit = null;
    this.root.hidden = true;
  }

  // Show filter `unit` of `view` (the main run's), at the picture it shows now.
  open(view, unit, stepRange, focus = false) {
    this.unit = unit;
    this.view = view;
    this.stepRange = stepRange;
    this.show(focus);
  }

  async show(focus = false) {
    const { view, unit } = this;
    const { plan } = view.layer.info;
    const picture = view.picture;
    this.root.hidden = false;
    const title = element(this.doc, "h2", {}, `Filter ${unit} of ${plan.units}`);
    const close = element(this.doc, "button", { type: "button", "aria-label": "Close the filter panel" }, "×");
    close.addEventListener("click", () => this.close());
    const large = element(this.doc, "canvas", { class: "filter-large", "data-filter": String(unit), "aria-label": `Filter ${unit}, large` });
    if (picture?.image) {
      const position = picture.ordering ? picture.ordering.indexOf(unit) : unit;
      const cells = cutOut(picture.image, plan, position);
      drawZoomed(large, toCanvas(cells), Math.max(1, Math.floor(LARGE / Math.max(cells.width, cells.height))));
      large.dataset.step = String(picture.step);
    }
    const strip = element(this.doc, "canvas", { class: "strip", "aria-label": `Filter ${unit} at every logged step, newest last` });
    const sparks = element(this.doc, "div", { class: "sparklines" });
    const hint = element(this.doc, "p", { class: "hint" }, "← → or ↑ ↓: the filter before or after; Esc: close. The strip shows the grid as logged.");
    this.root.replaceChildren(element(this.doc, "div", { class: "panel-head" }, title, close), large, element(this.doc, "div", { class: "strip-box" }, strip), sparks, hint);
    if (focus) this.root.focus();
    let life;
    try {
      life = await this.life(view, unit);
    } catch {
      return; // the failure is in the tab's message already
    }
    if (this.unit !== unit) return;
    drawZoomed(strip, life.strip, 2);
    Object.assign(strip.dataset, { run: view.layer.run, tag: view.layer.tag, filter: String(unit), zoom: "2", steps: String(life.stripSteps.length) });
    strip.title = life.unreadable.length ? `Left empty: the grids of steps ${life.unreadable.join(", ")} could not be read.` : "";
    for (const [name, title] of SPARKLINES) {
      const canvas = element(this.doc, "canvas", { class: "sparkline", role: "img", "aria-label": `Filter ${unit}'s ${title} over the run` });
      const line = [{ label: `filter ${unit}`, colour: COLOURS[0], points: life.series[name] || [] }];
      const options = chartOptions(name, title, view.layer.thresholds, { width: 180, height: 80 });
      new LineChart(canvas, line, options).draw(picture?.step ?? null, this.stepRange());
      sparks.append(canvas);
    }
  }

  // One filter's strip and series over the run: fetched once per filter and number of steps, not at
  // every step shown while the panel is open.
  life(view, unit) {
    const key = `${view.key}\u0000${unit}\u0000${view.layer.steps.length}`;
    return this.lives.get(key, async () => {
      const [{ bitmap, headers }, series] = await Promise.all([
        api.imageAndHeaders("strip", view.params({ filter: unit })),
        api.json("filter_series", view.params({ filter: unit })),
      ]);
      const steps = (name) => (headers.get(name) || "").split(",").filter(Boolean).map(Number);
      return { strip: bitmap, stripSteps: steps("X-Filterviz-Steps"), unreadable: steps("X-Filterviz-Unreadable"), series };
    });
  }

  onKey(event) {
    const units = this.view?.layer.info.plan.units;
    if (this.unit === null || !units) return;
    if (event.key === "Escape") {
      this.close();
    } else if (event.key === "ArrowRight" || event.key === "ArrowDown") {
      this.unit = (this.unit + 1) % units;
      this.show(true);
    } else if (event.key === "ArrowLeft" || event.key === "ArrowUp") {
      this.unit = (this.unit - 1 + units) % units;
      this.show(true);
    } else {
      return;
    }
    event.preventDefault();
  }
}
