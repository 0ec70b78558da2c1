// The Filters tab: a run and layer picker, the grid at exact pixels for every logged step, played as a
// film, with the layer's health at that step and each filter's numbers under the mouse.

import * as api from "./api.js";
import { drawZoomed, fitZoom, tileAt } from "./draw.js";

const SPEEDS = [1, 2, 5, 10, 20, 30]; // steps per second
const ZOOMS = ["fit", 1, 2, 3, 4, 6, 8, 12, 16];
const CACHED_GRIDS = 48; // decoded grids kept, so memory stays bounded however long the run
const PREFETCH = 6; // grids loaded ahead while playing
const POLL_MS = 15000; // new steps of a run still training

export function startDashboard(doc) {
  const dashboard = new Dashboard(doc);
  doc.defaultView.filtervizDashboard = dashboard; // for benchmarks/dashboard.py and the curious
  dashboard.start();
  return dashboard;
}

function element(doc, tag, attributes = {}, ...children) {
  const node = doc.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children); // strings become text nodes: names from the logs are never parsed as HTML
  return node;
}

function labelled(doc, id, text, control) {
  control.id = id;
  return element(doc, "label", { for: id }, text, control);
}

// Health values as people read them: shares as percentages, ratios in powers of ten.
export function formatValue(name, value) {
  if (value === null || value === undefined) return "n/a";
  if (name === "nonfinite") return String(value);
  if (name === "dead" || name === "redundancy") return `${(100 * value).toFixed(1)}%`;
  if (value === 0) return "0";
  if (name === "update_ratio" || Math.abs(value) < 1e-3) return value.toExponential(2);
  return value.toFixed(3);
}

export class Dashboard {
  constructor(doc) {
    this.doc = doc;
    this.layers = []; // from /runs
    this.layer = null; // from /layer
    this.index = 0;
    this.token = 0;
    this.playing = null;
    this.grids = new api.Cache(CACHED_GRIDS, (bitmap) => bitmap.close());
    this.filterValues = new api.Cache(16);
    this.build();
  }

  build() {
    const doc = this.doc;
    const link = element(doc, "link", { rel: "stylesheet", href: api.url("static/style.css").href });
    doc.head.append(link);
    this.runPicker = element(doc, "select", { "aria-label": "Run" });
    this.layerPicker = element(doc, "select", { "aria-label": "Layer" });
    this.zoomPicker = element(doc, "select", { "aria-label": "Zoom" });
    for (const zoom of ZOOMS) this.zoomPicker.append(element(doc, "option", { value: zoom }, zoom === "fit" ? "fit" : `${zoom}×`));
    this.playButton = element(doc, "button", { type: "button", "aria-pressed": "false" }, "Play");
    this.speedPicker = element(doc, "select", { "aria-label": "Speed" });
    for (const speed of SPEEDS) this.speedPicker.append(element(doc, "option", { value: speed }, `${speed} steps/s`));
    this.speedPicker.value = "10";
    this.slider = element(doc, "input", { type: "range", min: "0", max: "0", value: "0" });
    this.stepLabel = element(doc, "output", { "aria-live": "polite" });
    this.healthView = element(doc, "dl", { class: "health", "aria-label": "Health at this step" });
    this.canvas = element(doc, "canvas", { class: "grid", tabindex: "0", "aria-label": "Filters at this step" });
    this.tooltip = element(doc, "div", { class: "tooltip", role: "tooltip", hidden: "" });
    this.message = element(doc, "p", { class: "message", role: "status" });
    this.panel = element(doc, "div", { class: "panel" }, this.canvas, this.tooltip);
    const controls = element(
      doc,
      "div",
      { class: "controls" },
      labelled(doc, "run", "Run", this.runPicker),
      labelled(doc, "layer", "Layer", this.layerPicker),
      labelled(doc, "zoom", "Zoom", this.zoomPicker),
      this.playButton,
      labelled(doc, "speed", "Speed", this.speedPicker),
    );
    const stepper = element(doc, "div", { class: "stepper" }, labelled(doc, "step", "Step", this.slider), this.stepLabel);
    this.root = element(doc, "main", { class: "filterviz" }, controls, stepper, this.healthView, this.message, this.panel);
    doc.body.append(this.root);

    this.runPicker.addEventListener("change", () => this.fillLayers());
    this.layerPicker.addEventListener("change", () => this.selectLayer());
    this.zoomPicker.addEventListener("change", () => this.show(this.index));
    this.playButton.addEventListener("click", () => this.togglePlay());
    this.speedPicker.addEventListener("change", () => this.playing && this.play());
    this.slider.addEventListener("input", () => this.show(Number(this.slider.value)));
    doc.addEventListener("keydown", (event) => this.onKey(event));
    this.canvas.addEventListener("mousemove", (event) => this.hover(event));
    this.canvas.addEventListener("mouseleave", () => (this.tooltip.hidden = true));
    doc.defaultView.addEventListener("resize", () => this.zoomPicker.value === "fit" && this.show(this.index));
  }

  async start() {
    await this.loadRuns();
    this.doc.defaultView.setInterval(() => this.poll().catch(() => {}), POLL_MS);
  }

  async loadRuns() {
    this.layers = await api.json("runs");
    if (this.layers.length === 0) {
      this.say("No filters are logged under this log directory yet. Log them with filterviz.FilterLogger(log_dir).");
      return;
    }
    const runs = [...new Set(this.layers.map((layer) => layer.run))];
    this.runPicker.replaceChildren(...runs.map((run) => element(this.doc, "option", { value: run }, run)));
    await this.fillLayers();
  }

  async fillLayers() {
    const run = this.runPicker.value;
    const options = this.layers
      .filter((layer) => layer.run === run)
      .map((layer) => element(this.doc, "option", { value: layer.tag }, layer.layer));
    this.layerPicker.replaceChildren(...options);
    await this.selectLayer();
  }

  async selectLayer() {
    this.stop();
    this.grids.clear();
    this.filterValues.clear();
    const params = { run: this.runPicker.value, tag: this.layerPicker.value };
    this.layer = await api.json("layer", params);
    this.health = Object.fromEntries(
      Object.entries(this.layer.health).map(([name, points]) => [name, new Map(points)]),
    );
    this.slider.max = String(this.layer.steps.length - 1);
    this.say("");
    await this.show(this.layer.steps.length - 1); // the newest first
  }

  async poll() {
    if (!this.layer) return;
    const fresh = await api.json("layer", { run: this.layer.run, tag: this.layer.tag });
    if (fresh.steps.length === this.layer.steps.length) return;
    const atEnd = this.index === this.layer.steps.length - 1;
    this.layer = fresh;
    this.health = Object.fromEntries(Object.entries(fresh.health).map(([name, points]) => [name, new Map(points)]));
    this.slider.max = String(fresh.steps.length - 1);
    if (atEnd && !this.playing) await this.show(fresh.steps.length - 1); // follow the training
  }

  grid(step) {
    const { run, tag } = this.layer;
    return this.grids.get(`${run}\u0000${tag}\u0000${step}`, () => api.image("grid", { run, tag, step }));
  }

  async show(index) {
    if (!this.layer) return;
    index = Math.max(0, Math.min(this.layer.steps.length - 1, index));
    this.index = index;
    const step = this.layer.steps[index];
    this.slider.value = String(index);
    const token = ++this.token;
    let bitmap;
    try {
      bitmap = await this.grid(step);
    } catch (error) {
      this.say(`Could not load step ${step}: ${error.message}`);
      return;
    }
    if (token !== this.token) return; // a later step was asked for meanwhile
    const zoom = this.zoom(bitmap);
    drawZoomed(this.canvas, bitmap, zoom);
    this.canvas.dataset.run = this.layer.run;
    this.canvas.dataset.tag = this.layer.tag;
    this.canvas.dataset.step = String(step);
    this.canvas.dataset.zoom = String(zoom);
    this.stepLabel.value = `${this.layer.info.axis || "step"} ${step} (${index + 1} of ${this.layer.steps.length})`;
    this.showHealth(step);
  }

  zoom(bitmap) {
    const chosen = this.zoomPicker.value;
    if (chosen !== "fit") return Number(chosen);
    const room = { width: this.panel.clientWidth - 8, height: Math.max(200, this.doc.defaultView.innerHeight - this.panel.offsetTop - 16) };
    return fitZoom(bitmap.width, bitmap.height, room);
  }

  showHealth(step) {
    const items = [];
    for (const [name, values] of Object.entries(this.health)) {
      if (!values.has(step)) continue;
      items.push(element(this.doc, "dt", {}, name.replace("_", " ")), element(this.doc, "dd", {}, formatValue(name, values.get(step))));
    }
    this.healthView.replaceChildren(...items);
  }

  togglePlay() {
    if (this.playing) this.stop();
    else this.play();
  }

  play() {
    this.stop();
    if (!this.layer) return;
    if (this.index >= this.layer.steps.length - 1) this.show(0); // from the start again
    const interval = 1000 / Number(this.speedPicker.value);
    this.playButton.textContent = "Pause";
    this.playButton.setAttribute("aria-pressed", "true");
    this.playing = this.doc.defaultView.setInterval(() => {
      if (this.index >= this.layer.steps.length - 1) return this.stop();
      this.show(this.index + 1);
      for (let ahead = 2; ahead <= PREFETCH; ahead++) {
        const step = this.layer.steps[this.index + ahead];
        if (step !== undefined) this.grid(step).catch(() => {});
      }
    }, interval);
  }

  stop() {
    if (this.playing) this.doc.defaultView.clearInterval(this.playing);
    this.playing = null;
    this.playButton.textContent = "Play";
    this.playButton.setAttribute("aria-pressed", "false");
  }

  onKey(event) {
    const target = event.target;
    if (target instanceof HTMLSelectElement || target === this.slider) return; // their own arrow keys
    if (event.key === "ArrowRight") this.show(this.index + 1);
    else if (event.key === "ArrowLeft") this.show(this.index - 1);
    else return;
    event.preventDefault();
  }

  async hover(event) {
    if (!this.layer?.info?.plan) return;
    const zoom = Number(this.canvas.dataset.zoom || 1);
    const place = tileAt(this.layer.info.plan, Math.floor(event.offsetX / zoom), Math.floor(event.offsetY / zoom));
    if (place === null) {
      this.tooltip.hidden = true;
      return;
    }
    const step = this.layer.steps[this.index];
    const { run, tag } = this.layer;
    let values = {};
    try {
      values = await this.filterValues.get(`${run}\u0000${tag}\u0000${step}`, () => api.json("filters", { run, tag, step }));
    } catch {
      values = {};
    }
    const parts = [`filter ${place.unit}` + (place.channel === null ? "" : `, channel ${place.channel}`)];
    for (const name of ["norm", "min", "max"]) {
      if (values[name]) parts.push(`${name} ${formatValue(name, values[name][place.unit])}`);
    }
    this.tooltip.textContent = parts.join(" · ");
    this.tooltip.style.left = `${event.offsetX + 12}px`;
    this.tooltip.style.top = `${event.offsetY + 12}px`;
    this.tooltip.hidden = false;
  }

  say(text) {
    this.message.textContent = text;
  }
}
