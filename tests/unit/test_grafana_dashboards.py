"""The generated boards: no drift from the committed files, SDK round-trip, and what Grafana needs
(unique ids, a grid inside 24 columns without overlaps, known data sources, every agency on the wall
with its own target, the drill-down's variable, the sum-over-partitions subquery everywhere)."""

from __future__ import annotations

import json
import re
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.models import dashboard as dm
from typer.testing import CliRunner

from dossiers.catalog import Catalog, load_catalog
from grafana import build, dashboards, datasources, queries
from grafana.influxql import InfluxQLQuery, register
from ioc.cli import _mount, app

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = load_catalog()
PROVINCE = load_catalog(ROOT / "dossiers" / "data" / "province.yaml")
ONLY_PROVINCE = (dashboards.PROVINCE_UID, dashboards.CENTRE_UID)
BOARDS = {**dashboards.dashboards(SAMPLE),
          **{uid: b for uid, b in dashboards.dashboards(PROVINCE).items() if uid in ONLY_PROVINCE}}
"""The sample's five boards, and the province and centre boards of the province sample (the structure
tests below run on all seven)."""


def small_catalog() -> Catalog:
    """A centre of three agencies with three different targets."""
    procedure = [{"code": "1.000001", "name": "Thủ tục", "field": "Lĩnh vực", "processing": 5}]
    return Catalog.model_validate(
        {
            "centre": {"name": "Trung tâm thử", "director": {"name": "Giám đốc", "email": "gd@example.org"}},
            "agencies": [
                {
                    "code": "A1",
                    "name": "Sở Một",
                    "short_name": "Một",
                    "target_on_time": 0.99,
                    "supervisors": [{"name": "Lãnh đạo", "email": "a1@example.org"}],
                    "procedures": procedure,
                },
                {"code": "A2", "name": "Sở Hai", "target_on_time": 0.9, "procedures": procedure},
                {
                    "code": "LAND",
                    "name": "Chi nhánh đất đai",
                    "short_name": "Đất đai",
                    "kind": "land",
                    "target_on_time": 0.8,
                    "supervisors": [{"name": "GĐ", "webhook": "https://hook.example.org/x"}],
                    "procedures": procedure,
                },
            ],
        }
    )


def rects(board: dict[str, Any]) -> list[tuple[int, int, int, int, str]]:
    return [
        (p["gridPos"]["x"], p["gridPos"]["y"], p["gridPos"]["w"], p["gridPos"]["h"], p.get("title", ""))
        for p in board["panels"]
    ]


# -- drift ------------------------------------------------------------------------------------------------
def test_committed_provisioning_files_match_the_code() -> None:
    """Regenerate in memory and compare: run `ioc grafana build` after changing the code or catalog."""
    stale = build.drift(build.render(SAMPLE), ROOT)
    assert stale == [], f"out of date (run `ioc grafana build`): {stale}"


def test_build_check_command(tmp_path: Path) -> None:
    _mount()
    runner = CliRunner()
    assert runner.invoke(app, ["grafana", "build", "--check"]).exit_code == 0
    result = runner.invoke(app, ["grafana", "build", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == sorted(build.render(SAMPLE))
    assert runner.invoke(app, ["grafana", "build", "--check", "--out", str(tmp_path)]).exit_code == 0
    (tmp_path / build.DATASOURCES_FILE).write_text("edited by hand\n")
    result = runner.invoke(app, ["grafana", "build", "--check", "--out", str(tmp_path)])
    assert result.exit_code == 1 and build.DATASOURCES_FILE in result.output


def test_build_from_another_catalog(tmp_path: Path) -> None:
    catalog_file = tmp_path / "catalog.yaml"
    catalog_file.write_text(yaml.safe_dump(small_catalog().model_dump(mode="json"), allow_unicode=True))
    _mount()
    result = CliRunner().invoke(
        app, ["grafana", "build", "--catalog", str(catalog_file), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    wall = json.loads((tmp_path / build.DASHBOARDS_DIR / "ioc-wall.json").read_text())
    assert {p["title"] for p in wall["panels"]} >= {"Một", "Sở Hai", "Đất đai"}
    alerting = yaml.safe_load((tmp_path / build.ALERTING_FILE).read_text())
    assert {r["uid"] for g in alerting["groups"] for r in g["rules"]} >= {"ioc-ontime-A1", "ioc-ontime-LAND"}


# -- SDK round-trip ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("uid", sorted(BOARDS))
def test_round_trip_through_the_sdk_models(uid: str) -> None:
    register()
    board = BOARDS[uid]
    model = dm.Dashboard.from_json(board)
    assert dashboards.to_json(model) == board
    influx_targets = [
        t
        for p in model.panels or []
        for t in getattr(p, "targets", None) or []
        if isinstance(t, InfluxQLQuery)
    ]
    assert (len(influx_targets) > 0) == (uid != dashboards.PIPELINE_UID)


# -- structure Grafana needs ------------------------------------------------------------------------------
@pytest.mark.parametrize("uid", sorted(BOARDS))
def test_panels_have_unique_ids_and_fit_the_grid(uid: str) -> None:
    board = BOARDS[uid]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for x, y, w, h, title in rects(board):
        assert x >= 0 and w > 0 and x + w <= 24 and y >= 0 and h > 0, title
    for a, b in combinations(rects(board), 2):
        overlap = a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]
        assert not overlap, f"{a[4]!r} overlaps {b[4]!r}"


@pytest.mark.parametrize("uid", sorted(BOARDS))
def test_every_datasource_uid_is_provisioned(uid: str) -> None:
    provisioned = yaml.safe_load((ROOT / build.DATASOURCES_FILE).read_text())
    known = {d["uid"]: d["type"] for d in provisioned["datasources"]}
    refs = []
    for panel in BOARDS[uid]["panels"]:
        refs += [panel["datasource"]] if "datasource" in panel else []
        refs += [t["datasource"] for t in panel.get("targets", [])]
    refs += [v["datasource"] for v in BOARDS[uid].get("templating", {}).get("list", [])]
    assert refs
    for ref in refs:
        assert known.get(ref["uid"]) == ref["type"], ref


def test_wall_settings_for_a_1080p_kiosk() -> None:
    wall = BOARDS[dashboards.WALL_UID]
    assert wall["uid"] == "ioc-wall" and wall["title"] == "Trung tâm IOC — Hành chính công"
    assert wall["refresh"] == "10s" and wall["style"] == "dark" and wall["editable"] is False
    assert wall["timezone"] == "Asia/Ho_Chi_Minh" and wall["time"] == {"from": "now/d", "to": "now"}
    bottom = max(y + h for _, y, _, h, _ in rects(wall))
    assert bottom * 30 + (bottom - 1) * 8 <= 1080  # Grafana rows: 30 px + 8 px margin
    titles = {p["title"] for p in wall["panels"]}
    assert {
        "Tiếp nhận hôm nay",
        "Đã giải quyết hôm nay",
        "Đang giải quyết",
        "Quá hạn",
        "Sắp đến hạn",
        "Tỷ lệ đúng hạn hôm nay",
        "Tỷ lệ đúng hạn tháng",
        "Tỷ lệ đúng hạn năm",
        "Mức độ hài lòng",
        "Quá hạn theo cơ quan",
        "Lưu lượng hồ sơ theo giờ",
        "Kênh tiếp nhận",
        "Thanh toán trực tuyến",
    } <= titles


def agency_tiles(board: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{agency code: tile}, found through the tile's drill-down link."""
    tiles = {}
    for panel in board["panels"]:
        for link in panel.get("links", []):
            match = re.search(r"var-agency=([^&]+)", link["url"])
            if match:
                tiles[match.group(1)] = panel
    return tiles


@pytest.mark.parametrize("catalog", [SAMPLE, small_catalog()], ids=["sample", "small"])
def test_every_agency_has_a_tile_coloured_against_its_own_target(catalog: Catalog) -> None:
    tiles = agency_tiles(dashboards.to_json(dashboards.wall(catalog)))
    assert set(tiles) == {a.code for a in catalog.agencies}
    for agency in catalog.agencies:
        tile = tiles[agency.code]
        assert tile["title"] == agency.label
        steps = tile["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert steps[-1] == {"value": agency.target_on_time, "color": "green"}
        assert steps[0]["color"] == "red" and steps[0]["value"] is None
        queries_ = [t["query"] for t in tile["targets"]]
        assert queries_ == [
            queries.rate_kpi("rate_month", agency=agency.code),
            queries.count_kpi("overdue", agency=agency.code),
        ]


def test_land_branch_target_is_80_percent_on_the_sample_wall() -> None:
    tile = agency_tiles(BOARDS[dashboards.WALL_UID])["CNVPDKDD_TP"]
    assert tile["fieldConfig"]["defaults"]["thresholds"]["steps"][-1]["value"] == 0.8
    assert (
        agency_tiles(BOARDS[dashboards.WALL_UID])["STP"]["fieldConfig"]["defaults"]["thresholds"]["steps"][
            -1
        ]["value"]
        == 0.99
    )


def test_agency_board_variable_and_vietnamese_name() -> None:
    board = BOARDS[dashboards.AGENCY_UID]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["agency"]["query"] == 'SHOW TAG VALUES FROM "live"."kpi" WITH KEY = "agency"'
    assert "agency_name" in variables and "$agency" in variables["agency_name"]["query"]
    titles = " ".join(p.get("title", "") for p in board["panels"])
    assert "${agency_name}" in titles
    tables = [p for p in board["panels"] if p["type"] == "table"]
    assert {t["title"].split(" — ")[0] for t in tables} == {"Hồ sơ quá hạn", "Hồ sơ sắp đến hạn"}
    for t in tables:
        assert (
            '"open" = 1' in t["targets"][0]["query"] and '"dossier", "procedure"' in t["targets"][0]["query"]
        )


def all_influx_queries() -> list[str]:
    return [
        t["query"]
        for b in BOARDS.values()
        for p in b["panels"]
        for t in p.get("targets", [])
        if t.get("datasource", {}).get("type") == "influxdb"
    ]


def test_every_kpi_query_sums_the_last_snapshot_of_each_partition() -> None:
    kpi = [query for query in all_influx_queries() if 'FROM "live"."kpi"' in query]
    assert len(kpi) > 30
    for query in kpi:
        # outer sum( ... ) over inner last()s per partition (a subquery per field: grafana.queries)
        assert re.match(r"SELECT (sum|mean|min)\(", query), query
        inners = re.findall(r'\(SELECT ((?:[^()]|\([^()]*\))*?) FROM "live"\."kpi" WHERE (.*?) '
                            r'GROUP BY ((?:time\(\$__interval\), )?[^()]*?)\)', query)
        assert inners, query
        for select, _, group in inners:
            assert select.startswith("last("), query
            assert group.endswith('"partition"'), query


def test_macros_are_the_ones_grafana_replaces() -> None:
    for query in all_influx_queries():
        for macro in re.findall(r"\$[A-Za-z_]+", query):
            assert macro in ("$timeFilter", "$__interval", "$agency", "$centre", "$col",
                             "$tag_agency_name"), query


def test_datasources_file_uses_environment_and_fixed_uids() -> None:
    data = datasources.provisioning()
    influx, prom = data["datasources"]
    assert (influx["uid"], influx["type"], prom["uid"], prom["type"]) == (
        "ioc-influxdb",
        "influxdb",
        "ioc-prometheus",
        "prometheus",
    )
    assert influx["url"] == "${INFLUX_URL}" and influx["jsonData"]["dbName"] == "${INFLUX_DB}"
    assert influx["jsonData"]["version"] == "InfluxQL"
    assert influx["secureJsonData"]["httpHeaderValue1"] == "Token ${INFLUX_TOKEN}"
    assert prom["url"] == "${PROMETHEUS_URL}"
    text = (ROOT / build.DATASOURCES_FILE).read_text()
    assert "http://" not in text and "token-" not in text.lower()


def test_expand_replaces_environment_like_grafana() -> None:
    env = {
        "INFLUX_URL": "http://i:8086",
        "INFLUX_DB": "ioc",
        "INFLUX_TOKEN": "t",
        "PROMETHEUS_URL": "http://p",
    }
    expanded = datasources.expand(datasources.datasources(), env)
    assert (
        expanded[0]["url"] == "http://i:8086"
        and expanded[0]["secureJsonData"]["httpHeaderValue1"] == "Token t"
    )
    with pytest.raises(KeyError, match="INFLUX_TOKEN"):
        datasources.expand(datasources.datasources(), {k: v for k, v in env.items() if k != "INFLUX_TOKEN"})


def test_dashboard_provider_points_at_the_json_files() -> None:
    provider = yaml.safe_load((ROOT / build.DASHBOARDS_DIR / "ioc.yaml").read_text())["providers"][0]
    assert provider["type"] == "file" and provider["folder"] == "IOC" and provider["folderUid"] == "ioc"
    assert provider["options"]["path"].endswith("/dashboards")
    committed = {p.name for p in (ROOT / build.DASHBOARDS_DIR).glob("*.json")}
    assert committed == {f"{u}.json" for u in BOARDS if u not in ONLY_PROVINCE}  # built from the sample


# -- the board "Chỉ số 766" and its wall tile (issue 17) ---------------------------------------------------
def by_title(board: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["title"]: p for p in board["panels"]}


def test_the_wall_shows_the_766_index_on_its_measured_part() -> None:
    tile = by_title(BOARDS[dashboards.WALL_UID])["Chỉ số 766"]
    assert [t["query"] for t in tile["targets"]] == [queries.i766_scores(by_agency=False)]
    assert tile["options"]["reduceOptions"]["fields"] == "/^(points|max)$/"
    names = {o["matcher"]["options"]: o["properties"][0]["value"] for o in tile["fieldConfig"]["overrides"]}
    assert names == {"points": "Điểm", "max": "Tối đa"}
    assert "64/100" in tile["description"] and tile["links"][0]["url"] == f"/d/{dashboards.INDEX766_UID}"


def test_the_766_board_per_agency_losses_per_group_worst_items_and_trend() -> None:
    board = BOARDS[dashboards.INDEX766_UID]
    assert board["title"] == "Chỉ số 766" and board["time"] == {"from": "now-6M", "to": "now"}
    panels = by_title(board)
    table = panels["Điểm bị trừ theo cơ quan và nhóm chỉ số"]
    assert [t["query"] for t in table["targets"]] == [queries.i766_scores()]
    renames = table["transformations"][1]["options"]["renameByName"]
    assert renames["lost_progress"] == "Điểm bị trừ: Tiến độ, kết quả giải quyết (20 đ)"
    assert {f"lost_{g}" for g in queries.I766_GROUPS} <= set(renames)
    for who, agency in (("Toàn Trung tâm", None), ("${agency_name}", queries.AGENCY_VAR)):
        scores = queries.i766_scores(by_agency=False, agency=agency)
        worst = panels[f"Ba chỉ tiêu mất nhiều điểm nhất — {who}"]
        assert [t["query"] for t in worst["targets"]] == [scores]
        steps = [(t["id"], t["options"]) for t in worst["transformations"]]
        assert [kind for kind, _ in steps] == [
            "filterFieldsByName", "organize", "reduce", "filterByValue", "sortBy", "limit", "organize"]
        options = dict(steps[:-1])
        assert options["filterFieldsByName"]["include"]["names"] == list(queries.I766_SCORED_LOSSES)
        assert options["organize"]["renameByName"]["lost_2_1"].startswith("2.1 Tỷ lệ hồ sơ xử lý trước hạn")
        assert options["reduce"] == {"mode": "seriesToRows", "reducers": ["lastNotNull"]}
        assert options["sortBy"]["sort"] == [{"field": "Last *", "desc": True}]
        assert options["limit"] == {"limitField": 3}
        groups = panels[f"Điểm bị trừ theo nhóm — {who}"]
        assert [t["query"] for t in groups["targets"]] == [scores]
        trend = panels[f"Xu hướng điểm theo ngày — {who}"]
        assert [t["query"] for t in trend["targets"]] == [queries.i766_trend(agency=agency)]
    sync = panels["Đồng bộ Cổng DVCQG theo cơ quan (chỉ tiêu 1.4)"]
    assert [t["query"] for t in sync["targets"]] == [queries.sync_health()]
    assert [v["name"] for v in board["templating"]["list"]] == ["agency", "agency_name"]


# -- a province (issue 15) ---------------------------------------------------------------------------------
def test_province_and_centre_boards_only_for_a_catalog_with_several_centres() -> None:
    assert not set(ONLY_PROVINCE) & set(dashboards.dashboards(SAMPLE))
    boards = dashboards.dashboards(PROVINCE)
    assert set(ONLY_PROVINCE) <= set(boards)
    province = boards[dashboards.PROVINCE_UID]
    titles = {p["title"] for p in province["panels"]}
    assert {"Các Trung tâm, nhiều hồ sơ quá hạn nhất trước",
            "10 Trung tâm cấp xã có nhiều hồ sơ quá hạn nhất",
            "Tỷ lệ đúng hạn tháng so với mục tiêu của từng Trung tâm"} <= titles
    geo = next(p for p in province["panels"] if p["type"] == "geomap")
    assert geo["title"] == f"Bản đồ các Trung tâm (1/{len(PROVINCE.centres)} có tọa độ trong danh mục)"
    assert geo["options"]["layers"][0]["location"] == {"mode": "coords", "latitude": "latitude",
                                                       "longitude": "longitude"}
    links = [o["properties"][0]["value"][0]["url"] for p in province["panels"] if p["type"] == "table"
             for o in p["fieldConfig"]["overrides"] if o["properties"][0]["id"] == "links"]
    assert links and all(u == "/d/ioc-centre?var-centre=${__data.fields.centre}" for u in links)
    centre = boards[dashboards.CENTRE_UID]
    assert [v["name"] for v in centre["templating"]["list"]] == ["centre", "centre_name"]
    agencies = next(p for p in centre["panels"] if p["title"].startswith("Các cơ quan, bộ phận"))
    assert [t["query"] for t in agencies["targets"]] == [
        queries.centre_agencies(c) for c in ("open", "overdue", "due_soon", "rate_month")]
