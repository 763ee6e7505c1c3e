"""The province format of the catalog: centres, shared procedure sets, add/drop, unique agency codes,
and the shipped province sample (dossiers/data/province.yaml)."""

from __future__ import annotations

import importlib.util
import unicodedata
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from dossiers.catalog import Catalog, CatalogError, load_catalog, parse_catalog

DATA = Path(__file__).resolve().parents[2] / "dossiers" / "data"
PROVINCE_PATH = DATA / "province.yaml"
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make_province_catalog.py"

SMALL = """
province: {code: "51", name: Tỉnh Thử nghiệm}
procedure_sets:
  xa:
    - {code: "1.000001", name: Đăng ký khai sinh, field: Hộ tịch, unit: same_day}
    - {code: "2.000002", name: Chứng thực bản sao, field: Chứng thực, unit: same_day, channels: [counter]}
    - {code: "1.000003", name: Đăng ký giám hộ, field: Hộ tịch, processing: 3}
centres:
  - code: TINH
    name: Trung tâm tỉnh
    level: province
    agencies:
      - code: STP
        name: Sở Tư pháp
        procedures:
          - {code: "2.000488", name: Cấp Phiếu lý lịch tư pháp, field: Lý lịch tư pháp, processing: 10}
  - code: "00001"
    name: Trung tâm xã Một
    level: commune
    lat: 15.1
    lon: 108.8
    agencies:
      - {code: "00001_MC", name: Bộ phận một cửa xã Một, procedures_from: xa}
  - code: "00002"
    name: Trung tâm xã Hai
    level: commune
    agencies:
      - code: "00002_MC"
        name: Bộ phận một cửa xã Hai
        procedures_from: xa
        drop: ["2.000002"]
        procedures:
          - {code: "9.000009", name: Thủ tục riêng, field: Đất đai, processing: 5}
"""


def _doc() -> dict[str, Any]:
    document = yaml.safe_load(SMALL)
    assert isinstance(document, dict)
    return document


def _refused(document: dict[str, Any]) -> str:
    with pytest.raises(CatalogError) as err:
        parse_catalog(yaml.safe_dump(document, allow_unicode=True), "p.yaml")
    return str(err.value)


@pytest.fixture(scope="module")
def province() -> Catalog:
    return load_catalog(PROVINCE_PATH)


# --- the format ------------------------------------------------------------------------------------


def test_a_province_file_gives_centres_and_the_flat_agencies() -> None:
    cat = parse_catalog(SMALL)
    assert cat.is_province
    assert cat.province is not None and cat.province.code == "51"
    assert [c.code for c in cat.centres] == ["TINH", "00001", "00002"]
    assert cat.centre.code == "TINH"  # the provincial centre
    assert [(a.code, a.centre) for a in cat.agencies] == [("STP", "TINH"), ("00001_MC", "00001"),
                                                           ("00002_MC", "00002")]
    centre = cat.centre_of("00001_MC")
    assert centre is not None and (centre.level, centre.lat, centre.lon) == ("commune", 15.1, 108.8)
    assert cat.centre_of("nobody") is None
    assert [a.code for a in cat.agencies_of("00002")] == ["00002_MC"]


def test_a_shared_procedure_set_is_resolved_for_each_desk() -> None:
    cat = parse_catalog(SMALL)
    desk = cat.agency("00001_MC")
    assert desk is not None
    assert [p.code for p in desk.procedures] == ["1.000001", "2.000002", "1.000003"]
    assert cat.procedure("00001_MC", "2.000002") is not None
    assert desk.procedure_by_code["1.000001"].unit == "same_day"


def test_a_desk_drops_and_adds_procedures_by_code() -> None:
    cat = parse_catalog(SMALL)
    assert [p.code for p in cat.agency_by_code["00002_MC"].procedures] == ["1.000001", "1.000003", "9.000009"]
    assert cat.procedure("00002_MC", "2.000002") is None
    # the other desk of the same set is untouched
    assert cat.procedure("00001_MC", "2.000002") is not None


def test_a_dropped_code_may_be_added_back_with_other_terms() -> None:
    document = _doc()
    desk = document["centres"][2]["agencies"][0]
    desk["drop"] = ["1.000003"]
    desk["procedures"] = [{"code": "1.000003", "name": "Giám hộ", "field": "Hộ tịch", "processing": 5}]
    procedure = parse_catalog(yaml.safe_dump(document, allow_unicode=True)).procedure("00002_MC", "1.000003")
    assert procedure is not None and procedure.processing == 5


def test_an_added_code_already_in_the_set_is_refused_with_the_fix() -> None:
    document = _doc()
    document["centres"][1]["agencies"][0]["procedures"] = [
        {"code": "1.000003", "name": "Trùng", "field": "Hộ tịch", "processing": 5}]
    message = _refused(document)
    assert "centres[1].agencies[0] (00001_MC).procedures: code 1.000003 appears twice" in message
    assert "`drop`" in message


def test_two_centres_sharing_an_agency_code_are_refused_naming_both() -> None:
    document = _doc()
    document["centres"][2]["agencies"][0]["code"] = "00001_MC"
    message = _refused(document)
    both = "centres[2].agencies[0]: agency code '00001_MC' is used by both centre '00001' and centre '00002'"
    assert both in message
    assert "unique across the province" in message


def test_a_provincial_agency_code_reused_by_a_commune_is_refused() -> None:
    document = _doc()
    document["centres"][1]["agencies"][0]["code"] = "STP"
    assert "agency code 'STP' is used by both centre 'TINH' and centre '00001'" in _refused(document)


def test_an_unknown_procedure_set_is_named_with_its_place() -> None:
    document = _doc()
    document["centres"][2]["agencies"][0]["procedures_from"] = "phuong"
    assert "centres[2].agencies[0]: unknown procedure set 'phuong' (procedure_sets: xa)" in _refused(document)


def test_dropping_a_code_not_in_the_set_is_refused() -> None:
    document = _doc()
    document["centres"][2]["agencies"][0]["drop"] = ["2.999999"]
    assert "centres[2].agencies[0].drop: 2.999999 not in procedure set 'xa'" in _refused(document)


def test_a_desk_left_without_procedures_is_refused() -> None:
    document = _doc()
    document["centres"][1]["agencies"][0]["drop"] = ["1.000001", "2.000002", "1.000003"]
    assert "centres[1].agencies[0] (00001_MC): no procedures" in _refused(document)


def test_errors_inside_a_centre_keep_their_place() -> None:
    document = _doc()
    document["centres"][2]["agencies"][0]["procedures"][0]["processing"] = 0
    expected = "centres[2].agencies[0].procedures[0].processing: Input should be greater than 0"
    assert expected in _refused(document)
    document = _doc()
    document["procedure_sets"]["xa"][2]["unit"] = "weeks"
    assert "procedure_sets.xa[2].unit:" in _refused(document)
    document = _doc()
    document["centres"][1]["level"] = "district"
    assert "centres[1].level: Input should be 'province' or 'commune'" in _refused(document)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["centres"][2].update(code="00001"), "centres[2]: centre code '00001' appears twice"),
        (lambda d: d["centres"][1].update(level="province"),
         "exactly one centre with level: province (the provincial centre); found 2: TINH, 00001"),
        (lambda d: d["centres"][1].pop("lon"), "lat, lon: give both map coordinates or neither"),
        (lambda d: d["centres"][1].update(lat=95), "centres[1].lat: Input should be less than or equal"),
        (lambda d: d.update(agencies=[]), "the top-level `agencies` is for a single-centre catalog"),
        (lambda d: d["procedure_sets"].update(xa=[]), "procedure set 'xa' is empty"),
        (lambda d: d.pop("province"), "province: Field required"),
    ],
)
def test_whole_file_rules_are_refused_with_a_clear_message(change: Any, expected: str) -> None:
    document = _doc()
    change(document)
    assert expected in _refused(document)


def test_a_province_catalog_survives_a_dump_and_reload() -> None:
    cat = parse_catalog(SMALL)
    assert Catalog.model_validate(cat.model_dump(mode="json")) == cat


# --- the single-centre format is unchanged ----------------------------------------------------------


def test_a_single_centre_catalog_has_one_centre_equal_to_its_centre() -> None:
    cat = load_catalog()
    assert not cat.is_province
    assert cat.province is None
    assert cat.centres == (cat.centre,)
    assert cat.centre.level == "province"
    assert {a.centre for a in cat.agencies} == {cat.centre.code}
    assert all(cat.centre_of(a.code) == cat.centre for a in cat.agencies)
    assert cat.agencies_of(cat.centre.code) == cat.agencies
    assert Catalog.model_validate(cat.model_dump(mode="json")) == cat


def test_a_single_centre_agency_naming_another_centre_is_refused() -> None:
    document = {"centre": {"code": "C", "name": "Trung tâm"},
                "agencies": [{"code": "A", "name": "A", "centre": "X",
                              "procedures": [{"code": "1", "name": "p", "field": "f", "processing": 1}]}]}
    with pytest.raises(CatalogError, match=r"agencies\.A\.centre: 'X' is not a centre of the catalog \(C\)"):
        parse_catalog(yaml.safe_dump(document))


# --- the shipped province sample -------------------------------------------------------------------


def test_the_province_sample_loads_marked_as_sample(province: Catalog) -> None:
    assert province.sample is True
    assert province.is_province
    assert province.province is not None and province.province.name == "Tỉnh Quảng Ngãi"
    assert province.centre.name == "Trung tâm Phục vụ hành chính công tỉnh Quảng Ngãi"


def test_the_provincial_centre_has_the_19_agencies_of_the_single_sample(province: Catalog) -> None:
    single = load_catalog()
    assert province.agencies_of(province.centre.code) == tuple(
        a.model_copy(update={"centre": province.centre.code}) for a in single.agencies)
    assert province.calendar == single.calendar


def test_the_province_sample_has_the_96_commune_level_units(province: Catalog) -> None:
    communes = [c for c in province.centres if c.level == "commune"]
    assert len(communes) == 96
    kinds = [c.name.removeprefix("Trung tâm Phục vụ hành chính công ").split(" ")[0] for c in communes]
    assert (kinds.count("xã"), kinds.count("phường"), kinds.count("đặc")) == (86, 9, 1)
    assert all(c.code.isdigit() and len(c.code) == 5 for c in communes)
    assert all(unicodedata.is_normalized("NFC", c.name) for c in communes)
    assert "Trung tâm Phục vụ hành chính công đặc khu Lý Sơn" in {c.name for c in communes}
    for centre in communes:
        desks = province.agencies_of(centre.code)
        assert [a.code for a in desks] == [f"{centre.code}_TP", f"{centre.code}_DC", f"{centre.code}_XH"]


def test_the_province_sample_shows_add_and_drop(province: Catalog) -> None:
    ward = next(c for c in province.centres if c.name.endswith("phường Cẩm Thành"))
    assert province.procedure(f"{ward.code}_XH", "1.001653") is None
    commune = next(c for c in province.centres if c.name.endswith("xã Tịnh Khê"))
    assert province.procedure(f"{commune.code}_XH", "1.001653") is not None
    assert province.procedure("21548_DC", "1.003446") is not None  # đặc khu Lý Sơn adds one
    assert province.procedure("21211_DC", "1.003446") is None


def test_the_province_sample_header_says_what_is_official_and_what_is_not() -> None:
    header = PROVINCE_PATH.read_text(encoding="utf-8").split("\nsample:", 1)[0]
    assert "SAMPLE" in header and "ILLUSTRATIVE" in header and "GENERATED" in header
    assert "1677/NQ-UBTVQH15" in header


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_province_catalog", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_province_sample_is_what_the_script_writes() -> None:
    """The file is generated from catalog.yaml: an edit to either without running the script fails here."""
    assert PROVINCE_PATH.read_text(encoding="utf-8") == _script().render()
