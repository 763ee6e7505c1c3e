"""PNG previews: a font with Vietnamese glyphs is found, each board renders at 1920 px wide, boxes sit
where gridPos says, and threshold bands read as text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageFont

from dossiers.catalog import load_catalog
from grafana import dashboards, preview

BOARDS = dashboards.dashboards(load_catalog())


def test_font_has_vietnamese_glyphs() -> None:
    font = ImageFont.truetype(str(preview.find_font()), 20)
    tofu = font.getmask("\uffff").getbbox()
    for char in "ạếộữđĐỷ":
        assert font.getmask(char).getbbox() not in (None, tofu), char


def test_missing_font_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(preview, "FONT_DIRS", (str(tmp_path),))
    monkeypatch.setenv("IOC_FONT", str(tmp_path / "none.ttf"))
    monkeypatch.setitem(__import__("sys").modules, "matplotlib", None)
    with pytest.raises(FileNotFoundError, match="fonts-dejavu-core"):
        preview.find_font()


@pytest.mark.parametrize("uid", sorted(BOARDS))
def test_render_board(uid: str) -> None:
    board = BOARDS[uid]
    image = preview.render(board)
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in board["panels"])
    assert image.size == (1920, preview.HEADER + rows * preview.ROW + preview.MARGIN)
    for panel in board["panels"]:  # every box is painted in the panel colour, not the background
        _, _, x1, y1 = preview._box(panel)
        assert image.getpixel((x1 - 3, y1 - 3)) == Image.new("RGB", (1, 1), preview.PANEL).getpixel((0, 0))


def test_threshold_bands() -> None:
    steps: list[dict[str, Any]] = [
        {"value": None, "color": "red"},
        {"value": 0.94, "color": "orange"},
        {"value": 0.99, "color": "green"},
    ]
    assert preview.threshold_bands(steps, "percentunit") == [
        ("red", "< 94%"),
        ("orange", "94%–99%"),
        ("green", "≥ 99%"),
    ]
    assert preview.threshold_bands([{"value": None, "color": "blue"}], None) == [("blue", "mọi giá trị")]


def test_write_previews(tmp_path: Path) -> None:
    paths = preview.write_previews(BOARDS, tmp_path)
    assert sorted(p.name for p in paths) == [
        "ioc-766.png", "ioc-agency.png", "ioc-ii06a.png", "ioc-pipeline.png", "ioc-wall.png"]
    with Image.open(paths[0]) as image:
        assert image.width == 1920


def test_committed_previews_exist() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "previews"
    for uid in BOARDS:
        with Image.open(docs / f"{uid}.png") as image:
            assert image.width == 1920
