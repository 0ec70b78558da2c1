// The Filters tab: a run and layer picker; the grid at exact pixels for every logged step, played as a
// film; the layer's health at that step and over the run; a normalization chosen when looking, the change
// since the step before, filters sorted and flagged; one filter's life in a panel; runs side by side.

import * as api from "./api.js";
import { OUTLINES, cutOut, order, outline, reordered } from "./arrange.js";
import { LineChart } from "./charts.js";
import { drawZoomed, fitZoom, tileAt, toCanvas } from "./draw.js";
import { difference, drawKernel } from "./normalize.js";

const SPEEDS = [1, 2, 5, 10, 20, 30]; // steps per second
const ZOOMS = ["fit", 1, 2, 3, 4, 6, 8, 12, 16];
const NORMALIZE = [
  ["logged", "as logged"],
  ["per_tile", "per tile"],
  ["global", "global"],
  ["symmetric", "symmetric"],
];
const SHOW = [
  ["grid", "the weights"],
  ["change", "change since the step before"],
];
const SORTS = [
  ["index", "index"],
  ["norm", "norm"],
  ["update_ratio", "update ratio"],
  ["noise", "noise"],
];
const UPDATE_RATIO = { log: true, band: [1e-4, 1e-2] }; // CS231n's healthy band around 1e-3
const HEAVY = ["noise", "redundancy", "opposites"]; // the values a writer that is behind leaves out first
const CURVES = [
  ["update_ratio", "update ratio (log)", UPDATE_RATIO],
  ["dead", "dead filters", { share: true }],
  ["noise", "noise (1 = as rough as random)", {}],
  ["redundancy", "near-duplicates beyond chance", { share: true }],
  ["opposites", "opposite pairs beyond chance", { share: true }],
];
const CACHED_GRIDS = 48; // decoded grids kept, so memory stays bounded however long the run
const CACHED_KERNELS = 24;
const PREFETCH = 6; // steps loaded ahead while playing
const POLL_MS = 15000; // new steps of a run still training
const NO_KERNEL =
  "This run's kernels were not stored (FilterLogger keeps them up to 1 MiB a step, or with store_kernel=True): " +
  "only the grid as logged can be shown.";

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

function picker(doc, label, choices, value) {
  const select = element(doc, "select", { "aria-label": label });
  for (const [key, text] of choices) select.append(element(doc, "option", { value: key }, text));
  select.value = value;
  return select;
}

// Health values as people read them: shares as percentages, ratios in powers of ten.
export function formatValue(name, value) {
  if (value === null || value === undefined) return "n/a";
  if (name === "nonfinite") return String(value);
  if (name === "dead" || name === "redundancy" || name === "opposites") return `${(100 * value).toFixed(1)}%`;
  if (value === 0) return "0";
  if (name === "update_ratio" || Math.abs(value) < 1e-3) return value.toExponential(2);
  return value.toFixed(3);
}

// Two entries of /runs for the same layer: the same kind of kernel, of the same shape (a name alone says
// little: Keras names a layer conv2d in every process).
export function sameLayer(a, b) {
  return Boolean(a && b) && a.kind === b.kind && JSON.stringify(a.kernel_shape) === JSON.stringify(b.kernel_shape);
}

export function describeKind(entry) {
  return entry?.kind ? `${entry.kind} ${(entry.kernel_shape || []).join("×")}` : "such";
}

// The largest of `steps` (sorted) at or below `step`, or null.
export function atOrBelow(steps, step) {
  let low = 0;
  let high = steps.length - 1;
  let found = null;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (steps[middle] <= step) {
      found = steps[middle];
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return found;
}

// One run's grid in the page.
class View {
  constructor(dashboard, layer) {
    this.dashboard = dashboard;
    this.setLayer(layer);
    const doc = dashboard.doc;
    this.canvas = element(doc, "canvas", { class: "grid", tabindex: "0", "aria-label": `Filters of ${layer.run}` });
    this.caption = element(doc, "figcaption");
    this.figure = element(doc, "figure", { class: "view" }, this.caption, this.canvas);
    this.canvas.addEventListener("mousemove", (event) => dashboard.hover(this, event));
    this.canvas.addEventListener("mouseleave", () => (dashboard.tooltip.hidden = true));
    this.canvas.addEventListener("click", (event) => dashboard.pick(this, event));
    this.tilemap = null;
  }

  // The layer as /layer describes it, with its health by step.
  setLayer(layer) {
    this.layer = layer;
    this.health = Object.fromEntries(Object.entries(layer.health).map(([name, points]) => [name, new Map(points)]));
  }

  get key() {
    return `${this.layer.run}\u0000${this.layer.tag}`;
  }

  params(extra = {}) {
    return { run: this.layer.run, tag: this.layer.tag, ...extra };
  }
}

export class Dashboard {
  constructor(doc) {
    this.doc = doc;
    this.layers = []; // from /runs
    this.views = [];
    this.steps = []; // the shared steps: every step any view logged
    this.index = 0;
    this.token = 0; // the number of the latest step asked for
    this.drawnToken = 0; // and of the latest one drawn
    this.loading = 0; // steps asked for and not yet drawn
    this.playing = null;
    this.selected = null; // the filter (unit) shown in the panel
    this.grids = new api.Cache(CACHED_GRIDS, (bitmap) => bitmap.close());
    this.kernels = new api.Cache(CACHED_KERNELS);
    this.filterValues = new api.Cache(32);
    this.lives = new api.Cache(8, (life) => life.strip.close());
    this.build();
  }

  build() {
    const doc = this.doc;
    doc.head.append(element(doc, "link", { rel: "stylesheet", href: api.url("static/style.css").href }));
    this.runPicker = element(doc, "select", { "aria-label": "Run" });
    this.layerPicker = element(doc, "select", { "aria-label": "Layer" });
    this.compare = element(doc, "fieldset", { class: "compare" }, element(doc, "legend", {}, "Side by side with"));
    this.zoomPicker = picker(doc, "Zoom", ZOOMS.map((z) => [String(z), z === "fit" ? "fit" : `${z}×`]), "fit");
    this.normalizePicker = picker(doc, "Normalize", NORMALIZE, "logged");
    this.clipInput = element(doc, "input", { type: "number", min: "50.1", max: "100", step: "0.5", placeholder: "none", "aria-label": "Clip percentile" });
    this.showPicker = picker(doc, "Show", SHOW, "grid");
    this.sortPicker = picker(doc, "Sort", SORTS, "index");
    this.flagBox = element(doc, "input", { type: "checkbox", "aria-label": "Outline dead and near-duplicate filters" });
    this.playButton = element(doc, "button", { type: "button", "aria-pressed": "false" }, "Play");
    this.speedPicker = picker(doc, "Speed", SPEEDS.map((s) => [String(s), `${s} steps/s`]), "10");
    this.slider = element(doc, "input", { type: "range", min: "0", max: "0", value: "0", "aria-label": "Step" });
    this.stepLabel = element(doc, "output", { "aria-live": "polite" });
    this.healthView = element(doc, "dl", { class: "health", "aria-label": "Health at this step" });
    this.note = element(doc, "p", { class: "note", role: "status" });
    this.about = element(doc, "p", { class: "about" });
    this.message = element(doc, "p", { class: "message", role: "status" });
    this.viewsBox = element(doc, "div", { class: "views" });
    this.tooltip = element(doc, "div", { class: "tooltip", role: "tooltip", hidden: "" });
    this.legend = element(
      doc,
      "p",
      { class: "legend", hidden: "" },
      element(doc, "span", { class: "swatch dead" }),
      "dead (weight norm at most 1% of the median: filterviz sees the weights, not the activations)",
      element(doc, "span", { class: "swatch duplicate" }),
      "near-duplicate (|cosine| > 0.9 with another filter; hover for which)",
    );
    this.curves = element(doc, "div", { class: "curves", "aria-label": "Health over the run" });
    this.panel = element(doc, "aside", { class: "filter-panel", hidden: "", tabindex: "0", "aria-label": "One filter's life" });
    this.panel.addEventListener("keydown", (event) => this.onPanelKey(event));
    const rows = [
      [labelled(doc, "run", "Run", this.runPicker), labelled(doc, "layer", "Layer", this.layerPicker), this.compare],
      [
        labelled(doc, "zoom", "Zoom", this.zoomPicker),
        labelled(doc, "normalize", "Normalize", this.normalizePicker),
        labelled(doc, "clip", "Clip percentile", this.clipInput),
        labelled(doc, "show", "Show", this.showPicker),
        labelled(doc, "sort", "Sort by", this.sortPicker),
        labelled(doc, "flags", "Outline dead and duplicates", this.flagBox),
      ],
      [this.playButton, labelled(doc, "speed", "Speed", this.speedPicker), labelled(doc, "step", "Step", this.slider), this.stepLabel],
    ].map((children) => element(doc, "div", { class: "controls" }, ...children));
    const stage = element(doc, "div", { class: "stage" }, this.viewsBox, this.tooltip);
    this.root = element(doc, "main", { class: "filterviz" }, ...rows, this.about, this.healthView, this.note, this.message, stage, this.legend, this.curves, this.panel);
    doc.body.append(this.root);

    this.runPicker.addEventListener("change", () => this.fillLayers());
    this.layerPicker.addEventListener("change", () => this.selectLayer());
    for (const control of [this.zoomPicker, this.normalizePicker, this.clipInput, this.showPicker, this.sortPicker, this.flagBox]) {
      control.addEventListener("change", () => this.show(this.index));
    }
    this.playButton.addEventListener("click", () => this.togglePlay());
    api.failures.addEventListener("failure", (event) => this.say(`Could not load ${event.detail.route}: ${event.detail.message}`));
    this.speedPicker.addEventListener("change", () => this.playing && this.play());
    this.slider.addEventListener("input", () => this.show(Number(this.slider.value)));
    doc.addEventListener("keydown", (event) => this.onKey(event));
    doc.defaultView.addEventListener("resize", () => this.zoomPicker.value === "fit" && this.show(this.index));
  }

  async start() {
    await this.loadRuns();
    this.doc.defaultView.setInterval(() => this.poll().catch(() => {}), POLL_MS);
  }

  async loadRuns() {
    const answer = await api.json("runs");
    this.layers = answer.layers;
    this.problems = answer.problems; // run -> the files of it that are read no further, and why
    if (this.layers.length === 0 && Object.keys(this.problems).length === 0) {
      this.say("No filters are logged under this log directory yet. Log them with filterviz.FilterLogger(log_dir).");
      return;
    }
    const runs = [...new Set([...this.layers.map((layer) => layer.run), ...Object.keys(this.problems)])].sort();
    this.runPicker.replaceChildren(...runs.map((run) => element(this.doc, "option", { value: run }, run)));
    await this.fillLayers();
  }

  async fillLayers() {
    const run = this.runPicker.value;
    const options = this.layers
      .filter((layer) => layer.run === run)
      .map((layer) => element(this.doc, "option", { value: layer.tag }, layer.layer + (layer.problem ? " (cannot be shown)" : "")));
    this.layerPicker.replaceChildren(...options);
    await this.selectLayer();
  }

  // The entry of /runs for a run and tag.
  entry(run, tag) {
    return this.layers.find((layer) => layer.run === run && layer.tag === tag);
  }

  // What is wrong with the main run, in words: its unreadable files, and its layer when it cannot be shown.
  runNotes(run, layer) {
    const notes = (this.problems[run] || []).map((problem) => `Part of this run could not be read, and is not shown: ${problem}`);
    if (layer?.problem) notes.unshift(`This layer cannot be shown: ${layer.problem}`);
    return notes.join(" ");
  }

  // The main run's layer, and the runs that logged the same layer (same kind and kernel shape) to compare.
  async selectLayer() {
    this.stop();
    this.closePanel();
    const tag = this.layerPicker.value;
    const main = this.entry(this.runPicker.value, tag);
    const others = this.layers.filter((layer) => layer.run !== main?.run && !layer.problem && sameLayer(layer, main));
    const boxes = others.map((layer) => {
      const box = element(this.doc, "input", { type: "checkbox", value: layer.run, "data-tag": layer.tag });
      box.addEventListener("change", () => this.setViews());
      return element(this.doc, "label", {}, box, `${layer.run} · ${layer.layer}`);
    });
    const none = element(this.doc, "span", { class: "none" }, `no other run logged a ${describeKind(main)} layer`);
    this.compare.replaceChildren(this.compare.firstChild, ...(boxes.length ? boxes : [none]));
    await this.setViews();
  }

  async setViews() {
    const tag = this.layerPicker.value;
    const main = this.entry(this.runPicker.value, tag);
    this.about.textContent = "";
    this.say(this.runNotes(this.runPicker.value, main));
    if (!main || main.problem) {
      this.views = [];
      this.viewsBox.replaceChildren();
      this.curves.replaceChildren();
      this.healthView.replaceChildren();
      return;
    }
    const chosen = [...this.compare.querySelectorAll("input:checked")].map((box) => [box.value, box.dataset.tag]);
    const pairs = [[main.run, tag], ...chosen];
    try {
      this.views = await Promise.all(pairs.map(async ([run, layerTag]) => new View(this, await api.json("layer", { run, tag: layerTag }))));
    } catch {
      this.views = [];
      this.viewsBox.replaceChildren();
      return; // the failure is in the message already
    }
    this.viewsBox.replaceChildren(...this.views.map((view) => view.figure));
    const info = this.views[0].layer.info;
    this.about.textContent = [info.path && info.choice ? `${info.path}: ${info.choice}.` : "", info.missing_initial ? `${info.missing_initial}.` : ""].filter(Boolean).join(" ");
    this.updateSteps();
    const stored = this.views[0].layer.kernel_steps.length > 0;
    this.normalizePicker.disabled = !stored;
    this.clipInput.disabled = !stored;
    this.normalizePicker.title = stored ? "" : NO_KERNEL;
    await this.show(this.steps.length - 1); // the newest first
  }

  updateSteps() {
    this.steps = [...new Set(this.views.flatMap((view) => view.layer.steps))].sort((a, b) => a - b);
    this.slider.max = String(Math.max(0, this.steps.length - 1));
    this.buildCurves();
  }

  async poll() {
    if (this.views.length === 0) return;
    const atEnd = this.index === this.steps.length - 1;
    let grew = false;
    for (const view of this.views) {
      const fresh = await api.json("layer", view.params());
      if (fresh.steps.length !== view.layer.steps.length) {
        grew = true;
        view.setLayer(fresh);
      }
    }
    if (!grew) return;
    this.updateSteps();
    if (atEnd && !this.playing) await this.show(this.steps.length - 1); // follow the training
  }

  // Loading, with bounded caches shared by the views.

  grid(view, step, route = "grid") {
    return this.grids.get(`${view.key}\u0000${route}\u0000${step}`, () => api.image(route, view.params({ step })));
  }

  kernel(view, step) {
    return this.kernels.get(`${view.key}\u0000${step}`, async () => new Float32Array(await api.bytes("kernel", view.params({ step }))));
  }

  filters(view, step) {
    return this.filterValues.get(`${view.key}\u0000${step}`, () => api.json("filters", view.params({ step })));
  }

  async tilemap(view) {
    if (view.tilemap === null) view.tilemap = new Int32Array(await api.bytes("tilemap", view.params()));
    return view.tilemap;
  }

  settings() {
    const clip = this.clipInput.value === "" ? null : Number(this.clipInput.value);
    return {
      normalize: this.normalizePicker.disabled ? "logged" : this.normalizePicker.value,
      clip: clip !== null && clip > 50 && clip <= 100 ? clip : null,
      show: this.showPicker.value,
      sort: this.sortPicker.value,
      flags: this.flagBox.checked,
    };
  }

  // What one view shows at `step`: the pixels (ImageData) and how they were made.
  async picture(view, step, settings) {
    const { layer } = view;
    const drawing = layer.drawing;
    let image;
    let mode;
    if (settings.show === "change") {
      const previous = layer.steps[layer.steps.indexOf(step) - 1];
      if (previous === undefined) return { image: null, mode: "change", note: "No step was logged before this one." };
      if (layer.kernel_steps.includes(step) && layer.kernel_steps.includes(previous)) {
        const [now, before, tilemap] = await Promise.all([this.kernel(view, step), this.kernel(view, previous), this.tilemap(view)]);
        image = drawKernel(difference(now, before), tilemap, drawing, "symmetric", null);
      } else if (layer.delta_steps.includes(step)) {
        image = await this.imageData(this.grid(view, step, "delta"));
      } else {
        return { image: null, mode: "change", note: NO_KERNEL.replace("only the grid as logged", "the change") };
      }
      mode = "change";
    } else if (settings.normalize !== "logged" && layer.kernel_steps.includes(step)) {
      const [kernel, tilemap] = await Promise.all([this.kernel(view, step), this.tilemap(view)]);
      image = drawKernel(kernel, tilemap, drawing, settings.normalize, settings.clip);
      mode = settings.normalize;
    } else {
      image = await this.imageData(this.grid(view, step));
      mode = "logged";
    }
    let ordering = null;
    if (settings.sort !== "index" || settings.flags) {
      const values = await this.filters(view, step).catch(() => ({}));
      const plan = layer.info.plan;
      ordering = order(plan.units, settings.sort === "index" ? null : values[settings.sort] ?? null);
      if (settings.sort !== "index") image = reordered(image, plan, ordering);
      if (settings.flags) {
        ordering.forEach((unit, position) => {
          if (values.dead?.[unit] === 1) outline(image, plan, position, OUTLINES.dead);
          else if (values.duplicate?.[unit] === 1) outline(image, plan, position, OUTLINES.duplicate);
        });
      }
    }
    return { image, mode, ordering };
  }

  async imageData(bitmapPromise) {
    const bitmap = await bitmapPromise;
    const canvas = this.doc.createElement("canvas");
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    const context = canvas.getContext("2d");
    context.drawImage(bitmap, 0, 0);
    return context.getImageData(0, 0, bitmap.width, bitmap.height);
  }

  async show(index) {
    if (this.views.length === 0 || this.steps.length === 0) return;
    index = Math.max(0, Math.min(this.steps.length - 1, index));
    this.index = index;
    const shared = this.steps[index];
    this.slider.value = String(index);
    const token = ++this.token;
    const settings = this.settings();
    let pictures;
    this.loading += 1;
    try {
      pictures = await Promise.all(
        this.views.map(async (view) => {
          const step = atOrBelow(view.layer.steps, shared);
          return { step, ...(step === null ? { image: null, note: "nothing logged yet" } : await this.picture(view, step, settings)) };
        }),
      );
    } catch (error) {
      this.say(`Could not load step ${shared}: ${error.message}`);
      return;
    } finally {
      this.loading -= 1;
    }
    // Replies may come back out of order: draw this one unless one asked for later is on screen already,
    // so that the newest step that has arrived is always shown.
    if (token < this.drawnToken) return;
    this.drawnToken = token;
    const axis = this.views[0].layer.info.axis || "step";
    pictures.forEach((picture, i) => this.draw(this.views[i], picture, settings, axis));
    this.stepLabel.value = `${axis} ${shared} (${index + 1} of ${this.steps.length})`;
    this.note.textContent = pictures.map((picture) => picture.note).filter(Boolean)[0] || "";
    this.legend.hidden = !settings.flags;
    this.showHealth(pictures[0].step);
    this.markCurves(pictures[0].step);
    if (this.selected !== null) this.showFilter();
  }

  draw(view, picture, settings, axis) {
    view.picture = picture;
    view.caption.textContent = this.views.length > 1 ? `${view.layer.run} · ${axis} ${picture.step ?? "–"}` : "";
    if (picture.image === null) {
      view.canvas.width = view.canvas.height = 0;
      view.canvas.dataset.step = "";
      return;
    }
    const zoom = this.zoom(picture.image);
    drawZoomed(view.canvas, picture.image, zoom);
    Object.assign(view.canvas.dataset, {
      run: view.layer.run,
      tag: view.layer.tag,
      step: String(picture.step),
      zoom: String(zoom),
      mode: picture.mode,
      sort: settings.sort,
    });
  }

  zoom(image) {
    const chosen = this.zoomPicker.value;
    if (chosen !== "fit") return Number(chosen);
    const width = (this.viewsBox.clientWidth - 16 * this.views.length) / this.views.length;
    const height = Math.max(200, this.doc.defaultView.innerHeight * 0.6);
    return fitZoom(image.width, image.height, { width, height });
  }

  // The health values at `step`: each value the layer logs, "not computed at this step" where it has none
  // there (left out by a writer that was behind, or not due), and the values it never logs, with why.
  showHealth(step) {
    const main = this.views[0];
    const items = [];
    const info = main.layer.info;
    const shed = (main.layer.shed || {})[String(step)] || [];
    const unmeasured = info.unmeasured || {};
    const names = info.measured || Object.keys(main.health);
    for (const name of names) {
      const values = main.health[name];
      let text = values?.has(step) ? formatValue(name, values.get(step)) : "not computed at this step";
      if (!values?.has(step) && (shed.includes("cheap health") || (shed.includes("heavy health") && HEAVY.includes(name)))) {
        text += " (the writer was behind)";
      }
      if (name === "update_ratio" && !values?.has(step) && !shed.length) continue; // none at the first step
      items.push(element(this.doc, "dt", {}, name.replace("_", " ")), element(this.doc, "dd", {}, text));
    }
    for (const [name, why] of Object.entries(unmeasured)) {
      items.push(element(this.doc, "dt", {}, name.replace("_", " ")), element(this.doc, "dd", { title: why }, "not logged"));
    }
    this.healthView.replaceChildren(...items);
  }

  // The main run's health curves, with a marker at the step shown; a click jumps to the nearest step.
  buildCurves() {
    const main = this.views[0];
    this.charts = CURVES.map(([name, title, options]) => {
      const canvas = element(this.doc, "canvas", { class: "curve", tabindex: "0", role: "img", "aria-label": `${title} over the run; click to go to a step` });
      const why = (main.layer.info.unmeasured || {})[name];
      canvas.title = why ? `Not logged for this layer: ${why}.` : "";
      const empty = why ? "not logged for this layer (hover for why)" : "not computed yet";
      const chart = new LineChart(canvas, main.layer.health[name] || [], { title, empty, ...options });
      canvas.addEventListener("click", (event) => {
        const step = chart.stepAt(event.clientX, this.steps);
        if (step !== null) this.show(this.steps.indexOf(step));
      });
      return chart;
    });
    this.curves.replaceChildren(...this.charts.map((chart) => chart.canvas));
  }

  markCurves(step) {
    for (const chart of this.charts || []) chart.draw(step, this.stepRange());
  }

  // The first and last shared step: every chart's x axis.
  stepRange() {
    return [this.steps[0], this.steps[this.steps.length - 1]];
  }

  // Playing.

  togglePlay() {
    if (this.playing) this.stop();
    else this.play();
  }

  play() {
    this.stop();
    if (this.steps.length === 0) return;
    if (this.index >= this.steps.length - 1) this.show(0); // from the start again
    const interval = 1000 / Number(this.speedPicker.value);
    this.playButton.textContent = "Pause";
    this.playButton.setAttribute("aria-pressed", "true");
    this.playing = this.doc.defaultView.setInterval(() => {
      if (this.index >= this.steps.length - 1) return this.stop();
      if (this.loading > 0) return; // never run ahead of the pictures: every step of the film is drawn
      this.show(this.index + 1);
      for (let ahead = 2; ahead <= PREFETCH; ahead++) {
        const shared = this.steps[this.index + ahead];
        if (shared === undefined) break;
        for (const view of this.views) {
          const step = atOrBelow(view.layer.steps, shared);
          if (step !== null) this.grid(view, step).catch(() => {});
        }
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
    if (target instanceof HTMLSelectElement || target instanceof HTMLInputElement || this.panel.contains(target)) return;
    if (event.key === "ArrowRight") this.show(this.index + 1);
    else if (event.key === "ArrowLeft") this.show(this.index - 1);
    else return;
    event.preventDefault();
  }

  // The filter under the mouse.

  place(view, event) {
    const plan = view.layer.info?.plan;
    if (!plan || !view.picture?.image) return null;
    const zoom = Number(view.canvas.dataset.zoom || 1);
    const spot = tileAt(plan, Math.floor(event.offsetX / zoom), Math.floor(event.offsetY / zoom));
    if (spot === null) return null;
    const position = plan.tiles_per_unit > 1 ? spot.row : spot.unit;
    const unit = view.picture.ordering ? view.picture.ordering[position] : position;
    return { ...spot, unit, position };
  }

  async hover(view, event) {
    const spot = this.place(view, event);
    if (spot === null) {
      this.tooltip.hidden = true;
      return;
    }
    const values = await this.filters(view, view.picture.step).catch(() => ({}));
    const parts = [`filter ${spot.unit}` + (spot.channel === null ? "" : `, channel ${spot.channel}`)];
    for (const name of ["norm", "min", "max", "update_ratio", "noise"]) {
      if (values[name]) parts.push(`${name.replace("_", " ")} ${formatValue(name, values[name][spot.unit])}`);
    }
    if (values.duplicate?.[spot.unit] === 1) parts.push(`near-duplicate of ${values.partner[spot.unit]}`);
    if (values.opposite?.[spot.unit] === 1) parts.push(`opposite of ${values.opposite_partner[spot.unit]}`);
    if (values.dead?.[spot.unit] === 1) parts.push("dead");
    this.tooltip.textContent = parts.join(" · ");
    const stage = this.viewsBox.getBoundingClientRect();
    const box = view.canvas.getBoundingClientRect();
    this.tooltip.style.left = `${box.left - stage.left + event.offsetX + 12}px`;
    this.tooltip.style.top = `${box.top - stage.top + event.offsetY + 12}px`;
    this.tooltip.hidden = false;
  }

  // One filter's life: the filter large, its tile at every logged step, and its numbers over the run.

  pick(view, event) {
    const spot = this.place(view, event);
    if (spot === null) return;
    this.selected = spot.unit;
    this.showFilter(true);
  }

  closePanel() {
    this.selected = null;
    this.panel.hidden = true;
  }

  async showFilter(focus = false) {
    const view = this.views[0];
    const { plan } = view.layer.info;
    const unit = this.selected;
    const picture = view.picture;
    this.panel.hidden = false;
    const title = element(this.doc, "h2", {}, `Filter ${unit} of ${plan.units}`);
    const close = element(this.doc, "button", { type: "button", "aria-label": "Close the filter panel" }, "×");
    close.addEventListener("click", () => this.closePanel());
    const large = element(this.doc, "canvas", { class: "filter-large", "data-filter": String(unit), "aria-label": `Filter ${unit}, large` });
    if (picture?.image) {
      const position = picture.ordering ? picture.ordering.indexOf(unit) : unit;
      const cells = cutOut(picture.image, plan, position);
      drawZoomed(large, toCanvas(cells), Math.max(1, Math.floor(192 / Math.max(cells.width, cells.height))));
      large.dataset.step = String(picture.step);
    }
    const strip = element(this.doc, "canvas", { class: "strip", "aria-label": `Filter ${unit} at every logged step, newest last` });
    const stripBox = element(this.doc, "div", { class: "strip-box" }, strip);
    const sparks = element(this.doc, "div", { class: "sparklines" });
    const hint = element(this.doc, "p", { class: "hint" }, "← → or ↑ ↓: the filter before or after; Esc: close. The strip shows the grid as logged.");
    this.panel.replaceChildren(element(this.doc, "div", { class: "panel-head" }, title, close), large, stripBox, sparks, hint);
    if (focus) this.panel.focus();
    let life;
    try {
      life = await this.filterLife(view, unit);
    } catch {
      return; // the failure is in the message already
    }
    if (this.selected !== unit) return;
    const { strip: stripImage, stripSteps, series } = life;
    drawZoomed(strip, stripImage, 2);
    Object.assign(strip.dataset, { run: view.layer.run, tag: view.layer.tag, filter: String(unit), zoom: "2", steps: String(stripSteps.length) });
    const step = picture?.step ?? null;
    for (const [name, title, options] of [
      ["norm", "norm", {}],
      ["update_ratio", "update ratio (log)", UPDATE_RATIO],
      ["noise", "noise", {}],
    ]) {
      const canvas = element(this.doc, "canvas", { class: "sparkline", role: "img", "aria-label": `Filter ${unit}'s ${title} over the run` });
      new LineChart(canvas, series[name] || [], { title, width: 180, height: 70, ...options }).draw(step, this.stepRange());
      sparks.append(canvas);
    }
  }

  // One filter's strip and series over the run: fetched once per filter and number of steps, not at
  // every step shown while the panel is open.
  filterLife(view, unit) {
    const key = `${view.key}\u0000${unit}\u0000${view.layer.steps.length}`;
    return this.lives.get(key, async () => {
      const [{ bitmap, headers }, series] = await Promise.all([
        api.imageAndHeaders("strip", view.params({ filter: unit })),
        api.json("filter_series", view.params({ filter: unit })),
      ]);
      const stripSteps = (headers.get("X-Filterviz-Steps") || "").split(",").filter(Boolean).map(Number);
      return { strip: bitmap, stripSteps, series };
    });
  }

  onPanelKey(event) {
    const units = this.views[0]?.layer.info.plan.units;
    if (this.selected === null || !units) return;
    if (event.key === "Escape") {
      this.closePanel();
    } else if (event.key === "ArrowRight" || event.key === "ArrowDown") {
      this.selected = (this.selected + 1) % units;
      this.showFilter(true);
    } else if (event.key === "ArrowLeft" || event.key === "ArrowUp") {
      this.selected = (this.selected - 1 + units) % units;
      this.showFilter(true);
    } else {
      return;
    }
    event.preventDefault();
  }

  say(text) {
    this.message.textContent = text;
  }
}
