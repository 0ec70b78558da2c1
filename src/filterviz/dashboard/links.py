"""Links to a view of the Filters tab: TensorBoard's address with the tab's state in its query, as the
page reads it (static/state.js: parameters named "filterviz.<key>" beside TensorBoard's own)."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlencode

PREFIX = "filterviz."


def view_link(base: str, run: str, layer: str, compare: Sequence[str] = (), step: int | None = None) -> str:
    """The address that opens TensorBoard at `base` (http://host:port) on the Filters tab showing `layer`
    (its tag, filters/<name>) of `run`, with the runs `compare` beside it, at `step` (None: the newest)."""
    params = [(PREFIX + "run", run), (PREFIX + "layer", layer)]
    params += [(PREFIX + "compare", other) for other in compare]
    if step is not None:
        params.append((PREFIX + "step", str(step)))
    return f"{base.rstrip('/')}/?{urlencode(params)}#filterviz"
