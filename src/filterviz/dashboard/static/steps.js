// The tab's state that needs no page: which steps there are, which step each run shows, which runs can be
// compared, in which order filters are drawn. No DOM: unit-tested with node --test.

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

// The steps the slider walks: every step any of the layers (answers of /layer) logged, once, in order.
export function sharedSteps(layers) {
  return [...new Set(layers.flatMap((layer) => layer.steps))].sort((a, b) => a - b);
}

// The logged step before `step` in `steps`, or undefined at the first.
export function previousStep(steps, step) {
  return steps[steps.indexOf(step) - 1];
}

// Two entries of /runs for the same layer: the same kind of kernel, of the same shape (a name alone says
// little: Keras names a layer conv2d in every process).
export function sameLayer(a, b) {
  return Boolean(a && b) && a.kind === b.kind && JSON.stringify(a.kernel_shape) === JSON.stringify(b.kernel_shape);
}

// The units drawn, ordered by `values` (largest first; NaN and missing last; ties by index), or by index.
export function order(units, values = null) {
  const indices = [...Array(units).keys()];
  if (values === null) return indices;
  const key = (i) => (values[i] === null || values[i] === undefined || Number.isNaN(values[i]) ? -Infinity : values[i]);
  return indices.sort((a, b) => key(b) - key(a) || a - b);
}
