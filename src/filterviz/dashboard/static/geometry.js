// Where things lie in a grid, from its plan (rows, cols, tile_height, tile_width, scale, padding, units,
// tiles_per_unit): the layout of filterviz.core.grid.GridPlan.cell_box, stated here once for the browser.
// Every drawing (the grid re-drawn from a kernel, sorting, outlines, hover, the filter panel) uses it.
// No DOM: unit-tested with node --test.

// The grid's size in pixels.
export function gridSize(plan) {
  const extent = (cells, tile) => cells * (tile * plan.scale + plan.padding) + plan.padding;
  return { width: extent(plan.cols, plan.tile_width), height: extent(plan.rows, plan.tile_height) };
}

// Where the tile at (row, column) lies, in grid pixels.
export function cellBox(plan, row, column) {
  const width = plan.tile_width * plan.scale;
  const height = plan.tile_height * plan.scale;
  return {
    x: plan.padding + column * (width + plan.padding),
    y: plan.padding + row * (height + plan.padding),
    width,
    height,
  };
}

// Where tile `index` of the grid's order lies: row index // cols, column index % cols.
export function tileBox(plan, index) {
  return cellBox(plan, Math.floor(index / plan.cols), index % plan.cols);
}

// Where the unit drawn at `position` lies: its tile, or with one tile per input channel its whole row.
export function unitBox(plan, position) {
  if (plan.tiles_per_unit > 1) {
    const first = cellBox(plan, position, 0);
    const last = cellBox(plan, position, plan.tiles_per_unit - 1);
    return { ...first, width: last.x + last.width - first.x };
  }
  return tileBox(plan, position);
}

// The unit (filter) and channel under grid pixel (x, y), or null over a separator or an empty cell.
export function tileAt(plan, x, y) {
  const { width, height } = cellBox(plan, 0, 0);
  const column = Math.floor((x - plan.padding) / (width + plan.padding));
  const row = Math.floor((y - plan.padding) / (height + plan.padding));
  if (row < 0 || column < 0 || row >= plan.rows || column >= plan.cols) return null;
  const box = cellBox(plan, row, column);
  if (x >= box.x + box.width || y >= box.y + box.height) return null; // on the separator after it
  if (plan.tiles_per_unit > 1) {
    return row < plan.units ? { unit: row, channel: column, row, column } : null;
  }
  const unit = row * plan.cols + column;
  return unit < plan.units ? { unit, channel: null, row, column } : null;
}

// The largest integer zoom, at most maxZoom, at which a width x height image fits `room` (at least 1).
export function fitZoom(width, height, room, maxZoom = 16) {
  const fits = Math.floor(Math.min(room.width / width, room.height / height));
  return Math.max(1, Math.min(maxZoom, fits));
}
