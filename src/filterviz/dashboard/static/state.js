// The tab's state in the page's address, so that a view can be linked, reloaded and shared: the run and
// layer shown, the runs beside it, the step, and how it is drawn. It lives in TensorBoard's own address
// (the tab is a frame of it), as query parameters named "filterviz.<key>" beside TensorBoard's own. The
// newest TensorBoard keeps them as they are; 2.16 drops every parameter it does not know from its address as
// it starts, before the tab is loaded, so the tab then reads the address the page was opened with.
// No DOM: unit-tested with node --test.

export const PREFIX = "filterviz.";
// key -> its value when it is not in the address.
export const DEFAULTS = {
  run: "",
  layer: "",
  compare: [], // runs shown beside the main one
  step: null, // null: the newest
  zoom: "fit",
  normalize: "logged",
  clip: null,
  show: "grid",
  sort: "index",
  flags: false,
};

// The state an address's query string holds (URLSearchParams or a string such as "?a=b"); what it does not
// hold, or holds in a form the tab does not know, is the default.
export function readState(search) {
  const params = typeof search === "string" ? new URLSearchParams(search) : search;
  const value = (key) => params.get(PREFIX + key);
  const number = (key) => {
    const text = value(key);
    return text !== null && /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : null;
  };
  return {
    run: value("run") ?? DEFAULTS.run,
    layer: value("layer") ?? DEFAULTS.layer,
    compare: params.getAll(PREFIX + "compare"),
    step: number("step"),
    zoom: value("zoom") ?? DEFAULTS.zoom,
    normalize: value("normalize") ?? DEFAULTS.normalize,
    clip: number("clip"),
    show: value("show") ?? DEFAULTS.show,
    sort: value("sort") ?? DEFAULTS.sort,
    flags: value("flags") === "1",
  };
}

// The query string that holds the view asked for: the address's own (`current`) when it holds any of the
// tab's parameters, else the one the page was opened with (`opened`, a full address or null: TensorBoard
// 2.16 has dropped them from its address by the time the tab reads it).
export function askedSearch(current, opened) {
  const holdsState = (search) => [...new URLSearchParams(search).keys()].some((key) => key.startsWith(PREFIX));
  if (holdsState(current) || !opened) return current;
  const search = new URL(opened).search;
  return holdsState(search) ? search : current;
}

// `search` with the tab's state written in (defaults left out), every other parameter kept as it was.
export function writeState(search, state) {
  const params = new URLSearchParams(search);
  for (const key of [...params.keys()]) if (key.startsWith(PREFIX)) params.delete(key);
  for (const [key, fallback] of Object.entries(DEFAULTS)) {
    const current = state[key];
    if (key === "compare") {
      for (const run of current || []) params.append(PREFIX + key, run);
    } else if (key === "flags") {
      if (current) params.set(PREFIX + key, "1");
    } else if (current !== undefined && current !== null && current !== fallback) {
      params.set(PREFIX + key, String(current));
    }
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

// A link to a view: TensorBoard's address `base` (http://host:port/), opening the Filters tab with `state`.
export function link(base, state) {
  return `${base.replace(/\/?$/, "/")}${writeState("", state)}#filterviz`;
}
