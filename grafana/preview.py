"""PNG previews of the boards, drawn from the dashboard JSON's panel grid (no Grafana needed).

Each panel is a box at its gridPos (24 columns scaled to 1920 px; Grafana's 30 px rows plus 8 px
margins), with its Vietnamese title, its panel type and unit, and its threshold bands. Reviewers see
the layout and the colour rules of a board in a pull request without running Grafana.

Vietnamese needs a font with the Latin Extended Additional block (ạ, ế, ộ...): DejaVu Sans
(Debian: fonts-dejavu-core). `find_font()` looks at $IOC_FONT, the usual system paths and the copy that
matplotlib ships, and says how to install it otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

WIDTH = 1920
COLUMNS = 24
ROW = 38  # 30 px row + 8 px margin, as Grafana's grid
MARGIN = 8
HEADER = 52
BACKGROUND = "#111217"
PANEL = "#181b1f"
BORDER = "#2c3235"
TEXT = "#ccccdc"
DIM = "#8e8e99"
COLOURS = {
    "red": "#f2495c",
    "orange": "#ff9830",
    "green": "#73bf69",
    "blue": "#5794f2",
    "purple": "#b877d9",
    "yellow": "#fade2a",
    "text": TEXT,
    "transparent": BORDER,
}
COLOUR_NAMES_VI = {"red": "đỏ", "orange": "cam", "green": "xanh", "blue": "lam", "purple": "tím"}
PANEL_TYPES_VI = {
    "stat": "stat",
    "bargauge": "bar gauge",
    "timeseries": "time series",
    "piechart": "pie chart",
    "table": "table",
    "gauge": "gauge",
}
FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/TTF",
    "/usr/share/fonts/dejavu",
    "/usr/local/share/fonts",
)


def find_font(bold: bool = False) -> Path:
    """A TTF with Vietnamese glyphs: $IOC_FONT, DejaVu Sans from the system, or matplotlib's copy."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    candidates: list[Path] = []
    if os.environ.get("IOC_FONT"):
        candidates.append(Path(os.environ["IOC_FONT"]))
    candidates += [Path(d) / name for d in FONT_DIRS]
    try:
        import matplotlib

        candidates.append(Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf" / name)
    except ImportError:
        pass
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"no {name} found (tried {', '.join(str(c) for c in candidates)}): install it with "
        "`apt-get install -y fonts-dejavu-core`, or set IOC_FONT to a TTF with Vietnamese glyphs"
    )


class Fonts:
    def __init__(self) -> None:
        regular, bold = find_font(), find_font(bold=True)
        self.title = ImageFont.truetype(str(bold), 15)
        self.board = ImageFont.truetype(str(bold), 24)
        self.small = ImageFont.truetype(str(regular), 13)
        self.mono = ImageFont.truetype(str(regular), 11)


def _fmt(value: float, unit: str | None) -> str:
    if unit == "percentunit":
        return f"{value * 100:g}%"
    return f"{value:g}"


def threshold_bands(steps: Iterable[dict[str, Any]], unit: str | None) -> list[tuple[str, str]]:
    """[(colour name, band text)] e.g. [("red", "< 94%"), ("orange", "94%–99%"), ("green", "≥ 99%")]."""
    items = list(steps)
    bands = []
    for i, step in enumerate(items):
        low = step.get("value")
        high = items[i + 1].get("value") if i + 1 < len(items) else None
        if low is None and high is None:
            text = "mọi giá trị"
        elif low is None:
            text = f"< {_fmt(high, unit)}"  # type: ignore[arg-type]
        elif high is None:
            text = f"≥ {_fmt(low, unit)}"
        else:
            text = f"{_fmt(low, unit)}–{_fmt(high, unit)}"
        bands.append((str(step.get("color", "text")), text))
    return bands


def _fit(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _box(panel: dict[str, Any]) -> tuple[int, int, int, int]:
    g = panel["gridPos"]
    col = WIDTH / COLUMNS
    x0 = round(g["x"] * col) + MARGIN // 2
    y0 = HEADER + g["y"] * ROW + MARGIN // 2
    return (
        x0,
        y0,
        round((g["x"] + g["w"]) * col) - MARGIN // 2,
        HEADER + (g["y"] + g["h"]) * ROW - MARGIN // 2,
    )


def _draw_bands(
    draw: ImageDraw.ImageDraw,
    fonts: Fonts,
    x: int,
    y: int,
    right: int,
    label: str,
    bands: list[tuple[str, str]],
) -> int:
    """One line of colour swatches; returns the next line's y."""
    if label:
        draw.text((x, y), label, font=fonts.small, fill=DIM)
        x += int(draw.textlength(label, font=fonts.small)) + 6
    for colour, text in bands:
        swatch = COLOURS.get(colour, colour if colour.startswith("#") else TEXT)
        if x + 12 > right:
            break
        draw.rectangle((x, y + 3, x + 10, y + 13), fill=swatch)
        x += 14
        text = _fit(draw, text, fonts.small, max(right - x, 0))
        draw.text((x, y), text, font=fonts.small, fill=TEXT)
        x += int(draw.textlength(text, font=fonts.small)) + 10
    return y + 17


def _draw_wrapped(
    draw: ImageDraw.ImageDraw, fonts: Fonts, x: int, y: int, right: int, bottom: int, content: str
) -> int:
    """Markdown-ish text, wrapped to the box (text panels)."""
    for paragraph in content.split("\n"):
        line = ""
        for word in paragraph.split():
            trial = f"{line} {word}".strip()
            if draw.textlength(trial, font=fonts.small) > right - x and line:
                if y + 16 > bottom:
                    return y
                draw.text((x, y), line, font=fonts.small, fill=TEXT)
                y, line = y + 17, word
            else:
                line = trial
        if line and y + 16 <= bottom:
            draw.text((x, y), line, font=fonts.small, fill=TEXT)
            y += 17
    return y


def render(board: dict[str, Any], fonts: Fonts | None = None) -> Image.Image:
    """One PNG image of a dashboard's grid."""
    fonts = fonts or Fonts()
    panels = board.get("panels", [])
    rows = max((p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels), default=1)
    image = Image.new("RGB", (WIDTH, HEADER + rows * ROW + MARGIN), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.text(
        (16, 12), f"{board.get('title', '')}   ·   uid {board.get('uid', '')}", font=fonts.board, fill=TEXT
    )
    refresh = board.get("refresh")
    variables = [v.get("name", "") for v in board.get("templating", {}).get("list", [])]
    if refresh:
        note = f"làm mới {refresh}" + (f" · biến: {', '.join(variables)}" if variables else "")
        draw.text(
            (WIDTH - 16 - draw.textlength(note, font=fonts.small), 20), note, font=fonts.small, fill=DIM
        )
    for panel in panels:
        x0, y0, x1, y1 = _box(panel)
        draw.rectangle((x0, y0, x1, y1), fill=PANEL, outline=BORDER, width=1)
        inner = x1 - x0 - 14
        draw.text(
            (x0 + 7, y0 + 5),
            _fit(draw, panel.get("title", ""), fonts.title, inner),
            font=fonts.title,
            fill="#ffffff",
        )
        defaults = panel.get("fieldConfig", {}).get("defaults", {})
        unit = defaults.get("unit")
        kind = PANEL_TYPES_VI.get(panel.get("type", ""), panel.get("type", ""))
        info = f"{kind} · {unit}" if unit else kind
        targets = panel.get("targets", [])
        if targets:
            info += f" · {len(targets)} truy vấn"
        y = y0 + 26
        draw.text((x0 + 7, y), _fit(draw, info, fonts.small, inner), font=fonts.small, fill=DIM)
        y += 18
        if panel.get("type") == "text":
            y = _draw_wrapped(
                draw,
                fonts,
                x0 + 7,
                y,
                x1 - 7,
                y1 - 4,
                panel.get("options", {}).get("content", "").replace("**", ""),
            )
        steps = defaults.get("thresholds", {}).get("steps", [])
        if len(steps) > 1 and y + 14 < y1:
            y = _draw_bands(draw, fonts, x0 + 7, y, x1 - 4, "", threshold_bands(steps, unit))
        for override in panel.get("fieldConfig", {}).get("overrides", []):
            props = {p["id"]: p["value"] for p in override.get("properties", [])}
            if "thresholds" in props and y + 14 < y1:
                label = str(props.get("displayName", override.get("matcher", {}).get("options", ""))) + ":"
                y = _draw_bands(
                    draw,
                    fonts,
                    x0 + 7,
                    y,
                    x1 - 4,
                    label,
                    threshold_bands(props["thresholds"]["steps"], props.get("unit")),
                )
        if targets and y + 16 < y1:
            query = " ".join(str(targets[0].get("query") or targets[0].get("expr") or "").split())
            draw.text(
                (x0 + 7, y1 - 19), _fit(draw, query, fonts.mono, inner), font=fonts.mono, fill="#6e9fff"
            )
    return image


def write_previews(boards: dict[str, dict[str, Any]], out_dir: Path) -> list[Path]:
    """docs/previews/<uid>.png for every board."""
    out_dir.mkdir(parents=True, exist_ok=True)
    fonts = Fonts()
    paths = []
    for uid, board in boards.items():
        path = out_dir / f"{uid}.png"
        render(board, fonts).save(path, optimize=True)
        paths.append(path)
    return paths
