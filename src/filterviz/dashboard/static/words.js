// What the tab says, in words, from what the server sent: health values as people read them, why a value
// is missing, the legend. Every number in these words (thresholds, the kernel limit) comes from the
// server's "thresholds"; none is written here. No DOM: unit-tested with node --test.

// Health values as people read them: shares as percentages, ratios in powers of ten.
export function formatValue(name, value) {
  if (value === null || value === undefined) return "n/a";
  if (name === "nonfinite") return String(value);
  if (name === "dead" || name === "redundancy" || name === "opposites") return `${(100 * value).toFixed(1)}%`;
  if (value === 0) return "0";
  if (name === "update_ratio" || name === "update_mean" || Math.abs(value) < 1e-3) return value.toExponential(2);
  return value.toFixed(3);
}

export function describeKind(entry) {
  return entry?.kind ? `${entry.kind} ${(entry.kernel_shape || []).join("×")}` : "such";
}

export function percent(share) {
  return `${+(100 * share).toFixed(2)}%`;
}

export function bytesText(bytes) {
  return bytes % (1 << 20) === 0 ? `${bytes / (1 << 20)} MiB` : `${(bytes / (1 << 20)).toFixed(2)} MiB`;
}

// Why the page cannot re-draw `what` ("the grid", "the change") from kernels: none were stored, or they are
// larger than the tab re-draws (`layer.kernels_too_large`).
export function noKernel(layer, what = "only the grid as logged") {
  const thresholds = layer.thresholds;
  if (layer.kernels_too_large) {
    return `This run's kernels have more than ${thresholds.redraw_values.toLocaleString("en")} values, more than the tab re-draws in the browser: ${what} can be shown.`;
  }
  return (
    `This run's kernels were not stored (FilterLogger keeps them up to ${bytesText(thresholds.kernel_store_limit)} ` +
    `a step, or with store_kernel=True): ${what} can be shown.`
  );
}

// The outline legend's two entries: [dead, near-duplicate].
export function legend(thresholds) {
  return [
    `dead (weight norm at most ${percent(thresholds.collapse_fraction)} of its first logged norm, or ${percent(thresholds.dead_fraction)} of the median: filterviz sees the weights, not the activations)`,
    `near-duplicate (|cosine| > ${thresholds.duplicate_cosine} with another filter; hover for which)`,
  ];
}

// The health list at `step`: [{ name, text, why }] for each value the layer logs ("not computed at this
// step" where it has none there, and why when a writer that was behind left it out), then each value it
// never logs, with why. `health`: name -> Map(step -> value).
export function healthLines(layer, health, step) {
  const info = layer.info;
  const shed = (layer.shed || {})[String(step)] || [];
  const heavy = layer.thresholds?.heavy || [];
  const lines = [];
  for (const name of info.measured || Object.keys(health)) {
    const values = health[name];
    if (values?.has(step)) {
      lines.push({ name, text: formatValue(name, values.get(step)), why: "" });
      continue;
    }
    if (name === "update_ratio" && !shed.length) continue; // none at the first step
    const behind = shed.includes("cheap health") || (shed.includes("heavy health") && heavy.includes(name));
    lines.push({ name, text: "not computed at this step" + (behind ? " (the writer was behind)" : ""), why: "" });
  }
  for (const [name, why] of Object.entries(info.unmeasured || {})) lines.push({ name, text: "not logged", why });
  return lines;
}

// The words of a filter under the mouse: its index and channel, its values, what it duplicates.
export function filterWords(values, unit, channel) {
  const parts = [`filter ${unit}` + (channel === null ? "" : `, channel ${channel}`)];
  for (const name of ["norm", "min", "max", "update_ratio", "noise"]) {
    if (values[name]) parts.push(`${name.replace("_", " ")} ${formatValue(name, values[name][unit])}`);
  }
  if (values.duplicate?.[unit] === 1) parts.push(`near-duplicate of ${values.partner[unit]}`);
  if (values.opposite?.[unit] === 1) parts.push(`opposite of ${values.opposite_partner[unit]}`);
  if (values.dead?.[unit] === 1) parts.push("dead");
  return parts.join(" · ");
}

// What the health values say at `step`, as the server read them (filterviz.core.health.read, the README's
// words): { level: "alarm" | "note" | "healthy", value, words }, or null where nothing was read.
export function readingAt(layer, step) {
  return (layer.readings || {})[String(step)] || null;
}

// What a step is, beside the steps of Keras' TensorBoard callback and MLflow's: filterviz counts what was
// completed (0: the weights before training); they number an epoch's metrics from 0, at its end.
export function stepWords(axis, step) {
  if (axis === "epoch") {
    if (step === 0) return "epoch 0: the weights before training";
    const keras = `Keras' TensorBoard and MLflow log this epoch's loss at step ${step - 1}`;
    return `epoch ${step}: after ${step} epoch${step === 1 ? "" : "s"} (${keras})`;
  }
  if (axis === "batch") {
    if (step === 0) return "batch 0: the weights before training";
    return `batch ${step}: after ${step} batch${step === 1 ? "" : "es"} (as Keras' and MLflow's batch steps)`;
  }
  return `${axis} ${step}`;
}
