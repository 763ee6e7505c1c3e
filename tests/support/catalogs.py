"""Small catalogs for stream tests: short processing times so SLA transitions happen in seconds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from dossiers.catalog import Catalog

FAST_CATALOG: dict[str, Any] = {
    "sample": False,
    "centre": {"code": "test", "name": "Trung tâm thử nghiệm"},
    "calendar": {"due_soon_hours": 0.001},
    "agencies": [
        {
            "code": "STP",
            "name": "Sở Tư pháp",
            "short_name": "Tư pháp",
            "procedures": [
                {
                    "code": "P.FAST",
                    "name": "Thủ tục vài giây",
                    "field": "Hộ tịch",
                    "processing": 0.002,
                    "unit": "hours",
                },
                {"code": "P.DAY", "name": "Thủ tục một ngày", "field": "Hộ tịch", "processing": 1},
            ],
        },
        {
            "code": "CNVPDKDD_TP",
            "name": "Chi nhánh VPĐKĐĐ thành phố Quảng Ngãi",
            "short_name": "ĐKĐĐ TP",
            "kind": "land",
            "target_on_time": 0.8,
            "procedures": [
                {
                    "code": "L.FAST",
                    "name": "Đất đai nhanh",
                    "field": "Đất đai",
                    "processing": 0.003,
                    "unit": "hours",
                },
            ],
        },
    ],
}


def fast_catalog() -> Catalog:
    return Catalog.model_validate(FAST_CATALOG)


def write_fast_catalog(directory: Path) -> Path:
    path = directory / "fast-catalog.yaml"
    path.write_text(yaml.safe_dump(FAST_CATALOG, allow_unicode=True), encoding="utf-8")
    return path
