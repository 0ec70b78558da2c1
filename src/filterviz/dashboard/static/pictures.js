// What one run's view shows at a step, as pixels: the grid as logged, re-drawn from its stored kernel in
// another normalization, or the change since the step before; then sorted and outlined. Loads through
// bounded caches shared by every view, so that memory stays bounded however long the run.

import * as api from "./api.js";
import { OUTLINES, outline, reordered } from "./arrange.js";
import { difference, drawKernel } from "./normalize.js";
import { order, previousStep } from "./steps.js";
import { noKernel } from "./words.js";

const CACHED_GRIDS = 48; // decoded grids kept
const CACHED_KERNELS = 24;
const CACHED_FILTER_VALUES = 32;

export class Pictures {
  constructor(doc) {
    this.doc = doc;
    this.grids = new api.Cache(CACHED_GRIDS, (bitmap) => bitmap.close());
    this.kernels = new api.Cache(CACHED_KERNELS);
    this.filterValues = new api.Cache(CACHED_FILTER_VALUES);
  }

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

  // { image (ImageData, or null with a note), mode, ordering (the unit at each position, or null) }.
  // settings: { show: "grid" | "change", normalize, clip, sort, flags }.
  async picture(view, step, settings) {
    const { layer } = view;
    let drawn;
    if (settings.show === "change") drawn = await this.change(view, step);
    else if (settings.normalize !== "logged" && layer.kernel_steps.includes(step)) {
      const [kernel, tilemap] = await Promise.all([this.kernel(view, step), this.tilemap(view)]);
      drawn = { image: drawKernel(kernel, tilemap, layer.drawing, settings.normalize, settings.clip), mode: settings.normalize };
    } else {
      drawn = { image: await this.imageData(this.grid(view, step)), mode: "logged" };
    }
    if (drawn.image === null || (settings.sort === "index" && !settings.flags)) return { ...drawn, ordering: null };
    const values = await this.filters(view, step).catch(() => ({}));
    const plan = layer.info.plan;
    const ordering = order(plan.units, settings.sort === "index" ? null : values[settings.sort] ?? null);
    const image = settings.sort === "index" ? drawn.image : reordered(drawn.image, plan, ordering);
    if (settings.flags) {
      ordering.forEach((unit, position) => {
        if (values.dead?.[unit] === 1) outline(image, plan, position, OUTLINES.dead);
        else if (values.duplicate?.[unit] === 1) outline(image, plan, position, OUTLINES.duplicate);
      });
    }
    return { ...drawn, image, ordering };
  }

  // W_t - W_prev, from the two stored kernels (symmetric), or the delta grid FilterLogger logged.
  async change(view, step) {
    const { layer } = view;
    const previous = previousStep(layer.steps, step);
    if (previous === undefined) return { image: null, mode: "change", note: "No step was logged before this one." };
    if (layer.kernel_steps.includes(step) && layer.kernel_steps.includes(previous)) {
      const [now, before, tilemap] = await Promise.all([this.kernel(view, step), this.kernel(view, previous), this.tilemap(view)]);
      return { image: drawKernel(difference(now, before), tilemap, layer.drawing, "symmetric", null), mode: "change" };
    }
    if (layer.delta_steps.includes(step)) return { image: await this.imageData(this.grid(view, step, "delta")), mode: "change" };
    return { image: null, mode: "change", note: noKernel(layer, "the change") };
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
}
