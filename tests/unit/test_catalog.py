"""The shipped sample catalog (dossiers/data/catalog.yaml) and the catalog validation rules."""

from __future__ import annotations

import re
import time as wallclock
import unicodedata
from datetime import date, time
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from dossiers.catalog import MAX_CATALOG_BYTES, Catalog, CatalogError, load_catalog

SAMPLE_PATH = Path(__file__).resolve().parents[2] / "dossiers" / "data" / "catalog.yaml"

EXPECTED_AGENCIES = {
    "STP",
    "SKHDT",
    "STNMT",
    "SNNPTNT",
    "SXD",
    "SGTVT",
    "SCT",
    "SLDTBXH",
    "SYT",
    "SGDDT",
    "SVHTTDL",
    "STTTT",
    "SNV",
    "SKHCN",
    "STC",
    "BQLKKT",
    "CAT",
    "CNVPDKDD_TP",
}
LAND_BRANCH = "CNVPDKDD_TP"
PROCEDURE_CODE = re.compile(r"^[12]\.\d{6}$")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _all_procedures(catalog: Catalog):
    return [(agency, procedure) for agency in catalog.agencies for procedure in agency.procedures]


# --- the shipped sample ---------------------------------------------------------------------------


def test_sample_loads_and_is_marked_as_sample(catalog: Catalog) -> None:
    assert catalog.sample is True
    assert catalog.centre.name == "Trung tâm Phục vụ hành chính công tỉnh Quảng Ngãi"


def test_sample_file_says_it_must_be_edited() -> None:
    header = SAMPLE_PATH.read_text(encoding="utf-8").split("\nsample:", 1)[0]
    assert "SAMPLE" in header
    assert "ILLUSTRATIVE" in header
    assert "Quyết định công bố danh mục" in header


def test_packaged_sample_is_the_repository_file(catalog: Catalog) -> None:
    assert load_catalog(SAMPLE_PATH) == catalog


def test_exactly_19_agencies_with_unique_codes(catalog: Catalog) -> None:
    codes = [agency.code for agency in catalog.agencies]
    assert len(codes) == 19
    assert len(set(codes)) == 19
    assert set(codes) >= EXPECTED_AGENCIES


def test_every_agency_has_a_realistic_handful_of_procedures(catalog: Catalog) -> None:
    for agency in catalog.agencies:
        assert 4 <= len(agency.procedures) <= 7, agency.code


def test_land_branch_kind_and_target(catalog: Catalog) -> None:
    land = catalog.agency(LAND_BRANCH)
    assert land is not None
    assert land.kind == "land"
    assert land.target_on_time == pytest.approx(0.80)
    assert [a.code for a in catalog.agencies if a.kind == "land"] == [LAND_BRANCH]


def test_every_other_agency_targets_99_percent(catalog: Catalog) -> None:
    others = [a for a in catalog.agencies if a.code != LAND_BRANCH]
    assert len(others) == 18
    for agency in others:
        assert agency.target_on_time == pytest.approx(0.99), agency.code
    assert sum(a.kind == "department" for a in others) >= 16


def test_phone_channel_is_the_fishing_vessel_pilot(catalog: Catalog) -> None:
    phone = [(a, p) for a, p in _all_procedures(catalog) if "phone" in p.channels]
    assert len(phone) >= 2
    for agency, procedure in phone:
        assert agency.code == "SNNPTNT", procedure.name
        assert "tàu cá" in procedure.name
        assert procedure.field == "Thủy sản"


def test_short_names_fit_the_wall_grid(catalog: Catalog) -> None:
    for agency in catalog.agencies:
        assert agency.short_name, agency.code
        assert len(agency.short_name) <= 14, agency.short_name
    labels = [a.label for a in catalog.agencies]
    assert len(set(labels)) == len(labels)


def test_processing_times_are_positive_and_plausible(catalog: Catalog) -> None:
    for _agency, procedure in _all_procedures(catalog):
        assert procedure.processing > 0, procedure.code
        if procedure.unit == "hours":
            assert procedure.processing <= 8, procedure.code  # "trong ngày": at most one working day
        else:
            assert procedure.processing <= 90, procedure.code
    units = {p.unit for _, p in _all_procedures(catalog)}
    assert units == {"days", "hours"}


def test_land_procedures_take_days_not_hours(catalog: Catalog) -> None:
    land = catalog.agency(LAND_BRANCH)
    assert land is not None
    day_times = [p.processing for p in land.procedures if p.field == "Đất đai"]
    assert len(day_times) >= 4
    assert all(p.unit == "days" for p in land.procedures if p.field == "Đất đai")
    assert all(5 <= t <= 30 for t in day_times)


def test_procedure_codes_use_the_national_format(catalog: Catalog) -> None:
    for _, procedure in _all_procedures(catalog):
        assert PROCEDURE_CODE.match(procedure.code), procedure.code


def test_lookup_helpers(catalog: Catalog) -> None:
    assert catalog.agency("SNNPTNT") is not None
    assert catalog.agency("NOPE") is None
    first = catalog.agencies[0].procedures[0]
    assert catalog.procedure(catalog.agencies[0].code, first.code) == first
    assert catalog.procedure(catalog.agencies[0].code, "9.999999") is None


def test_calendar_defaults(catalog: Catalog) -> None:
    cal = catalog.calendar
    assert cal.timezone == "Asia/Ho_Chi_Minh"
    assert cal.office_hours.periods == ((time(7, 0), time(11, 30)), (time(13, 30), time(17, 0)))
    assert cal.extra_days_off == ()
    assert cal.extra_working_days == ()
    assert cal.due_soon_hours == 8


def test_contacts_are_roles_at_the_example_domain(catalog: Catalog) -> None:
    contacts = [c for a in catalog.agencies for c in a.supervisors]
    assert catalog.centre.director is not None
    contacts.append(catalog.centre.director)
    assert all(a.supervisors for a in catalog.agencies)
    for contact in contacts:
        assert contact.email is not None and contact.email.endswith("@quangngai.example"), contact
        assert contact.webhook is None, contact


def test_vietnamese_text_is_nfc(catalog: Catalog) -> None:
    """Mixed NFC/NFD spellings would split one field into two labels on the dashboards."""
    texts = [catalog.centre.name]
    for agency in catalog.agencies:
        texts += [agency.name, agency.short_name or ""]
        texts += [s.name for s in agency.supervisors]
        for procedure in agency.procedures:
            texts += [procedure.name, procedure.field]
    for text in texts:
        assert text == unicodedata.normalize("NFC", text), text
        assert text.strip() == text, text


# --- validation of a centre's own file --------------------------------------------------------------

MINIMAL = """
centre:
  name: Trung tâm thử nghiệm
agencies:
  - code: STP
    name: Sở Tư pháp
    procedures:
      - code: "2.000488"
        name: Cấp Phiếu lý lịch tư pháp
        field: Lý lịch tư pháp
        processing: 10
"""


def _validate(text: str) -> Catalog:
    return Catalog.model_validate(yaml.safe_load(text))


def test_minimal_catalog_gets_the_documented_defaults() -> None:
    cat = _validate(MINIMAL)
    assert cat.sample is False
    assert cat.centre.code == "centre"
    assert cat.calendar.office_hours.periods == ((time(7, 0), time(11, 30)), (time(13, 30), time(17, 0)))
    assert cat.calendar.due_soon_hours == 8
    assert cat.calendar.deadline_mode == "day" and cat.calendar.same_day_cutoff is None
    agency = cat.agencies[0]
    assert agency.kind == "department"
    assert agency.target_on_time == 0.99
    assert agency.label == "Sở Tư pháp"
    procedure = agency.procedures[0]
    assert procedure.unit == "days"
    assert procedure.channels == ("counter", "online", "postal")


def test_duplicate_agency_code_is_rejected() -> None:
    text = (
        MINIMAL
        + """\
  - code: STP
    name: Sở Tư pháp (bản sao)
    procedures:
      - {code: "2.000505", name: Khác, field: Lý lịch tư pháp, processing: 5}
"""
    )
    with pytest.raises(ValidationError, match=r"code 'STP' appears twice"):
        _validate(text)


def test_duplicate_procedure_code_within_an_agency_is_rejected() -> None:
    text = (
        MINIMAL
        + """\
      - {code: "2.000488", name: Trùng mã, field: Lý lịch tư pháp, processing: 5}
"""
    )
    with pytest.raises(ValidationError, match=r"agencies\.STP\.procedures: code 2\.000488 appears twice"):
        _validate(text)


def test_unknown_field_is_rejected_and_named() -> None:
    text = MINIMAL.replace("processing: 10", "processing: 10\n        processing_days: 10")
    with pytest.raises(ValidationError) as err:
        _validate(text)
    first = err.value.errors()[0]
    assert first["type"] == "extra_forbidden"
    assert first["loc"] == ("agencies", 0, "procedures", 0, "processing_days")
    assert "agencies.0.procedures.0.processing_days\n  Extra inputs are not permitted" in str(err.value)


def test_unknown_top_level_field_is_rejected() -> None:
    with pytest.raises(ValidationError, match=r"agency\s+Extra inputs are not permitted"):
        _validate(MINIMAL + "agency: []\n")


def test_overlapping_office_hours_are_rejected() -> None:
    text = (
        MINIMAL
        + """\
calendar:
  office_hours:
    periods:
      - ["07:00", "12:00"]
      - ["11:30", "17:00"]
"""
    )
    with pytest.raises(ValidationError, match=r"office hours: periods must be increasing and not overlap"):
        _validate(text)


def test_empty_office_hours_are_rejected() -> None:
    text = MINIMAL + "calendar:\n  office_hours:\n    periods: []\n"
    with pytest.raises(ValidationError, match=r"office hours: at least one period is needed"):
        _validate(text)


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("processing: 10", "processing: 0", "processing"),
        ("processing: 10", "processing: 10\n        unit: minutes", "unit"),
        ("processing: 10", "processing: 10\n        channels: [counter, fax]", "channels"),
        ("    name: Sở Tư pháp\n", "    name: Sở Tư pháp\n    target_on_time: 1.5\n", "target_on_time"),
        ("    name: Sở Tư pháp\n", "    name: Sở Tư pháp\n    kind: ministry\n", "kind"),
        ("centre:\n", "calendar: {deadline_mode: hours}\ncentre:\n", "deadline_mode"),
        ("centre:\n", "calendar: {same_day_cutoff: 15:00}\ncentre:\n", "same_day_cutoff"),
    ],
)
def test_bad_values_are_rejected_with_their_location(old: str, new: str, where: str) -> None:
    assert old in MINIMAL
    with pytest.raises(ValidationError) as err:
        _validate(MINIMAL.replace(old, new, 1))
    assert any(where in problem["loc"] for problem in err.value.errors()), err.value


def test_agency_without_procedures_is_rejected() -> None:
    text = MINIMAL + "  - {code: SYT, name: Sở Y tế, procedures: []}\n"
    with pytest.raises(ValidationError, match=r"procedures"):
        _validate(text)


def test_extra_days_parse_as_dates() -> None:
    text = MINIMAL + "calendar:\n  extra_days_off: [2025-10-10]\n  extra_working_days: [2025-10-11]\n"
    cal = _validate(text).calendar
    assert cal.extra_days_off == (date(2025, 10, 10),)
    assert cal.extra_working_days == (date(2025, 10, 11),)


def test_unquoted_office_hours_are_a_validation_error() -> None:
    text = MINIMAL + "calendar:\n  office_hours:\n    periods:\n      - [13:30, 17:00]\n"
    with pytest.raises(ValidationError, match="quote times"):
        _validate(text)


def test_unknown_time_zone_and_contradictory_days_are_rejected() -> None:
    with pytest.raises(ValidationError, match="IANA time zone"):
        _validate(MINIMAL + "calendar:\n  timezone: Asia/Hanoi_City\n")
    both = MINIMAL + "calendar:\n  extra_days_off: [2026-03-02]\n  extra_working_days: [2026-03-02]\n"
    with pytest.raises(ValidationError, match="both an extra day off and an extra working day"):
        _validate(both)


def test_load_catalog_reads_a_user_file(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    cat = load_catalog(path)
    assert cat.sample is False
    assert [a.code for a in cat.agencies] == ["STP"]
    assert load_catalog(str(path)) == cat


def test_load_catalog_rejects_a_bad_user_file(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(MINIMAL.replace("processing: 10", "processing: -1"), encoding="utf-8")
    with pytest.raises(CatalogError, match=r"agencies\[0\]\.procedures\[0\]\.processing: .*greater than 0"):
        load_catalog(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: &x [1, 2]\nb: [*x, *x]\n", r"line 2: YAML aliases \(\*x\) are not allowed"),
        ("centre: [\n", "not valid YAML"),
        ("- just\n- a list\n", "must be a YAML mapping"),
        ("", "must be a YAML mapping"),
    ],
)
def test_hostile_catalogs_are_refused_with_the_place(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError, match=expected):
        load_catalog(path)


def test_a_yaml_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    """Billion laughs: nine levels of nine aliases would be 387 million strings if expanded."""
    levels = ["a0: &a0 [" + ", ".join(['"lol"'] * 9) + "]"]
    levels += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(levels) + "\ncentre: {name: *a8}\n", encoding="utf-8")
    started = wallclock.monotonic()
    with pytest.raises(CatalogError, match="aliases"):
        load_catalog(path)
    assert wallclock.monotonic() - started < 2.0


def test_a_huge_or_non_utf8_catalog_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:
        handle.truncate(MAX_CATALOG_BYTES + 1)  # sparse: no disk is spent
    with pytest.raises(CatalogError, match=r"over the \d+-byte limit"):
        load_catalog(path)
    path.write_bytes(MINIMAL.replace("Sở Tư pháp", "S\xf4 T\xfd").encode("cp1258", "replace"))
    with pytest.raises(CatalogError, match="not UTF-8"):
        load_catalog(path)


def test_same_day_procedures() -> None:
    """`unit: same_day` (trả trong ngày) needs no processing; a cut-off belongs to such a procedure."""
    same_day = MINIMAL.replace("processing: 10", "unit: same_day\n        same_day_cutoff: \"15:30\"", 1)
    procedure = _validate(same_day).agencies[0].procedures[0]
    assert (procedure.unit, procedure.processing, procedure.same_day_cutoff) == ("same_day", 1, time(15, 30))
    for bad, message in (
        ("processing: 10\n        same_day_cutoff: \"15:00\"", "only for procedures with unit: same_day"),
        ("processing: 2\n        unit: same_day", "returned within the day"),
        ("unit: same_day\n        same_day_cutoff: 15:00", "quote times"),
    ):
        with pytest.raises(ValidationError, match=message):
            _validate(MINIMAL.replace("processing: 10", bad, 1))
