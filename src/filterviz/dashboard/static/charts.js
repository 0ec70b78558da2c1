// Small line charts on a canvas: the layer's health curves under the grid (one line per run shown), and a
// filter's sparklines. The axes are scales.js's: each value's meaningful range, round step ticks. A marker
// shows the current step; the mouse shows the values at the step under it; a click tells the nearest step.

import { axisRange, stepTicks, valueAt } from "./scales.js";
import { formatValue } from "./words.js";

export const COLOURS = ["#00796b", "#e65100", "#5e35b1", "#c2185b", "#1565c0", "#558b2f"];
const MARKER = "#f57c00";
const CURSOR = "#9e9e9e";
const BAND = "rgba(76, 175, 80, 0.18)";
const AXIS = "#9e9e9e";

// series: [{ label, colour, points: [[step, value or null], ...] sorted by step }]
// options: { title, name (the value, for its format), axis (scales.axisFor), empty, width, height }
export class LineChart {
  constructor(canvas, series, options = {}) {
    this.canvas = canvas;
    this.options = { width: 240, height: 110, axis: {}, ...options };
    const axis = this.options.axis;
    this.series = series.map((line) => ({ ...line, points: line.points.filter(([, v]) => v !== null && (!axis.log || v > 0)) }));
    this.margin = { left: 42, right: 8, top: 16, bottom: 26 };
    this.cursor = null;
    this.drawn = { marker: null, range: null };
    canvas.addEventListener("mousemove", (event) => this.hover(event.clientX));
    canvas.addEventListener("mouseleave", () => this.hover(null));
  }

  get steps() {
    return [...new Set(this.series.flatMap((line) => line.points.map(([step]) => step)))].sort((a, b) => a - b);
  }

  draw(markerStep = null, stepRange = null) {
    this.drawn = { marker: markerStep, range: stepRange };
    const { canvas, options, margin } = this;
    const axis = options.axis;
    canvas.width = options.width;
    canvas.height = options.height;
    const context = canvas.getContext("2d");
    context.clearRect(0, 0, canvas.width, canvas.height);
    context.font = "11px sans-serif";
    context.fillStyle = "#424242";
    context.fillText(options.title || "", 2, 11);
    const steps = this.steps;
    if (steps.length === 0) {
      canvas.dataset.lines = "0";
      context.fillStyle = AXIS;
      context.fillText(options.empty || "not logged", margin.left, canvas.height / 2 + 4);
      this.x = null;
      return;
    }
    const [low, high] = axisRange(axis, this.series.flatMap((line) => line.points.map(([, v]) => v)));
    const [first, last] = stepRange || [steps[0], steps[steps.length - 1]];
    this.range = [low, high]; // what the axes show, for the curious (and the tests)
    this.ticks = stepTicks(first, last);
    canvas.dataset.lines = String(this.series.filter((line) => line.points.length).length);
    const plotWidth = canvas.width - margin.left - margin.right;
    const plotHeight = canvas.height - margin.top - margin.bottom;
    const x = (step) => margin.left + ((step - first) / Math.max(1, last - first)) * plotWidth;
    const y = (value) => {
      const v = axis.log ? Math.log10(value) : value;
      return canvas.height - margin.bottom - ((v - low) / (high - low)) * plotHeight;
    };
    if (axis.band) {
      context.fillStyle = BAND;
      const top = y(axis.band[1]);
      context.fillRect(margin.left, top, plotWidth, y(axis.band[0]) - top);
    }
    context.strokeStyle = AXIS;
    context.beginPath();
    context.moveTo(margin.left, margin.top);
    context.lineTo(margin.left, canvas.height - margin.bottom);
    context.lineTo(canvas.width - margin.right, canvas.height - margin.bottom);
    context.stroke();
    context.fillStyle = "#616161";
    const label = (value) => {
      if (axis.share) return `${Math.round(100 * value)}%`;
      return axis.log ? `1e${Math.round(value)}` : Number(value.toPrecision(3)).toString();
    };
    context.fillText(label(high), 2, margin.top + 8);
    context.fillText(label(low), 2, canvas.height - margin.bottom);
    for (const tick of this.ticks) {
      const at = x(tick);
      context.strokeStyle = AXIS;
      context.beginPath();
      context.moveTo(at, canvas.height - margin.bottom);
      context.lineTo(at, canvas.height - margin.bottom + 3);
      context.stroke();
      const text = String(tick);
      context.fillText(text, Math.min(canvas.width - context.measureText(text).width - 1, Math.max(margin.left - 4, at - context.measureText(text).width / 2)), canvas.height - margin.bottom + 14);
    }
    context.lineWidth = 1.5;
    for (const line of this.series) {
      context.strokeStyle = line.colour;
      context.beginPath();
      line.points.forEach(([step, value], i) => (i ? context.lineTo(x(step), y(value)) : context.moveTo(x(step), y(value))));
      context.stroke();
    }
    context.lineWidth = 1;
    if (markerStep !== null) this.vertical(context, x(markerStep), MARKER);
    if (this.cursor !== null) {
      this.vertical(context, x(this.cursor), CURSOR);
      const values = this.series.map((line) => formatValue(options.name || "", valueAt(line.points, this.cursor))).join(" · ");
      const text = `step ${this.cursor}: ${values}`;
      this.cursorText = text;
      context.fillStyle = "#212121";
      context.fillText(text, Math.max(2, canvas.width - margin.right - context.measureText(text).width), 11);
    }
    this.x = x;
  }

  vertical(context, at, colour) {
    const { canvas, margin } = this;
    context.strokeStyle = colour;
    context.beginPath();
    context.moveTo(at, margin.top);
    context.lineTo(at, canvas.height - margin.bottom);
    context.stroke();
  }

  // The cursor at canvas-relative clientX (null: none): the chart shows each series' value at that step.
  hover(clientX) {
    const step = clientX === null ? null : this.stepAt(clientX, this.steps);
    if (step === this.cursor) return;
    this.cursor = step;
    this.draw(this.drawn.marker, this.drawn.range);
  }

  // The step of `steps` nearest to a click at canvas x; null when the chart has no points (nothing drawn).
  stepAt(clientX, steps) {
    if (typeof this.x !== "function" || steps.length === 0) return null;
    const bounds = this.canvas.getBoundingClientRect();
    const scale = this.canvas.width / bounds.width;
    const x = (clientX - bounds.left) * scale;
    let best = steps[0];
    for (const step of steps) if (Math.abs(this.x(step) - x) < Math.abs(this.x(best) - x)) best = step;
    return best;
  }
}
