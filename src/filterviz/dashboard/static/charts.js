// Small line charts on a canvas: the layer's health curves under the grid, and a filter's sparklines. A
// marker shows the current step; the chart tells which logged step lies nearest to a click.

const LINE = "#00796b";
const MARKER = "#f57c00";
const BAND = "rgba(76, 175, 80, 0.18)";
const AXIS = "#9e9e9e";

// points: [[step, value or null], ...] sorted by step.
// options: { title, log, band: [low, high], share (values are shares: the axis runs 0 to 100%), width, height }
export class LineChart {
  constructor(canvas, points, options = {}) {
    this.canvas = canvas;
    this.points = points.filter(([, value]) => value !== null && (!options.log || value > 0));
    this.options = { width: 220, height: 90, ...options };
    this.margin = { left: 42, right: 8, top: 16, bottom: 14 };
  }

  get steps() {
    return this.points.map(([step]) => step);
  }

  range() {
    if (this.options.share) return [0, 1];
    const values = this.points.map(([, value]) => (this.options.log ? Math.log10(value) : value));
    if (this.options.band && this.options.log) values.push(...this.options.band.map(Math.log10));
    let low = Math.min(...values);
    let high = Math.max(...values);
    if (!(high > low)) {
      low -= 0.5;
      high += 0.5;
    }
    return [low, high];
  }

  draw(markerStep = null, stepRange = null) {
    const { canvas, options, margin } = this;
    canvas.width = options.width;
    canvas.height = options.height;
    const context = canvas.getContext("2d");
    context.clearRect(0, 0, canvas.width, canvas.height);
    context.font = "11px sans-serif";
    context.fillStyle = "#424242";
    context.fillText(options.title || "", 2, 11);
    if (this.points.length === 0) {
      context.fillStyle = AXIS;
      context.fillText(options.empty || "not logged", margin.left, canvas.height / 2 + 4);
      this.x = null;
      return;
    }
    const [low, high] = this.range();
    const [first, last] = stepRange || [this.points[0][0], this.points[this.points.length - 1][0]];
    const x = (step) => margin.left + ((step - first) / Math.max(1, last - first)) * (canvas.width - margin.left - margin.right);
    const y = (value) => {
      const v = options.log ? Math.log10(value) : value;
      return canvas.height - margin.bottom - ((v - low) / (high - low)) * (canvas.height - margin.top - margin.bottom);
    };
    if (options.band) {
      context.fillStyle = BAND;
      const top = y(options.band[1]);
      context.fillRect(margin.left, top, canvas.width - margin.left - margin.right, y(options.band[0]) - top);
    }
    context.strokeStyle = AXIS;
    context.beginPath();
    context.moveTo(margin.left, margin.top);
    context.lineTo(margin.left, canvas.height - margin.bottom);
    context.lineTo(canvas.width - margin.right, canvas.height - margin.bottom);
    context.stroke();
    context.fillStyle = "#616161";
    const label = (value) => {
      if (options.share) return `${Math.round(100 * value)}%`;
      return options.log ? `1e${Math.round(value)}` : Number(value.toPrecision(3)).toString();
    };
    context.fillText(label(high), 2, margin.top + 8);
    context.fillText(label(low), 2, canvas.height - margin.bottom);
    context.strokeStyle = LINE;
    context.lineWidth = 1.5;
    context.beginPath();
    this.points.forEach(([step, value], i) => (i ? context.lineTo(x(step), y(value)) : context.moveTo(x(step), y(value))));
    context.stroke();
    if (markerStep !== null) {
      context.strokeStyle = MARKER;
      context.lineWidth = 1;
      context.beginPath();
      context.moveTo(x(markerStep), margin.top);
      context.lineTo(x(markerStep), canvas.height - margin.bottom);
      context.stroke();
    }
    this.x = x;
    this.first = first;
    this.last = last;
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
