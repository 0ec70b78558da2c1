// Drawing a stored kernel in the browser exactly as filterviz.render draws it: the README's formulas, in
// float64 (every JavaScript number is one), with the operations in the order filterviz.normalize applies
// them, rounding half up, so that each gray level is byte for byte the one Python draws.
//
//   per_tile:  v = (w - min) / (max - min) over each tile's own values
//   global:    the same, one min and max over all tiles drawn
//   symmetric: v = 1/2 + w / (2M), M = max |w| over all tiles drawn
//   level = floor(v * 255 + 0.5); clip_percentile p narrows [min, max] to [P(100 - p), P(p)] (for symmetric
//   M = P(p) of |w|), with numpy's linear percentile. Constant scopes are mid-gray (128); NaN and Inf weights
//   are left out of every min, max and percentile and drawn in the marker colour.

import { gridSize, tileBox } from "./geometry.js";

const MID_GRAY = 128;

// numpy.percentile(values, p) with its default "linear" method, for values sorted ascending: numpy's
// virtual index (n - 1) * q, its clamping, and its two-sided interpolation, operation for operation.
export function percentile(sorted, p) {
  const n = sorted.length;
  if (n === 0) return NaN;
  const q = p / 100;
  const index = (n - 1) * q;
  let previous = Math.floor(index);
  let next = previous + 1;
  if (index >= n - 1) {
    previous = next = n - 1; // past either end numpy takes the end value itself
  } else if (index < 0) {
    previous = next = 0;
  }
  const gamma = index - previous;
  const a = sorted[previous];
  const b = sorted[next];
  const difference = b - a;
  return gamma >= 0.5 ? b - difference * (1 - gamma) : a + difference * gamma;
}

function ascending(values) {
  return Float64Array.from(values).sort();
}

// The scope of one normalization: what to subtract and divide by (symmetric: offset null, span 2M).
function scope(values, mode, clip) {
  if (mode === "symmetric") {
    let magnitude;
    if (clip === null) {
      magnitude = 0;
      for (const value of values) magnitude = Math.max(magnitude, Math.abs(value));
    } else {
      magnitude = percentile(ascending(values.map(Math.abs)), clip);
    }
    return { offset: null, span: 2 * magnitude };
  }
  let low;
  let high;
  if (clip === null) {
    low = Infinity;
    high = -Infinity;
    for (const value of values) {
      if (value < low) low = value;
      if (value > high) high = value;
    }
  } else {
    const sorted = ascending(values);
    low = percentile(sorted, 100 - clip);
    high = percentile(sorted, clip);
  }
  return { offset: low, span: high - low };
}

function level(value, { offset, span }) {
  if (!(Number.isFinite(span) && span > 0)) return MID_GRAY; // nothing to spread: mid-gray
  let w;
  if (offset === null) {
    w = value / span;
    w += 0.5;
  } else {
    w = value - offset;
    w /= span;
  }
  w *= 255;
  w += 0.5;
  if (Number.isNaN(w)) return 0;
  return Math.floor(Math.min(Math.max(w, 0), 255));
}

// The grid of a kernel, as filterviz.render draws it with `mode` and `clip` (a percentile or null).
//   kernel: the kernel's values (Float32Array or Float64Array), in Keras layout.
//   tilemap: Int32Array, for each tile (grid order), pixel and channel, the index of its value in `kernel`.
//   drawing: what /layer says of the grid: plan, tile_channels, lut, padding_colour, marker_colour.
export function drawKernel(kernel, tilemap, drawing, mode, clip = null) {
  const { plan } = drawing;
  const channels = drawing.tile_channels;
  const perTile = plan.tile_height * plan.tile_width * channels;
  const tiles = tilemap.length / perTile;
  const values = new Float64Array(tilemap.length);
  let nonfinite = false;
  for (let i = 0; i < tilemap.length; i++) {
    values[i] = kernel[tilemap[i]];
    if (!Number.isFinite(values[i])) nonfinite = true;
  }
  const finite = (start, stop) => {
    const out = [];
    for (let i = start; i < stop; i++) if (Number.isFinite(values[i])) out.push(values[i]);
    return out;
  };
  const scopes = [];
  if (mode === "per_tile") {
    for (let t = 0; t < tiles; t++) scopes.push(scope(finite(t * perTile, (t + 1) * perTile), mode, clip));
  } else {
    const shared = scope(finite(0, values.length), mode, clip);
    for (let t = 0; t < tiles; t++) scopes.push(shared);
  }
  const levels = new Uint8Array(values.length);
  for (let t = 0; t < tiles; t++) {
    for (let i = t * perTile; i < (t + 1) * perTile; i++) levels[i] = level(values[i], scopes[t]);
  }
  return compose(levels, values, tiles, drawing, nonfinite);
}

// Tiles of levels -> RGBA pixels laid out as filterviz.core.grid lays them out (geometry.js), each value a
// scale x scale block, separators and empty cells in the padding colour (black in a
// grid that is all gray), NaN and Inf in the marker colour.
export function compose(levels, values, tiles, drawing, nonfinite) {
  const { plan, lut } = drawing;
  const channels = drawing.tile_channels;
  const { scale, padding } = plan;
  const { width, height } = gridSize(plan);
  const colourGrid = channels === 3 || lut !== null || padding > 0 || nonfinite;
  const background = colourGrid ? drawing.padding_colour : [0, 0, 0];
  const image = new ImageData(width, height);
  const pixels = image.data;
  for (let i = 0; i < pixels.length; i += 4) {
    pixels[i] = background[0];
    pixels[i + 1] = background[1];
    pixels[i + 2] = background[2];
    pixels[i + 3] = 255;
  }
  const perTile = plan.tile_height * plan.tile_width * channels;
  const colour = [0, 0, 0];
  for (let t = 0; t < tiles; t++) {
    const { x: left, y: top } = tileBox(plan, t);
    for (let y = 0; y < plan.tile_height; y++) {
      for (let x = 0; x < plan.tile_width; x++) {
        const first = t * perTile + (y * plan.tile_width + x) * channels;
        let marked = false;
        for (let c = 0; c < channels; c++) if (!Number.isFinite(values[first + c])) marked = true;
        if (marked) {
          colour[0] = drawing.marker_colour[0];
          colour[1] = drawing.marker_colour[1];
          colour[2] = drawing.marker_colour[2];
        } else if (channels === 3) {
          colour[0] = levels[first];
          colour[1] = levels[first + 1];
          colour[2] = levels[first + 2];
        } else if (lut !== null) {
          const entry = lut[levels[first]];
          colour[0] = entry[0];
          colour[1] = entry[1];
          colour[2] = entry[2];
        } else {
          colour[0] = colour[1] = colour[2] = levels[first];
        }
        for (let dy = 0; dy < scale; dy++) {
          let at = ((top + y * scale + dy) * width + left + x * scale) * 4;
          for (let dx = 0; dx < scale; dx++, at += 4) {
            pixels[at] = colour[0];
            pixels[at + 1] = colour[1];
            pixels[at + 2] = colour[2];
          }
        }
      }
    }
  }
  return image;
}

// W_t - W_prev as float32 values, as numpy subtracts two float32 kernels (rounding the exact difference,
// which a double holds, once to float32).
export function difference(current, previous) {
  const out = new Float32Array(current.length);
  for (let i = 0; i < current.length; i++) out[i] = Math.fround(current[i] - previous[i]);
  return out;
}
