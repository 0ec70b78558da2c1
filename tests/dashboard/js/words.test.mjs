import assert from "node:assert/strict";
import { test } from "node:test";

import { load } from "./static.mjs";

const { filterWords, formatValue, healthLines, legend, noKernel, readingAt } = await load("words.js");

// As /layer sends them (filterviz.dashboard.answers.THRESHOLDS).
const THRESHOLDS = {
  dead_fraction: 0.01,
  collapse_fraction: 0.1,
  duplicate_cosine: 0.9,
  update_ratio_band: [1e-4, 1e-1],
  heavy: ["noise", "redundancy", "opposites"],
  kernel_store_limit: 1 << 20,
};

test("values read as people read them", () => {
  assert.equal(formatValue("dead", 0.125), "12.5%");
  assert.equal(formatValue("update_ratio", 0.00123), "1.23e-3");
  assert.equal(formatValue("update_mean", 0.5), "5.00e-1");
  assert.equal(formatValue("noise", 0.4567), "0.457");
  assert.equal(formatValue("drift", 0), "0");
  assert.equal(formatValue("nonfinite", 3), "3");
  assert.equal(formatValue("noise", null), "n/a");
});

test("the words state the server's numbers, not numbers of their own", () => {
  assert.match(noKernel({ thresholds: THRESHOLDS }), /up to 1 MiB a step/);
  assert.match(noKernel({ thresholds: { ...THRESHOLDS, kernel_store_limit: 1 << 21 } }), /up to 2 MiB a step/);
  assert.match(noKernel({ thresholds: THRESHOLDS }, "the change"), /: the change can be shown\.$/);
  const tooLarge = noKernel({ thresholds: { ...THRESHOLDS, redraw_values: 4194304 }, kernels_too_large: true });
  assert.match(tooLarge, /more than 4,194,304 values, more than the tab re-draws in the browser/);
  const [dead, duplicate] = legend(THRESHOLDS);
  assert.match(dead, /at most 10% of its first logged norm, or 1% of the median/);
  assert.match(duplicate, /\|cosine\| > 0\.9 /);
  assert.match(legend({ ...THRESHOLDS, dead_fraction: 0.025, duplicate_cosine: 0.95 })[1], /> 0\.95 /);
  assert.match(legend({ ...THRESHOLDS, dead_fraction: 0.025 })[0], /or 2\.5% of the median/);
});

function layer(shed = {}) {
  return {
    info: { measured: ["update_ratio", "dead", "noise"], unmeasured: { redundancy: "too few inputs per filter" } },
    shed,
    thresholds: THRESHOLDS,
  };
}

test("a value missing at a step says whether the writer was behind; one never logged says why", () => {
  const health = { update_ratio: new Map([[10, 0.001]]), dead: new Map([[0, 0], [10, 0.25]]), noise: new Map([[0, 0.5]]) };
  assert.deepEqual(healthLines(layer(), health, 0), [
    { name: "dead", text: "0.0%", why: "" },
    { name: "noise", text: "0.500", why: "" },
    { name: "redundancy", text: "not logged", why: "too few inputs per filter" },
  ]); // no update ratio at the first step: there is no step before it
  const behind = healthLines(layer({ 10: ["heavy health"] }), health, 10);
  assert.deepEqual(behind.find((line) => line.name === "noise").text, "not computed at this step (the writer was behind)");
  assert.deepEqual(behind.find((line) => line.name === "dead").text, "25.0%");
  const notDue = healthLines(layer(), health, 10).find((line) => line.name === "noise");
  assert.equal(notDue.text, "not computed at this step");
});

test("a filter under the mouse is named with its values and partners", () => {
  const values = { norm: [1, 2], update_ratio: [0.002, 0.001], duplicate: [0, 1], partner: [-1, 0], dead: [0, 0] };
  assert.equal(filterWords(values, 1, null), "filter 1 · norm 2.000 · update ratio 1.00e-3 · near-duplicate of 0");
  assert.equal(filterWords({}, 0, 2), "filter 0, channel 2");
});

test("the reading at a step is the server's, word for word", () => {
  const reading = { level: "alarm", value: "dead", words: "84% of the filters are dead" };
  assert.deepEqual(readingAt({ readings: { 5: reading } }, 5), reading);
  assert.equal(readingAt({ readings: { 5: reading } }, 6), null);
  assert.equal(readingAt({}, 5), null); // health off: nothing read
});

test("a step says what it counts, beside Keras' and MLflow's steps", async () => {
  const { stepWords } = await load("words.js");
  assert.equal(stepWords("epoch", 0), "epoch 0: the weights before training");
  assert.equal(stepWords("epoch", 3), "epoch 3: after 3 epochs (Keras' TensorBoard and MLflow log this epoch's loss at step 2)");
  assert.equal(stepWords("batch", 40), "batch 40: after 40 batches (as Keras' and MLflow's batch steps)");
  assert.equal(stepWords("epoch", 1), "epoch 1: after 1 epoch (Keras' TensorBoard and MLflow log this epoch's loss at step 0)");
});
