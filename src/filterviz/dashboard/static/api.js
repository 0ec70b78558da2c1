// Talking to the plugin's routes (/data/plugin/filterviz/...), and a bounded cache of what they answered.

const ROOT = new URL("..", import.meta.url); // the plugin's root: this module is in static/

export function url(route, params = {}) {
  const address = new URL(route, ROOT);
  for (const [name, value] of Object.entries(params)) address.searchParams.set(name, String(value));
  return address;
}

// Every request that fails is told here too (an Event with .detail = { route, message }), so that the tab
// can say so, whoever asked.
export const failures = new EventTarget();

async function fetched(route, params) {
  let response;
  try {
    response = await fetch(url(route, params));
  } catch (error) {
    failures.dispatchEvent(new CustomEvent("failure", { detail: { route, message: String(error.message || error) } }));
    throw error;
  }
  if (!response.ok) {
    const message = `${response.status} ${await response.text()}`;
    failures.dispatchEvent(new CustomEvent("failure", { detail: { route, message } }));
    throw new Error(`${route}: ${message}`);
  }
  return response;
}

export async function json(route, params) {
  return (await fetched(route, params)).json();
}

export async function bytes(route, params) {
  return (await fetched(route, params)).arrayBuffer();
}

// A PNG as an ImageBitmap: decoded once, drawn many times. Never smoothed: bitmaps keep exact pixels.
export async function image(route, params) {
  return (await imageAndHeaders(route, params)).bitmap;
}

export async function imageAndHeaders(route, params) {
  const response = await fetched(route, params);
  const blob = await response.blob();
  const bitmap = await createImageBitmap(blob, { premultiplyAlpha: "none", colorSpaceConversion: "none" });
  return { bitmap, headers: response.headers };
}

// At most `capacity` values, the least recently used going first: a long run never fills the page's
// memory however far one scrubs. `release` frees what leaves (an ImageBitmap's pixels).
export class Cache {
  constructor(capacity, release = () => {}) {
    this.capacity = capacity;
    this.release = release;
    this.entries = new Map(); // key -> Promise of the value
  }

  get(key, load) {
    let entry = this.entries.get(key);
    if (entry !== undefined) {
      this.entries.delete(key); // most recent last
    } else {
      entry = load();
      entry.catch(() => this.entries.delete(key)); // a failed load is tried again next time
    }
    this.entries.set(key, entry);
    while (this.entries.size > this.capacity) {
      const [oldest, value] = this.entries.entries().next().value;
      this.entries.delete(oldest);
      value.then(this.release, () => {});
    }
    return entry;
  }

  clear() {
    for (const value of this.entries.values()) value.then(this.release, () => {});
    this.entries.clear();
  }
}
