// Reordering a grid's filters and outlining some of them, on its pixels. A filter's cells are its tile, or
// with one tile per channel its whole row; the grid's plan says where they are.

import { unitBox } from "./geometry.js";

export const OUTLINES = { dead: [229, 57, 53], duplicate: [251, 140, 0] }; // red, orange

function copyBox(from, to, source, target) {
  for (let row = 0; row < source.height; row++) {
    const start = ((source.y + row) * from.width + source.x) * 4;
    to.data.set(from.data.subarray(start, start + source.width * 4), ((target.y + row) * to.width + target.x) * 4);
  }
}

// The grid with unit ordering[k] moved to position k.
export function reordered(image, plan, ordering) {
  const out = new ImageData(new Uint8ClampedArray(image.data), image.width, image.height);
  ordering.forEach((unit, position) => copyBox(image, out, unitBox(plan, unit), unitBox(plan, position)));
  return out;
}

// Draw a one-pixel frame around position `position`: in the separator around it when there is one, else
// along the cells' own edge.
export function outline(image, plan, position, colour) {
  const box = unitBox(plan, position);
  const inset = plan.padding > 0 ? 1 : 0;
  const left = box.x - inset;
  const top = box.y - inset;
  const right = box.x + box.width - 1 + inset;
  const bottom = box.y + box.height - 1 + inset;
  const paint = (x, y) => {
    const at = (y * image.width + x) * 4;
    image.data[at] = colour[0];
    image.data[at + 1] = colour[1];
    image.data[at + 2] = colour[2];
  };
  for (let x = left; x <= right; x++) {
    paint(x, top);
    paint(x, bottom);
  }
  for (let y = top; y <= bottom; y++) {
    paint(left, y);
    paint(right, y);
  }
}

// The pixels of one unit's cells, cut out of a grid.
export function cutOut(image, plan, position) {
  const box = unitBox(plan, position);
  const out = new ImageData(box.width, box.height);
  copyBox(image, out, box, { x: 0, y: 0 });
  return out;
}
