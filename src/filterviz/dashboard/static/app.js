// The Filters tab's controller: a run and layer picker; the grid at exact pixels for every logged step,
// played as a film; the layer's health at that step and over the run; a normalization chosen when looking,
// the change since the step before, filters sorted and flagged; one filter's life in a panel; runs side by
// side. Each of these is a module of its own (static/README.md); this one wires them to the controls.

import * as api from "./api.js";
import { element, labelled, picker } from "./dom.js";
import { drawZoomed } from "./draw.js";
import { FilterPanel } from "./filter_panel.js";
import { fitZoom, tileAt } from "./geometry.js";
import { HealthView } from "./health_view.js";
import { Pictures } from "./pictures.js";
import { Playback } from "./playback.js";
import { askedSearch, readState, writeState } from "./state.js";
import { atOrBelow, sameLayer, sharedSteps } from "./steps.js";
import { describeKind, filterWords, legend, noKernel, stepWords } from "./words.js";

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
const POLL_MS = 15000; // new steps of a run still training
const GAP = 16; // pixels between grids side by side (style.css: .views gap)
const CAPTION = 20; // pixels of a grid's caption, side by side

export function startDashboard(doc) {
  const dashboard = new Dashboard(doc);
  doc.defaultView.filtervizDashboard = dashboard; // for benchmarks/dashboard.py and the curious
  dashboard.start();
  return dashboard;
}

// One run's grid in the page.
class View {
  constructor(dashboard, layer) {
    this.setLayer(layer);
    const doc = dashboard.doc;
    this.canvas = element(doc, "canvas", { class: "grid", tabindex: "0", "aria-label": `Filters of ${layer.run}` });
    this.caption = element(doc, "figcaption");
    this.figure = element(doc, "figure", { class: "view" }, this.caption, this.canvas);
    this.canvas.addEventListener("mousemove", (event) => dashboard.hover(this, event));
    this.canvas.addEventListener("mouseleave", () => (dashboard.tooltip.hidden = true));
    this.canvas.addEventListener("click", (event) => dashboard.pick(this, event));
    this.tilemap = null;
    this.picture = null;
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
    this.problems = {};
    this.views = [];
    this.steps = []; // the shared steps: every step any view logged
    this.index = 0;
    this.token = 0; // the number of the latest step asked for
    this.drawnToken = 0; // and of the latest one drawn
    this.loading = 0; // steps asked for and not yet drawn
    this.pictures = new Pictures(doc);
    this.wanted = readState(askedSearch(this.address().search, this.openedAddress())); // until it is shown
    this.health = new HealthView(doc, (step) => this.show(this.steps.indexOf(step)));
    this.panel = new FilterPanel(doc);
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
    const playButton = element(doc, "button", { type: "button", "aria-pressed": "false" }, "Play");
    const speedPicker = picker(doc, "Speed", SPEEDS.map((s) => [String(s), `${s} steps/s`]), "10");
    this.playback = new Playback(doc.defaultView, this, playButton, speedPicker);
    this.slider = element(doc, "input", { type: "range", min: "0", max: "0", value: "0", "aria-label": "Step" });
    this.stepLabel = element(doc, "output", { "aria-live": "polite" });
    this.note = element(doc, "p", { class: "note", role: "status" });
    this.about = element(doc, "p", { class: "about" });
    this.message = element(doc, "p", { class: "message", role: "status" });
    this.viewsBox = element(doc, "div", { class: "views" });
    this.tooltip = element(doc, "div", { class: "tooltip", role: "tooltip", hidden: "" });
    this.legend = element(doc, "p", { class: "legend", hidden: "" });
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
      [playButton, labelled(doc, "speed", "Speed", speedPicker), labelled(doc, "step", "Step", this.slider), this.stepLabel],
    ].map((children) => element(doc, "div", { class: "controls" }, ...children));
    const stage = element(doc, "div", { class: "stage" }, this.viewsBox, this.tooltip);
    this.root = element(doc, "main", { class: "filterviz" }, ...rows, this.about, this.health.reading, this.health.list, this.note, this.message, stage, this.legend, this.health.curves, this.panel.root);
    doc.body.append(this.root);

    this.runPicker.addEventListener("change", () => this.fillLayers());
    this.layerPicker.addEventListener("change", () => this.selectLayer());
    this.applySettings(this.wanted);
    for (const control of [this.zoomPicker, this.normalizePicker, this.clipInput, this.showPicker, this.sortPicker, this.flagBox]) {
      control.addEventListener("change", () => this.show(this.index));
    }
    api.failures.addEventListener("failure", (event) => this.say(`Could not load ${event.detail.route}: ${event.detail.message}`));
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
    if (runs.includes(this.wanted?.run)) this.runPicker.value = this.wanted.run;
    await this.fillLayers();
  }

  async fillLayers() {
    const run = this.runPicker.value;
    const options = this.layers
      .filter((layer) => layer.run === run)
      .map((layer) => element(this.doc, "option", { value: layer.tag }, layer.layer + (layer.problem ? " (cannot be shown)" : "")));
    this.layerPicker.replaceChildren(...options);
    if (options.some((option) => option.value === this.wanted?.layer)) this.layerPicker.value = this.wanted.layer;
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
    this.playback.stop();
    this.panel.close();
    const tag = this.layerPicker.value;
    const main = this.entry(this.runPicker.value, tag);
    const others = this.layers.filter((layer) => layer.run !== main?.run && !layer.problem && sameLayer(layer, main));
    const boxes = others.map((layer) => {
      const box = element(this.doc, "input", { type: "checkbox", value: layer.run, "data-tag": layer.tag });
      box.checked = Boolean(this.wanted?.compare.includes(layer.run));
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
      this.wanted = null;
      this.clearViews();
      return;
    }
    const chosen = [...this.compare.querySelectorAll("input:checked")].map((box) => [box.value, box.dataset.tag]);
    const pairs = [[main.run, tag], ...chosen];
    try {
      this.views = await Promise.all(pairs.map(async ([run, layerTag]) => new View(this, await api.json("layer", { run, tag: layerTag }))));
    } catch {
      this.clearViews();
      return; // the failure is in the message already
    }
    this.viewsBox.replaceChildren(...this.views.map((view) => view.figure));
    const { info, thresholds } = this.views[0].layer;
    this.about.textContent = [info.path && info.choice ? `${info.path}: ${info.choice}.` : "", info.missing_initial ? `${info.missing_initial}.` : ""].filter(Boolean).join(" ");
    const [dead, duplicate] = legend(thresholds);
    this.legend.replaceChildren(element(this.doc, "span", { class: "swatch dead" }), dead, element(this.doc, "span", { class: "swatch duplicate" }), duplicate);
    this.updateSteps();
    const stored = this.views[0].layer.kernel_steps.length > 0;
    this.normalizePicker.disabled = !stored;
    this.clipInput.disabled = !stored;
    this.normalizePicker.title = stored ? "" : noKernel(this.views[0].layer);
    const wanted = this.wanted?.step ?? null;
    this.wanted = null; // asked for once: from now on the controls say what is shown
    const index = wanted === null ? -1 : this.steps.indexOf(wanted);
    await this.show(index >= 0 ? index : this.steps.length - 1); // the step asked for, or the newest
  }

  // The page's address: TensorBoard's own (the tab is a frame of it, from the same server), or the frame's
  // where that cannot be reached.
  address() {
    return this.addressWindow().location;
  }

  addressWindow() {
    const win = this.doc.defaultView;
    try {
      void win.parent.location.search; // throws where the parent is not this page's to read
      return win.parent;
    } catch {
      return win;
    }
  }

  // The address the page was opened with (its navigation entry's, which a rewrite of the address leaves
  // as it was), or null.
  openedAddress() {
    try {
      return this.addressWindow().performance.getEntriesByType("navigation")[0]?.name ?? null;
    } catch {
      return null;
    }
  }

  // The controls as the address asks (values they do not offer are left as they are).
  applySettings(state) {
    const set = (select, value) => {
      if ([...select.options].some((option) => option.value === String(value))) select.value = String(value);
    };
    set(this.zoomPicker, state.zoom);
    set(this.normalizePicker, state.normalize);
    set(this.showPicker, state.show);
    set(this.sortPicker, state.sort);
    this.clipInput.value = state.clip === null ? "" : String(state.clip);
    this.flagBox.checked = state.flags;
  }

  // Write what is shown into the address, so that a reload or a link shows it again.
  remember() {
    if (this.wanted !== null || this.views.length === 0) return; // the address's own view is not shown yet
    const settings = this.settings();
    const state = {
      run: this.views[0].layer.run,
      layer: this.views[0].layer.tag,
      compare: this.views.slice(1).map((view) => view.layer.run),
      step: this.index === this.steps.length - 1 ? null : this.steps[this.index], // the newest: follow it
      zoom: this.zoomPicker.value,
      normalize: this.normalizePicker.value,
      clip: settings.clip,
      show: settings.show,
      sort: settings.sort,
      flags: settings.flags,
    };
    const win = this.addressWindow();
    const address = win.location;
    const search = writeState(address.search, state);
    if (search === address.search) return;
    try {
      win.history.replaceState(win.history.state, "", `${address.pathname}${search}${address.hash}`);
    } catch {
      // an address this page may not write: the view is simply not remembered
    }
  }

  clearViews() {
    this.views = [];
    this.viewsBox.replaceChildren();
    this.health.clear();
  }

  updateSteps() {
    this.steps = sharedSteps(this.views.map((view) => view.layer));
    this.slider.max = String(Math.max(0, this.steps.length - 1));
    this.health.build(this.views, this.steps);
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
    if (atEnd && !this.playback.playing) await this.show(this.steps.length - 1); // follow the training
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
          return { step, ...(step === null ? { image: null, note: "nothing logged yet" } : await this.pictures.picture(view, step, settings)) };
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
    this.stepLabel.value = `${stepWords(axis, shared)}; ${index + 1} of ${this.steps.length}`;
    this.note.textContent = pictures.map((picture) => picture.note).filter(Boolean)[0] || "";
    this.legend.hidden = !settings.flags;
    this.health.show(this.views[0], pictures[0].step, this.stepRange());
    if (this.panel.unit !== null) this.panel.open(this.views[0], this.panel.unit, () => this.stepRange());
    this.remember();
  }

  // Load the grids of shared step `index` ahead of showing it.
  prefetch(index) {
    const shared = this.steps[index];
    if (shared === undefined) return;
    for (const view of this.views) {
      const step = atOrBelow(view.layer.steps, shared);
      if (step !== null) this.pictures.grid(view, step).catch(() => {});
    }
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

  // "fit": the largest whole zoom at which each grid fits its share of the panel's width and the window's
  // height (the grid then fills the screen when scrolled to).
  zoom(image) {
    const chosen = this.zoomPicker.value;
    if (chosen !== "fit") return Number(chosen);
    const count = this.views.length;
    const width = (this.viewsBox.clientWidth - GAP * (count - 1)) / count;
    const height = this.doc.defaultView.innerHeight - (count > 1 ? CAPTION : 0) - GAP;
    return fitZoom(image.width, image.height, { width, height });
  }

  // The first and last shared step: every chart's x axis.
  stepRange() {
    return [this.steps[0], this.steps[this.steps.length - 1]];
  }

  onKey(event) {
    const target = event.target;
    if (target instanceof HTMLSelectElement || target instanceof HTMLInputElement || this.panel.root.contains(target)) return;
    if (event.key === "ArrowRight") this.show(this.index + 1);
    else if (event.key === "ArrowLeft") this.show(this.index - 1);
    else return;
    event.preventDefault();
  }

  // The filter under the mouse: its unit, channel and position in the grid as drawn (sorted or not).
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
    const values = await this.pictures.filters(view, view.picture.step).catch(() => ({}));
    this.tooltip.textContent = filterWords(values, spot.unit, spot.channel);
    const stage = this.viewsBox.getBoundingClientRect();
    const box = view.canvas.getBoundingClientRect();
    this.tooltip.style.left = `${box.left - stage.left + event.offsetX + 12}px`;
    this.tooltip.style.top = `${box.top - stage.top + event.offsetY + 12}px`;
    this.tooltip.hidden = false;
  }

  pick(view, event) {
    const spot = this.place(view, event);
    if (spot !== null) this.panel.open(this.views[0], spot.unit, () => this.stepRange(), true);
  }

  say(text) {
    this.message.textContent = text;
  }
}
