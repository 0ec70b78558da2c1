import assert from "node:assert/strict";
import { test } from "node:test";

import { load } from "./static.mjs";

const { cellBox, fitZoom, gridSize, tileAt, tileBox, unitBox } = await load("geometry.js");

const PLANS = [
  { units: 5, tiles_per_unit: 1, rows: 2, cols: 3, tile_height: 4, tile_width: 3, scale: 1, padding: 1 },
  { units: 7, tiles_per_unit: 1, rows: 3, cols: 3, tile_height: 2, tile_width: 5, scale: 3, padding: 0 },
  { units: 4, tiles_per_unit: 3, rows: 4, cols: 3, tile_height: 3, tile_width: 3, scale: 2, padding: 2 },
];

test("the grid's size is its cells and separators", () => {
  assert.deepEqual(gridSize(PLANS[0]), { width: 3 * (3 + 1) + 1, height: 2 * (4 + 1) + 1 });
  assert.deepEqual(gridSize(PLANS[1]), { width: 3 * 15, height: 3 * 6 });
});

test("tile i lies at row i // cols, column i % cols, one separator from the edge and from each other", () => {
  const plan = PLANS[0];
  assert.deepEqual(tileBox(plan, 0), { x: 1, y: 1, width: 3, height: 4 });
  assert.deepEqual(tileBox(plan, 4), { x: 1 + 4, y: 1 + 5, width: 3, height: 4 });
  assert.deepEqual(cellBox(PLANS[2], 1, 2), { x: 2 + 2 * 8, y: 2 + 8, width: 6, height: 6 });
});

test("every pixel names the tile whose box holds it, and separators and empty cells name none", () => {
  for (const plan of PLANS) {
    const { width, height } = gridSize(plan);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let expected = null;
        for (let row = 0; row < plan.rows; row++) {
          for (let column = 0; column < plan.cols; column++) {
            const box = cellBox(plan, row, column);
            if (x >= box.x && x < box.x + box.width && y >= box.y && y < box.y + box.height) expected = { row, column };
          }
        }
        const spot = tileAt(plan, x, y);
        if (expected === null) {
          assert.equal(spot, null, `(${x}, ${y})`);
          continue;
        }
        const perChannel = plan.tiles_per_unit > 1;
        const unit = perChannel ? expected.row : expected.row * plan.cols + expected.column;
        if (unit >= plan.units) assert.equal(spot, null, `(${x}, ${y}) is in an empty cell`);
        else assert.deepEqual(spot, { unit, channel: perChannel ? expected.column : null, ...expected });
      }
    }
  }
});

test("a unit with one tile per channel is its whole row", () => {
  const plan = PLANS[2];
  const box = unitBox(plan, 1);
  const last = cellBox(plan, 1, 2);
  assert.deepEqual(box, { x: 2, y: cellBox(plan, 1, 0).y, width: last.x + last.width - 2, height: 6 });
  assert.deepEqual(unitBox(PLANS[0], 4), tileBox(PLANS[0], 4));
});

test("the zoom is the largest integer that fits, never below 1 or above the cap", () => {
  assert.equal(fitZoom(10, 20, { width: 100, height: 100 }), 5);
  assert.equal(fitZoom(500, 500, { width: 100, height: 100 }), 1);
  assert.equal(fitZoom(2, 2, { width: 1000, height: 1000 }), 16);
  assert.equal(fitZoom(2, 2, { width: 1000, height: 1000 }, 4), 4);
});
