import assert from "node:assert/strict";
import { test } from "node:test";

import { load } from "./static.mjs";

const { DEFAULTS, askedSearch, link, readState, writeState } = await load("state.js");

test("an address without the tab's parameters asks for the defaults", () => {
  assert.deepEqual(readState("?darkMode=true"), { ...DEFAULTS });
});

test("a state written into an address reads back the same, TensorBoard's own parameters kept", () => {
  const state = {
    run: "templates/filters",
    layer: "filters/templates",
    compare: ["templates-lr-too-high/filters", "a run, with & and = in its name"],
    step: 12,
    zoom: "3",
    normalize: "symmetric",
    clip: 99.5,
    show: "change",
    sort: "norm",
    flags: true,
  };
  const search = writeState("?pinnedCards=x&darkMode=true", state);
  assert.deepEqual(readState(search), state);
  const params = new URLSearchParams(search);
  assert.equal(params.get("pinnedCards"), "x");
  assert.equal(params.get("darkMode"), "true");
});

test("defaults are left out of the address, and an old state of the tab is replaced whole", () => {
  const search = writeState("?filterviz.step=4&filterviz.compare=old&x=1", { ...DEFAULTS, run: "r" });
  assert.equal(search, "?x=1&filterviz.run=r");
  assert.equal(writeState("", { ...DEFAULTS }), "");
});

test("what the tab does not know reads as the default", () => {
  const state = readState("?filterviz.step=two&filterviz.clip=1e9x&filterviz.flags=yes");
  assert.equal(state.step, null);
  assert.equal(state.clip, null);
  assert.equal(state.flags, false);
});

test("a link opens the Filters tab with the state", () => {
  const address = link("http://localhost:6006", { ...DEFAULTS, run: "a/filters", compare: ["b/filters"] });
  assert.equal(address, "http://localhost:6006/?filterviz.run=a%2Ffilters&filterviz.compare=b%2Ffilters#filterviz");
});

test("the view asked for is read from the address the page was opened with once TensorBoard dropped it", () => {
  const opened = "http://localhost:6006/?filterviz.run=a%2Ffilters&filterviz.step=2#filterviz";
  // TensorBoard 2.16 has rewritten its address to "/#filterviz" before the tab reads it
  assert.equal(askedSearch("", opened), "?filterviz.run=a%2Ffilters&filterviz.step=2");
  assert.equal(readState(askedSearch("", opened)).step, 2);
  // the address's own parameters (written by the tab since, or kept by a newer TensorBoard) come first
  assert.equal(askedSearch("?filterviz.run=b%2Ffilters", opened), "?filterviz.run=b%2Ffilters");
  // neither holds any: the address's own query, TensorBoard's parameters kept
  assert.equal(askedSearch("?darkMode=true", "http://localhost:6006/#filterviz"), "?darkMode=true");
  assert.equal(askedSearch("?darkMode=true", null), "?darkMode=true");
});
