"""A self-contained SVG writer for the soak's time series: one small line chart per panel, stacked, no
dependencies (the test venv has no plotting library)."""

from html import escape

WIDTH, PANEL_H, LEFT, RIGHT, TOP, BOTTOM = 900, 150, 80, 20, 28, 26
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    mag = 10 ** len(str(int(v))) / 10 if v >= 1 else 1.0
    for step in (1, 2, 2.5, 5, 10):
        if v <= step * mag:
            return step * mag
    return 10 * mag


def _fmt(v: float) -> str:
    return f"{v:.0f}" if abs(v) >= 10 or v == int(v) else f"{v:.2g}"


def panel(title: str, series: dict, y0: float, t_max: float, marks: list) -> str:
    """series: name -> [(t_seconds, value)]; marks: [(t_seconds, label)] drawn as vertical lines."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, PANEL_H - TOP - BOTTOM
    values = [v for pts in series.values() for _, v in pts]
    lo = min(0.0, min(values)) if values else 0.0
    hi = _nice_max(max(values) if values else 1.0)
    t_max = max(t_max, 1.0)

    def x(t):
        return LEFT + plot_w * t / t_max

    def y(v):
        return y0 + TOP + plot_h * (1 - (v - lo) / ((hi - lo) or 1))

    out = [f'<text x="{LEFT}" y="{y0 + 18}" font-size="13" font-weight="bold">{escape(title)}</text>',
           f'<rect x="{LEFT}" y="{y0 + TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>']
    for frac in (0, 0.5, 1):
        v = lo + (hi - lo) * frac
        out.append(f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" font-size="11" text-anchor="end">{_fmt(v)}</text>')
        out.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#eee"/>')
    for t, label in marks:
        out.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{y0 + TOP}" y2="{y0 + TOP + plot_h}" '
                   f'stroke="#bbb" stroke-dasharray="3,3"><title>{escape(label)}</title></line>')
    for minute in range(0, int(t_max // 60) + 1, max(1, int(t_max // 60) // 10 or 1)):
        out.append(f'<text x="{x(minute * 60):.1f}" y="{y0 + PANEL_H - 8}" font-size="10" '
                   f'text-anchor="middle">{minute} min</text>')
    legend_x = LEFT + 8
    for i, (name, pts) in enumerate(series.items()):
        color = COLORS[i % len(COLORS)]
        if pts:
            path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.5"/>')
        out.append(f'<text x="{legend_x}" y="{y0 + TOP + 14}" font-size="11" fill="{color}">{escape(name)}</text>')
        legend_x += 9 * len(name) + 24
    return "\n".join(out)


def write_svg(path: str, title: str, panels: list, t_max: float, marks: list = ()) -> None:
    """panels: [(panel title, {series name: [(t, v)]})]."""
    height = 40 + PANEL_H * len(panels)
    body = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'font-family="sans-serif">', '<rect width="100%" height="100%" fill="white"/>',
            f'<text x="{LEFT}" y="24" font-size="15" font-weight="bold">{escape(title)}</text>']
    for i, (ptitle, series) in enumerate(panels):
        body.append(panel(ptitle, series, 40 + i * PANEL_H, t_max, list(marks)))
    body.append("</svg>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(body) + "\n")
