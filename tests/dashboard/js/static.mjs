// The page's modules, imported from the package as the browser imports them.
export const STATIC = new URL("../../../src/filterviz/dashboard/static/", import.meta.url);

export function load(module) {
  return import(new URL(module, STATIC));
}

// Enough of the browser's ImageData for modules that only fill pixels (no canvas, no DOM).
export class ImageData {
  constructor(dataOrWidth, width, height) {
    if (typeof dataOrWidth === "number") {
      [width, height] = [dataOrWidth, width];
      dataOrWidth = new Uint8ClampedArray(width * height * 4);
    }
    Object.assign(this, { data: dataOrWidth, width, height });
  }
}
globalThis.ImageData ??= ImageData;
