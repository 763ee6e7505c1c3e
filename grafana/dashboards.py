"""The IOC boards as code (grafana-foundation-sdk), generated from the centre's catalog.

* `ioc-wall`     the wall of the centre (grafana/boards/wall.py)
* `ioc-agency`   drill-down for one agency (grafana/boards/agency.py)
* `ioc-pipeline` the workers' own health from Prometheus (grafana/boards/pipeline.py)
* `ioc-ii06a`    the running period of form II.06a (grafana/boards/report.py)
* `ioc-766`      the Decision 766 index of the running period (grafana/boards/index766.py)
* `ioc-province` and `ioc-centre`, for a catalog with several centres only (grafana/boards/province.py)

Shared pieces: panel builders in grafana/panels.py, the headline tiles in grafana/tiles.py, every query in
grafana/queries.py, every Vietnamese word in dossiers/labels.py.
"""

from __future__ import annotations

import json
from typing import Any

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as dm

from dossiers.catalog import Catalog
from grafana.boards.agency import TITLE as AGENCY_TITLE
from grafana.boards.agency import agency_board
from grafana.boards.index766 import TITLE as INDEX766_TITLE
from grafana.boards.index766 import index766_board
from grafana.boards.pipeline import TITLE as PIPELINE_TITLE
from grafana.boards.pipeline import pipeline_board
from grafana.boards.province import centre_board, province_board
from grafana.boards.report import TITLE as REPORT_TITLE
from grafana.boards.report import report_board
from grafana.boards.wall import TITLE as WALL_TITLE
from grafana.boards.wall import agency_tile, legend, wall
from grafana.panels import (
    AGENCY_UID,
    CENTRE_UID,
    GRID_COLUMNS,
    INDEX766_UID,
    PIPELINE_UID,
    PROVINCE_UID,
    REPORT_UID,
    TAGS,
    WALL_UID,
    rate_thresholds,
)
from grafana.settings import AlertSettings, WallSettings

WALL_DEFAULTS = WallSettings()

__all__ = [
    "AGENCY_TITLE",
    "AGENCY_UID",
    "CENTRE_UID",
    "GRID_COLUMNS",
    "INDEX766_TITLE",
    "INDEX766_UID",
    "PIPELINE_TITLE",
    "PIPELINE_UID",
    "PROVINCE_UID",
    "REPORT_TITLE",
    "REPORT_UID",
    "TAGS",
    "WALL_TITLE",
    "WALL_UID",
    "WallSettings",
    "agency_board",
    "agency_tile",
    "dashboards",
    "index766_board",
    "legend",
    "pipeline_board",
    "provider",
    "rate_thresholds",
    "report_board",
    "to_json",
    "wall",
]


def to_json(board: db.Dashboard | dm.Dashboard) -> dict[str, Any]:
    """The dashboard as plain JSON data (what Grafana stores)."""
    model = board.build() if isinstance(board, db.Dashboard) else board
    data: dict[str, Any] = json.loads(json.dumps(model, cls=JSONEncoder))
    return data


def dashboards(
    catalog: Catalog, settings: WallSettings = WALL_DEFAULTS, alerts: AlertSettings | None = None
) -> dict[str, dict[str, Any]]:
    """{uid: dashboard JSON} for the five boards (`alerts`: the sync threshold the 766 board colours by),
    and the province and centre boards when the catalog has several centres."""
    boards = {
        WALL_UID: to_json(wall(catalog, settings)),
        AGENCY_UID: to_json(agency_board(catalog, settings)),
        PIPELINE_UID: to_json(pipeline_board(catalog)),
        REPORT_UID: to_json(report_board(catalog)),
        INDEX766_UID: to_json(index766_board(catalog, alerts)),
    }
    if catalog.is_province:
        boards[PROVINCE_UID] = to_json(province_board(catalog, settings))
        boards[CENTRE_UID] = to_json(centre_board(catalog, settings))
    return boards


def provider() -> dict[str, Any]:
    """grafana/provisioning/dashboards/ioc.yaml: load the JSON files beside it into folder "IOC"."""
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "ioc",
                "orgId": 1,
                "folder": "IOC",
                "folderUid": "ioc",
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 30,
                "options": {
                    "path": "/etc/grafana/provisioning/dashboards",
                    "foldersFromFilesStructure": False,
                },
            }
        ],
    }
