import assert from "node:assert/strict";
import { test } from "node:test";

import { load } from "./static.mjs";

const { atOrBelow, order, previousStep, sameLayer, sharedSteps } = await load("steps.js");

test("a run shows its newest step at or below the shared one", () => {
  const steps = [0, 10, 20, 40];
  assert.equal(atOrBelow(steps, 25), 20);
  assert.equal(atOrBelow(steps, 40), 40);
  assert.equal(atOrBelow(steps, 1000), 40);
  assert.equal(atOrBelow(steps, -1), null);
  assert.equal(atOrBelow([], 3), null);
  for (let step = 0; step <= 50; step++) {
    assert.equal(atOrBelow(steps, step), steps.filter((s) => s <= step).at(-1) ?? null);
  }
});

test("the shared steps are every run's steps, once, in order", () => {
  assert.deepEqual(sharedSteps([{ steps: [0, 5, 10] }, { steps: [0, 3, 10, 12] }]), [0, 3, 5, 10, 12]);
  assert.deepEqual(sharedSteps([]), []);
  assert.equal(previousStep([0, 5, 10], 10), 5);
  assert.equal(previousStep([0, 5, 10], 0), undefined);
});

test("runs compare when their layers are of one kind and kernel shape, whatever their names", () => {
  const a = { layer: "conv2d", kind: "conv2d", kernel_shape: [5, 5, 3, 16] };
  assert.ok(sameLayer(a, { ...a, layer: "conv2d_1" }));
  assert.ok(!sameLayer(a, { ...a, kernel_shape: [5, 5, 3, 32] }));
  assert.ok(!sameLayer(a, { ...a, kind: "dense" }));
  assert.ok(!sameLayer(a, undefined));
});

test("filters sort largest first, ties by index, missing and NaN last", () => {
  assert.deepEqual(order(4), [0, 1, 2, 3]);
  assert.deepEqual(order(5, [1, 3, NaN, 3, null]), [1, 3, 0, 2, 4]);
  assert.deepEqual(order(3, [0.5]), [0, 1, 2]);
});
