import assert from "node:assert/strict";
import { test } from "node:test";

import { load } from "./static.mjs";

const { difference, drawKernel, percentile } = await load("normalize.js");

test("percentile is numpy's linear percentile", () => {
  const sorted = [1, 2, 3, 4, 10];
  assert.equal(percentile(sorted, 50), 3); // numpy.percentile([1, 2, 3, 4, 10], 50)
  assert.equal(percentile(sorted, 90), 7.6000000000000005); // numpy gives this double, not 7.6
  assert.equal(percentile(sorted, 30), 2.2);
  assert.equal(percentile(sorted, 100), 10);
  assert.equal(percentile(sorted, 0), 1);
  assert.ok(Number.isNaN(percentile([], 50)));
});

// Two 1x2 gray tiles in a 1x2 grid, no scale, padding 1: the README's layout and formulas by hand.
const DRAWING = {
  plan: { units: 2, tiles_per_unit: 1, rows: 1, cols: 2, tile_height: 1, tile_width: 2, scale: 1, padding: 1 },
  tile_channels: 1,
  lut: null,
  padding_colour: [0, 0, 0],
  marker_colour: [255, 0, 255],
};
const TILEMAP = Int32Array.from([0, 1, 2, 3]);

function grays(image) {
  const out = [];
  for (let i = 0; i < image.data.length; i += 4) out.push(image.data[i]);
  return out;
}

test("global and per-tile levels are floor(v * 255 + 0.5), laid out with separators", () => {
  const kernel = Float32Array.from([-1, 0, 1, 3]);
  const global = drawKernel(kernel, TILEMAP, DRAWING, "global");
  assert.equal(global.width, 2 * 3 + 1);
  assert.equal(global.height, 3);
  const level = (v) => Math.floor(v * 255 + 0.5);
  const middle = grays(global).slice(7, 14);
  assert.deepEqual(middle, [0, level(0), level(0.25), 0, level(0.5), level(1), 0]);
  const perTile = grays(drawKernel(kernel, TILEMAP, DRAWING, "per_tile")).slice(7, 14);
  assert.deepEqual(perTile, [0, 0, 255, 0, 0, 255, 0]);
  const symmetric = grays(drawKernel(kernel, TILEMAP, DRAWING, "symmetric")).slice(7, 14);
  assert.deepEqual(symmetric, [0, level(0.5 - 1 / 6), level(0.5), 0, level(0.5 + 1 / 6), 255, 0]);
});

test("symmetric takes the largest magnitude where it is a negative weight", () => {
  // M = max |w| = 4 (max w would be 1): v = 1/2 + w / 8, as Python draws [-4, 1, 0] -> [0, 159, 128].
  const symmetric = grays(drawKernel(Float32Array.from([-4, 1, 0, 0.5]), TILEMAP, DRAWING, "symmetric")).slice(7, 14);
  assert.deepEqual(symmetric, [0, 0, 159, 0, 128, 143, 0]); // 0.5 + 0.5 / 8 -> 143.4375, floor(+ 0.5) = 143
});

test("NaN is drawn in the marker colour and left out of the scale", () => {
  const image = drawKernel(Float32Array.from([0, NaN, 1, 2]), TILEMAP, DRAWING, "global");
  const at = (x, y) => [...image.data.subarray((y * image.width + x) * 4, (y * image.width + x) * 4 + 3)];
  assert.deepEqual(at(2, 1), DRAWING.marker_colour);
  assert.deepEqual(at(1, 1), [0, 0, 0]);
  assert.deepEqual(at(5, 1), [255, 255, 255]);
});

test("the change is rounded once to float32, as numpy subtracts float32 kernels", () => {
  const now = Float32Array.from([1.1, 0.3]);
  const before = Float32Array.from([1.0, 0.1]);
  assert.deepEqual([...difference(now, before)], [Math.fround(now[0] - before[0]), Math.fround(now[1] - before[1])]);
});
