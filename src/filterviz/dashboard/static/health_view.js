// The layer's health beside the grid: its reading and its values at the step shown, and its curves over
// the run: one line per run shown (side by side: every run's, in its own colour, with a legend), on axes
// whose range means something for each value (scales.js), a marker at that step, the values at the step
// under the mouse; a click on a curve goes to the nearest logged step.

import { COLOURS, LineChart } from "./charts.js";
import { element } from "./dom.js";
import { axisFor } from "./scales.js";
import { healthLines, readingAt } from "./words.js";

// [name, title]
const CURVES = [
  ["update_ratio", "update ratio (log)"],
  ["update_mean", "mean update since the step before (log)"],
  ["drift", "drift from the first step"],
  ["dead", "dead filters"],
  ["noise", "noise (1 = as rough as random)"],
  ["redundancy", "near-duplicates beyond chance"],
  ["opposites", "opposite pairs beyond chance"],
];

// A chart's options for one value: its title, its axis and how its values are written.
export function chartOptions(name, title, thresholds, extra = {}) {
  return { name, title, axis: axisFor(name, thresholds), ...extra };
}

export class HealthView {
  // onStep(step): a curve was clicked at `step`.
  constructor(doc, onStep) {
    this.doc = doc;
    this.onStep = onStep;
    this.reading = element(doc, "p", { class: "reading", role: "status", "aria-label": "Reading at this step" });
    this.list = element(doc, "dl", { class: "health", "aria-label": "Health at this step" });
    this.legend = element(doc, "p", { class: "runs-legend", hidden: "" });
    this.charts = element(doc, "div", { class: "charts" });
    this.curves = element(doc, "div", { class: "curves", "aria-label": "Health over the run" }, this.legend, this.charts);
    this.lines = [];
  }

  clear() {
    this.reading.textContent = "";
    this.reading.dataset.level = "";
    this.list.replaceChildren();
    this.charts.replaceChildren();
    this.legend.replaceChildren();
    this.legend.hidden = true;
    this.lines = [];
  }

  // `views`: the runs shown, the main one first (each its layer and its health by step); `steps`: the shared
  // steps. Every chart holds a line per run that logged that value.
  build(views, steps) {
    const main = views[0].layer;
    const unmeasured = main.info.unmeasured || {};
    this.legend.hidden = views.length < 2;
    this.legend.replaceChildren(
      ...views.flatMap((view, i) => [element(this.doc, "span", { class: "swatch line", style: `border-color: ${COLOURS[i % COLOURS.length]}` }), `${view.layer.run} `]),
    );
    this.lines = CURVES.map(([name, title]) => {
      const canvas = element(this.doc, "canvas", { class: "curve", tabindex: "0", role: "img", "aria-label": `${title} over the run; click to go to a step`, "data-name": name });
      const why = unmeasured[name];
      canvas.title = why ? `Not logged for this layer: ${why}.` : "";
      const empty = why ? "not logged for this layer (hover for why)" : "not computed yet";
      const series = views.map((view, i) => ({ label: view.layer.run, colour: COLOURS[i % COLOURS.length], points: view.layer.health[name] || [] }));
      const chart = new LineChart(canvas, series, chartOptions(name, title, main.thresholds, { empty }));
      canvas.addEventListener("click", (event) => {
        const step = chart.stepAt(event.clientX, steps);
        if (step !== null) this.onStep(step);
      });
      return chart;
    });
    this.charts.replaceChildren(...this.lines.map((chart) => chart.canvas));
  }

  show(view, step, stepRange) {
    const reading = readingAt(view.layer, step);
    this.reading.textContent = reading ? reading.words : "";
    this.reading.dataset.level = reading ? reading.level : "";
    this.reading.dataset.value = reading ? reading.value : "";
    const items = healthLines(view.layer, view.health, step).flatMap(({ name, text, why }) => [
      element(this.doc, "dt", {}, name.replace("_", " ")),
      element(this.doc, "dd", why ? { title: why } : {}, text),
    ]);
    this.list.replaceChildren(...items);
    for (const chart of this.lines) chart.draw(step, stepRange);
  }
}
