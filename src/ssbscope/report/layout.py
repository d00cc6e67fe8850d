"""Layout checks of report figures: overlapping text boxes and legends covering data.

A figure is embedded in the report as a PNG, where overlapping labels can no longer be found
from the page's DOM; :func:`text_overlaps` checks the figure itself, after drawing it and
before it is rasterised, from the window extents (display pixels) of its visible Text
artists.  :func:`figure_html` records every figure's findings in :data:`RECORD` when
``record`` is switched on (the report tests do), so a test can assert that no figure of the
demo report has overlapping text.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import matplotlib.pyplot as plt
>>> fig, ax = plt.subplots()
>>> _ = ax.set_xlabel("time (s)"); _ = ax.set_title("a title")
>>> text_overlaps(fig)
[]
>>> plt.close(fig)
"""

from __future__ import annotations

__all__ = ["text_overlaps", "legend_covers_data", "RECORD", "recording", "PROBE_JS"]

#: ``(caption, [problems])`` of each figure :func:`ssbscope.report.figure_html` embedded while
#: recording is on (see :func:`recording`).
RECORD: list[tuple[str, list[str]]] = []
_STATE = {"on": False}


class recording:
    """Context manager: record the layout problems of every figure embedded inside it.

    >>> with recording() as rec:
    ...     pass
    >>> rec
    []
    """

    def __enter__(self):
        RECORD.clear()
        _STATE["on"] = True
        return RECORD

    def __exit__(self, *exc):
        _STATE["on"] = False
        return False


def is_recording() -> bool:
    """True inside :func:`recording` (or when ``SSBSCOPE_LAYOUT_CHECK=1`` is set)."""
    import os

    return _STATE["on"] or os.environ.get("SSBSCOPE_LAYOUT_CHECK") == "1"


def _texts(fig, renderer):
    """(label, bbox, artist) of every visible, non-empty Text of ``fig`` (display pixels)."""
    from matplotlib.text import Text

    out = []
    for t in fig.findobj(Text):
        if not t.get_visible() or not t.get_text().strip():
            continue
        ax = t.axes
        if ax is not None and not ax.get_visible():
            continue
        try:
            bb = t.get_window_extent(renderer)
        except Exception:  # noqa: BLE001 - a text that cannot be laid out is not drawn
            continue
        if bb.width <= 0 or bb.height <= 0:
            continue
        if ax is not None and t.get_clip_on():
            clip = t.get_clip_box()
            if clip is not None and not clip.overlaps(bb):
                continue
        owner = (ax.get_title() or ax.get_label()) if ax is not None else ""
        out.append((f"{t.get_text()!r}" + (f" (axes {owner!r})" if owner else ""), bb, t))
    return out


def _ticklabels(fig):
    """(ids of all tick labels, ids of those matplotlib draws: ticks inside the view limits)."""
    every, drawn = set(), set()
    for ax in fig.axes:
        for axis in ax._axis_map.values():  # noqa: SLF001 - x, y (and z) axes
            for tick in axis.majorTicks + axis.minorTicks:
                every.update((id(tick.label1), id(tick.label2)))
            for tick in axis._update_ticks():  # noqa: SLF001 - the ticks drawn at this view
                drawn.update((id(tick.label1), id(tick.label2)))
    return every, drawn


def _corners(t, bb):
    """The 4 corners (display px) of the text's own rectangle, rotated as drawn."""
    import numpy as np

    ang = np.deg2rad(t.get_rotation() % 180.0)
    if abs(np.sin(2 * ang)) < 1e-6:  # 0 or 90 degrees: the window extent is the rectangle
        return np.array([[bb.x0, bb.y0], [bb.x1, bb.y0], [bb.x1, bb.y1], [bb.x0, bb.y1]])
    rot = t.get_rotation()
    try:  # unrotated size of the same text
        t.set_rotation(0)
        b0 = t.get_window_extent(t.figure.canvas.get_renderer())
    finally:
        t.set_rotation(rot)
    w, h = b0.width, b0.height
    c, s = np.cos(ang), np.sin(ang)
    local = np.array([[-w, -h], [w, -h], [w, h], [-w, h]]) / 2
    return local @ np.array([[c, s], [-s, c]]) + [(bb.x0 + bb.x1) / 2, (bb.y0 + bb.y1) / 2]


def _overlap_px(pa, pb) -> float:
    """Penetration depth (px) of two convex polygons (separating axis theorem); <= 0: apart."""
    import numpy as np

    depth = np.inf
    for poly in (pa, pb):
        for k in range(len(poly)):
            e = poly[(k + 1) % len(poly)] - poly[k]
            n = np.array([-e[1], e[0]]) / (np.hypot(*e) or 1.0)
            a, b = pa @ n, pb @ n
            depth = min(depth, min(a.max(), b.max()) - max(a.min(), b.min()))
    return float(depth)


def text_overlaps(fig, *, tol_px: float = 1.5) -> list[str]:
    """Pairs of visible text boxes of a matplotlib figure that overlap.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        Laid out here (``fig.draw_without_rendering()``: the layout engines and text extents
        of a draw, without rasterising the figure) so the boxes are those of the final layout.
    tol_px : float
        Overlaps of at most this many display pixels in either direction are ignored
        (antialiasing margin of adjacent labels).

    Returns
    -------
    list of str
        One line per overlapping pair ("'a' overlaps 'b' by 3x5 px"; rotated labels are
        compared as rotated rectangles, tick labels outside the view limits are skipped),
        legends that cover another text, and legends that cover plotted data
        (:func:`legend_covers_data`); empty when the layout is clean.
    """
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    every, drawn = _ticklabels(fig)
    items = []  # (label, axis-aligned box, rotated corners, id of the artist)
    for label, bb, t in _texts(fig, renderer):
        if id(t) in every and id(t) not in drawn:  # tick outside the view limits: not drawn
            continue
        items.append((label, bb, _corners(t, bb), id(t)))
    out = []
    for i in range(len(items)):
        la, a, pa, _ = items[i]
        for j in range(i + 1, len(items)):
            lb, b, pb, _ = items[j]
            w = min(a.x1, b.x1) - max(a.x0, b.x0)
            h = min(a.y1, b.y1) - max(a.y0, b.y0)
            if w > tol_px and h > tol_px and _overlap_px(pa, pb) > tol_px:
                out.append(f"{la} overlaps {lb} by {w:.0f}x{h:.0f} px")
    # a legend box hides any other text under it
    legends = [ax.get_legend() for ax in fig.axes] + list(fig.legends)
    for leg in legends:
        if leg is None or not leg.get_visible():
            continue
        own = {id(t) for t in leg.get_texts()} | {id(leg.get_title())}
        lb = leg.get_window_extent(renderer)
        for label, bb, _, t_id in items:
            if t_id in own:
                continue
            w = min(lb.x1, bb.x1) - max(lb.x0, bb.x0)
            h = min(lb.y1, bb.y1) - max(lb.y0, bb.y0)
            if w > tol_px and h > tol_px:
                out.append(f"legend {[t.get_text() for t in leg.get_texts()][:3]} covers {label} "
                           f"by {w:.0f}x{h:.0f} px")
    out.extend(legend_covers_data(fig, renderer=renderer))
    return out


def legend_covers_data(fig, *, renderer=None, max_fraction: float = 0.05) -> list[str]:
    """Legends that hide more than ``max_fraction`` of the plotted points or lines of their axes.

    Lines and scatter collections of each axes with a legend are transformed to display
    pixels; a legend box holding more than ``max_fraction`` of those vertices (and at least
    3 of them) is reported, and so is one under which more than ``max_fraction`` of the
    drawn length of the axes' lines (and over 20 px) passes: a reference line (``axhline``)
    or a curve between sparse markers.
    """
    import numpy as np
    from matplotlib.collections import PathCollection

    if renderer is None:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
    out = []
    for ax in fig.axes:
        leg = ax.get_legend()
        if leg is None or not leg.get_visible():
            continue
        bb = leg.get_window_extent(renderer)
        pts = []
        for ln in ax.get_lines():
            if not ln.get_visible():
                continue
            xy = np.asarray(ln.get_xydata(), dtype=float)
            if xy.size:
                pts.append(ax.transData.transform(xy))
        for c in ax.collections:
            if isinstance(c, PathCollection) and c.get_visible():
                off = np.asarray(c.get_offsets(), dtype=float)
                if off.size:
                    pts.append(c.get_offset_transform().transform(off))
        # drawn line segments crossing the legend (a reference line, a curve between markers):
        # the length of line hidden under the box, clipped to the axes
        ab = ax.get_window_extent(renderer)
        hidden_px = total_px = 0.0
        for ln in ax.get_lines():
            if not ln.get_visible() or ln.get_linestyle() in ("None", "", " ") or ln.get_linewidth() <= 0:
                continue
            xy = np.asarray(ln.get_xydata(), dtype=float)
            if len(xy) < 2:
                continue
            d = ln.get_transform().transform(xy)
            for a, b in zip(d[:-1], d[1:]):
                if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
                    continue
                total_px += _clipped_length(a, b, ab)
                hidden_px += _clipped_length(a, b, bb)
        if hidden_px > 20.0 and hidden_px > max_fraction * total_px:
            name = ax.get_title() or ax.get_ylabel() or "axes"
            out.append(f"legend of {name!r} covers {hidden_px:.0f} px of its lines")
        if not pts:
            continue
        p = np.concatenate(pts)
        p = p[np.all(np.isfinite(p), axis=1)]
        inside_ax = (p[:, 0] >= ab.x0) & (p[:, 0] <= ab.x1) & (p[:, 1] >= ab.y0) & (p[:, 1] <= ab.y1)
        p = p[inside_ax]
        if len(p) == 0:
            continue
        hid = (p[:, 0] > bb.x0) & (p[:, 0] < bb.x1) & (p[:, 1] > bb.y0) & (p[:, 1] < bb.y1)
        n = int(hid.sum())
        if n >= 3 and n > max_fraction * len(p):
            name = ax.get_title() or ax.get_ylabel() or "axes"
            out.append(f"legend of {name!r} covers {n} of {len(p)} data points")
    return out


def _clipped_length(a, b, box) -> float:
    """Length (display px) of the segment a-b inside ``box`` (Liang-Barsky clipping)."""
    import numpy as np

    d = b - a
    t0, t1 = 0.0, 1.0
    for p, q in ((-d[0], a[0] - box.x0), (d[0], box.x1 - a[0]),
                 (-d[1], a[1] - box.y0), (d[1], box.y1 - a[1])):
        if p == 0:
            if q < 0:
                return 0.0
            continue
        r = q / p
        if p < 0:
            t0 = max(t0, r)
        else:
            t1 = min(t1, r)
        if t0 > t1:
            return 0.0
    return float((t1 - t0) * np.hypot(*d))


#: A script for a copy of the report page: on load it measures the text boxes
#: (``Range.getBoundingClientRect``) of headings, captions, figure captions, table headers and
#: nav links, and writes ``{"n", "overlaps", "clipped", "wide"}`` as JSON into a
#: ``<pre id="overlaps">`` that ``chromium --headless --dump-dom`` prints: overlapping pairs,
#: table headers whose text is clipped (scrollWidth > clientWidth) and tables that need a
#: sideways scroll.
PROBE_JS = r"""
window.addEventListener('load', () => {
  const sel = 'th, caption, figcaption, h1, h2, h3, h4, nav a, header p';
  const els = [...document.querySelectorAll(sel)].filter(e => e.textContent.trim() && e.offsetParent !== null);
  const boxes = els.map(e => {
    // the text's own box: a Range over the element's contents (an element box can be wider)
    const r = document.createRange(); r.selectNodeContents(e);
    const b = r.getBoundingClientRect();
    return {e, b, name: e.tagName.toLowerCase() + ': ' + e.textContent.trim().slice(0, 60)};
  });
  const tol = 1;
  const overlaps = [];
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const a = boxes[i], c = boxes[j];
    if (a.e.contains(c.e) || c.e.contains(a.e)) continue;
    const w = Math.min(a.b.right, c.b.right) - Math.max(a.b.left, c.b.left);
    const h = Math.min(a.b.bottom, c.b.bottom) - Math.max(a.b.top, c.b.top);
    if (w > tol && h > tol) overlaps.push(`${a.name} overlaps ${c.name} by ${w.toFixed(0)}x${h.toFixed(0)} px`);
  }
  const clipped = [...document.querySelectorAll('th')].filter(e => e.scrollWidth > e.clientWidth + 1)
    .map(e => `th clipped: ${e.textContent.trim()} (${e.scrollWidth} > ${e.clientWidth} px)`);
  // a table wider than the page scrolls sideways: its right-hand headers are hidden
  const wide = [...document.querySelectorAll('table')].filter(t => t.scrollWidth > t.clientWidth + 1)
    .map(t => `table scrolls: ${(t.caption ? t.caption.textContent : t.querySelector('th').textContent).trim().slice(0, 60)} (${t.scrollWidth} > ${t.clientWidth} px)`);
  const pre = document.createElement('pre'); pre.id = 'overlaps';
  pre.textContent = JSON.stringify({n: boxes.length, overlaps, clipped, wide});
  document.body.appendChild(pre);
});
"""
