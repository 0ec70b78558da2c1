// The layer's health beside the grid: its values at the step shown, and its curves over the run with a
// marker at that step (a click on a curve goes to the nearest logged step).

import { LineChart } from "./charts.js";
import { element } from "./dom.js";
import { healthLines, readingAt } from "./words.js";

// [name, title, chart options]; the update ratio's healthy band comes from the server's thresholds.
const CURVES = [
  ["update_ratio", "update ratio (log)", { log: true }],
  ["update_mean", "mean update since the step before (log)", { log: true }],
  ["dead", "dead filters", { share: true }],
  ["noise", "noise (1 = as rough as random)", {}],
  ["redundancy", "near-duplicates beyond chance", { share: true }],
  ["opposites", "opposite pairs beyond chance", { share: true }],
];

// A chart's options: the update ratio's curves show the healthy band the server states.
export function chartOptions(name, options, thresholds) {
  return name.startsWith("update_") ? { ...options, band: thresholds.update_ratio_band } : options;
}

export class HealthView {
  // onStep(step): a curve was clicked at `step`.
  constructor(doc, onStep) {
    this.doc = doc;
    this.onStep = onStep;
    this.reading = element(doc, "p", { class: "reading", role: "status", "aria-label": "Reading at this step" });
    this.list = element(doc, "dl", { class: "health", "aria-label": "Health at this step" });
    this.curves = element(doc, "div", { class: "curves", "aria-label": "Health over the run" });
    this.charts = [];
  }

  clear() {
    this.reading.textContent = "";
    this.reading.dataset.level = "";
    this.list.replaceChildren();
    this.curves.replaceChildren();
    this.charts = [];
  }

  // `view`: the main run's view (its layer and its health by step); `steps`: the shared steps.
  build(view, steps) {
    const { layer } = view;
    const unmeasured = layer.info.unmeasured || {};
    this.charts = CURVES.map(([name, title, options]) => {
      const canvas = element(this.doc, "canvas", { class: "curve", tabindex: "0", role: "img", "aria-label": `${title} over the run; click to go to a step` });
      const why = unmeasured[name];
      canvas.title = why ? `Not logged for this layer: ${why}.` : "";
      const empty = why ? "not logged for this layer (hover for why)" : "not computed yet";
      const chart = new LineChart(canvas, layer.health[name] || [], { title, empty, ...chartOptions(name, options, layer.thresholds) });
      canvas.addEventListener("click", (event) => {
        const step = chart.stepAt(event.clientX, steps);
        if (step !== null) this.onStep(step);
      });
      return chart;
    });
    this.curves.replaceChildren(...this.charts.map((chart) => chart.canvas));
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
    for (const chart of this.charts) chart.draw(step, stepRange);
  }
}
