// The axes of the tab's charts, honest ones: a value's range always covers what means something for it (a
// share 0 to 100%, noise 0 to at least 1.2, the update ratio's band with a decade either side), so a flat
// curve is drawn flat; the x axis has round step ticks. No DOM: unit-tested with node --test.

// What each value's axis always covers, as { share } | { log, cover } | { cover }; the data widen it.
export function axisFor(name, thresholds) {
  if (["dead", "redundancy", "opposites"].includes(name)) return { share: true };
  if (name.startsWith("update_")) {
    const [low, high] = thresholds.update_ratio_band;
    return { log: true, cover: [low / 10, high * 10], band: [low, high] };
  }
  if (name === "noise") return { cover: [0, 1.2] };
  if (name === "drift") return { cover: [0, 1] };
  return { cover: [0, 1] };
}

// [low, high] of an axis: the range it covers, widened to the values (log10 of them on a log axis).
export function axisRange(axis, values) {
  if (axis.share) return [0, 1];
  const shown = axis.log ? values.filter((v) => v > 0).map(Math.log10) : values;
  const cover = (axis.cover || []).map((v) => (axis.log ? Math.log10(v) : v));
  const all = [...shown, ...cover];
  if (all.length === 0) return [0, 1];
  const low = Math.min(...all);
  const high = Math.max(...all);
  return high > low ? [low, high] : [low - 0.5, high + 0.5];
}

// Round steps between `first` and `last` for the x axis: about `count` of them, 1, 2 or 5 times a power of
// ten apart, all whole steps.
export function stepTicks(first, last, count = 4) {
  if (!(last > first)) return [first];
  const raw = (last - first) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const spacing = Math.max(1, [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw));
  const ticks = [];
  for (let tick = Math.ceil(first / spacing) * spacing; tick <= last; tick += spacing) ticks.push(tick);
  return ticks;
}

// The value of each series at `step`: the point at that step or the last one before it (null: none yet).
export function valueAt(points, step) {
  let found = null;
  for (const [at, value] of points) {
    if (at > step) break;
    found = value;
  }
  return found;
}
