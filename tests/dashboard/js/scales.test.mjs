import assert from "node:assert/strict";
import { test } from "node:test";

import { load } from "./static.mjs";

const { axisFor, axisRange, stepTicks, valueAt } = await load("scales.js");

const THRESHOLDS = { update_ratio_band: [1e-4, 1e-1] };

test("a flat curve stays flat: each value's axis covers its meaningful range", () => {
  assert.deepEqual(axisRange(axisFor("noise", THRESHOLDS), [1.04, 1.05]), [0, 1.2]);
  assert.deepEqual(axisRange(axisFor("noise", THRESHOLDS), [0.995, 0.995]), [0, 1.2]);
  assert.deepEqual(axisRange(axisFor("noise", THRESHOLDS), [0.5, 1.7]), [0, 1.7]);
  assert.deepEqual(axisRange(axisFor("dead", THRESHOLDS), [0.01, 0.02]), [0, 1]);
  const update = axisFor("update_ratio", THRESHOLDS);
  assert.deepEqual(update.band, [1e-4, 1e-1]);
  assert.deepEqual(axisRange(update, [3e-3, 4e-3]), [-5, 0]); // a decade either side of the band, as log10
  assert.deepEqual(axisRange(update, [1e-7, 3]).map((v) => +v.toFixed(6)), [-7, +Math.log10(3).toFixed(6)]);
  assert.deepEqual(axisFor("update_mean", THRESHOLDS).band, [1e-4, 1e-1]);
});

test("step ticks are round whole steps within the run", () => {
  assert.deepEqual(stepTicks(0, 20), [0, 5, 10, 15, 20]);
  assert.deepEqual(stepTicks(0, 1000), [0, 500, 1000]);
  assert.deepEqual(stepTicks(0, 14), [0, 5, 10]);
  assert.deepEqual(stepTicks(3, 7), [3, 4, 5, 6, 7]);
  assert.deepEqual(stepTicks(0, 3), [0, 1, 2, 3]);
  assert.deepEqual(stepTicks(5, 5), [5]);
  for (const tick of stepTicks(0, 997)) assert.ok(Number.isInteger(tick) && tick <= 997);
});

test("the value at a step is the last logged at or before it", () => {
  const points = [[0, 1], [5, 2], [10, 3]];
  assert.equal(valueAt(points, 7), 2);
  assert.equal(valueAt(points, 10), 3);
  assert.equal(valueAt([[3, 1]], 2), null);
});
