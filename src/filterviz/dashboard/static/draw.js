// Drawing grids at exact pixels: an integer zoom, nearest neighbour, never smoothed. Where each tile
// lies is geometry.js's.

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
