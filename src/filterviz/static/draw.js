// Drawing grids at exact pixels: an integer zoom, nearest neighbour, never smoothed; and finding which
// tile a pixel belongs to, from the grid's plan (rows, cols, tile size, scale, padding).

export function fitZoom(width, height, room, maxZoom = 16) {
  const fits = Math.floor(Math.min(room.width / width, room.height / height));
  return Math.max(1, Math.min(maxZoom, fits));
}

// Draw `source` (an ImageBitmap, ImageData or canvas) on `canvas`, every pixel a zoom x zoom block.
export function drawZoomed(canvas, source, zoom) {
  if (source instanceof ImageData) source = toCanvas(source);
  canvas.width = source.width * zoom;
  canvas.height = source.height * zoom;
  canvas.style.width = `${canvas.width}px`;
  canvas.style.height = `${canvas.height}px`;
  const context = canvas.getContext("2d");
  context.imageSmoothingEnabled = false;
  context.drawImage(source, 0, 0, canvas.width, canvas.height);
}

export function toCanvas(imageData) {
  const canvas = document.createElement("canvas");
  canvas.width = imageData.width;
  canvas.height = imageData.height;
  canvas.getContext("2d").putImageData(imageData, 0, 0);
  return canvas;
}

// The unit (filter) and channel under grid pixel (x, y), or null over a separator or an empty cell.
export function tileAt(plan, x, y) {
  const cellWidth = plan.tile_width * plan.scale + plan.padding;
  const cellHeight = plan.tile_height * plan.scale + plan.padding;
  const inX = x - plan.padding;
  const inY = y - plan.padding;
  if (inX < 0 || inY < 0) return null;
  const column = Math.floor(inX / cellWidth);
  const row = Math.floor(inY / cellHeight);
  if (inX - column * cellWidth >= cellWidth - plan.padding) return null;
  if (inY - row * cellHeight >= cellHeight - plan.padding) return null;
  if (row >= plan.rows || column >= plan.cols) return null;
  if (plan.tiles_per_unit > 1) {
    return row < plan.units ? { unit: row, channel: column, row, column } : null;
  }
  const unit = row * plan.cols + column;
  return unit < plan.units ? { unit, channel: null, row, column } : null;
}

// Where tile (row, column) sits in grid pixels.
export function cellBox(plan, row, column) {
  return {
    x: plan.padding + column * (plan.tile_width * plan.scale + plan.padding),
    y: plan.padding + row * (plan.tile_height * plan.scale + plan.padding),
    width: plan.tile_width * plan.scale,
    height: plan.tile_height * plan.scale,
  };
}
