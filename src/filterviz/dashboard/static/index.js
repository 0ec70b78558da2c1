// The Filters tab's entry point. TensorBoard imports this module into the tab's frame and calls render();
// everything else lives in ./static/, imported relative to this file's URL.
export async function render() {
  const { startDashboard } = await import("./static/app.js");
  startDashboard(document);
}
