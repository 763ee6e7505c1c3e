"""The catalog: centres (Trung tâm), their agencies (cơ quan, đơn vị) and procedures (thủ tục hành chính).

A centre, or a province with its commune centres, edits a YAML file; this module validates it so a typo
fails at start-up, not at 3 a.m.
"""

from __future__ import annotations

from datetime import date, time
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from dossiers.events import Channel

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _no_sexagesimal(value: Any, where: str) -> None:
    # YAML reads an unquoted 13:30 as the sexagesimal number 810: refuse it with a fix, not a crash
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"{where}: {value!r} is not a time; quote times in YAML, e.g. \"13:30\"")


class Procedure(_Frozen):
    """One administrative procedure (TTHC) and its legal processing time (thời hạn giải quyết)."""

    code: Code
    name: str
    field: str = Field(description="Domain (lĩnh vực), a low-cardinality label for dashboards")
    processing: float = Field(gt=0, description="Processing time, in `unit` (1 for `same_day`)")
    unit: Literal["days", "hours", "same_day"] = "days"
    """`same_day` (trả trong ngày): due at the close of the receipt day; see `same_day_cutoff`."""
    same_day_cutoff: time | None = None
    """For `same_day` only: received after this local time, due at the close of the next working day
    (overrides the calendar's `same_day_cutoff`)."""
    channels: tuple[Channel, ...] = (Channel.COUNTER, Channel.ONLINE, Channel.POSTAL)
    has_fee: bool = False
    """The procedure charges a fee (phí, lệ phí khác 0): its dossiers are in the 766 index item 3.6's
    denominator. False by default, so a catalog that does not say leaves 3.6 without a denominator (N/A)."""
    requires_written_result: bool = False
    """The result is a written document (yêu cầu trả kết quả bằng văn bản, giấy tờ): the 766 index items
    3.3, 4.1 and 4.2 then want an electronic result. False by default (the rule is not imposed unsaid)."""

    @model_validator(mode="before")
    @classmethod
    def _same_day_defaults(cls, value: Any) -> Any:
        # a "trong ngày" procedure has no number of days to write: its processing time is one day
        if isinstance(value, dict):
            _no_sexagesimal(value.get("same_day_cutoff"), "same_day_cutoff")
            if value.get("unit") == "same_day" and "processing" not in value:
                return {**value, "processing": 1}
        return value

    @model_validator(mode="after")
    def _same_day_only(self) -> Procedure:
        if self.unit == "same_day" and self.processing != 1:
            raise ValueError("processing: a same_day procedure is returned within the day; "
                             "leave processing out (or write 1)")
        if self.same_day_cutoff is not None and self.unit != "same_day":
            raise ValueError("same_day_cutoff: only for procedures with unit: same_day")
        return self


class Contact(_Frozen):
    """Who is told when a dossier of this agency becomes overdue (lãnh đạo phụ trách)."""

    name: str
    email: str | None = None
    webhook: str | None = None


class _AgencyFields(_Frozen):
    """What an agency and a desk as written in a province file share."""

    code: Code
    name: str = Field(description="Vietnamese name, shown on the wall")
    short_name: str | None = Field(default=None, description="Short label for the wall's grid")
    kind: Literal["department", "land", "other"] = "department"
    target_on_time: float = Field(default=0.99, gt=0, le=1)
    supervisors: tuple[Contact, ...] = ()


class Agency(_AgencyFields):
    """An agency or desk stationed at a centre (cơ quan, bộ phận có quầy tại Trung tâm)."""

    centre: Code | None = None
    """The code of the centre the agency sits in; always set in a loaded catalog (the loader fills it)."""
    procedures: tuple[Procedure, ...] = Field(min_length=1)

    @property
    def label(self) -> str:
        return self.short_name or self.name

    @cached_property
    def procedure_by_code(self) -> dict[str, Procedure]:
        return {p.code: p for p in self.procedures}


class OfficeHours(_Frozen):
    """Opening periods of a working day (giờ hành chính); defaults 07:00-11:30 and 13:30-17:00."""

    periods: tuple[tuple[time, time], ...] = ((time(7, 0), time(11, 30)), (time(13, 30), time(17, 0)))

    @field_validator("periods", mode="before")
    @classmethod
    def _quoted_times(cls, value: Any) -> Any:
        # YAML reads an unquoted 13:30 as the sexagesimal number 810: refuse it with a fix, not a crash
        for period in value or ():
            for item in period if isinstance(period, list | tuple) else (period,):
                if isinstance(item, int | float):
                    raise ValueError(f"office hours: {item!r} is not a time; "
                                     'quote times in YAML, e.g. "13:30"')
        return value

    @model_validator(mode="after")
    def _ordered(self) -> OfficeHours:
        previous = time(0, 0)
        for start, end in self.periods:
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ValueError("office hours: times are local to the centre; give no time-zone offset")
            if not previous <= start < end:
                raise ValueError("office hours: periods must be increasing and not overlap")
            previous = end
        if not self.periods:
            raise ValueError("office hours: at least one period is needed")
        return self


DeadlineMode = Literal["day", "instant"]
"""How a period of working days is counted (docs/domain.md section 3):
`day`: as the Civil Code 2015 (Art. 147-148) counts a period in days: the receipt day is not counted, the
period ends at the close of its last working day, and results are classified by date;
`instant`: N x 8 working hours from the receipt instant, results classified by instant."""


class CalendarConfig(_Frozen):
    """Working-time calendar settings; public holidays come from the `holidays` package (VN)."""

    timezone: str = "Asia/Ho_Chi_Minh"
    office_hours: OfficeHours = OfficeHours()
    extra_days_off: tuple[date, ...] = ()
    extra_working_days: tuple[date, ...] = ()
    due_soon_hours: float = Field(default=8.0, ge=0, description="Working hours left that count as due soon")
    deadline_mode: DeadlineMode = Field(default="day", description="How periods of working days are counted")
    same_day_cutoff: time | None = Field(
        default=None, description="Default cut-off for `same_day` procedures (e.g. 15:00)")

    @field_validator("same_day_cutoff", mode="before")
    @classmethod
    def _quoted_cutoff(cls, value: Any) -> Any:
        _no_sexagesimal(value, "same_day_cutoff")
        return value

    @field_validator("same_day_cutoff")
    @classmethod
    def _local_cutoff(cls, value: time | None) -> time | None:
        if value is not None and value.tzinfo is not None:
            raise ValueError("same_day_cutoff: a local time; give no time-zone offset")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not an IANA time zone such as Asia/Ho_Chi_Minh") from exc
        return value

    @model_validator(mode="after")
    def _days_disjoint(self) -> CalendarConfig:
        both = sorted(set(self.extra_days_off) & set(self.extra_working_days))
        if both:
            raise ValueError(f"calendar: {', '.join(map(str, both))} is both an extra day off "
                             "and an extra working day")
        return self


CentreLevel = Literal["province", "commune"]
"""Since 1 July 2025 local government has two levels: the province's centre and each commune's or ward's."""


class Centre(_Frozen):
    """A public administrative service centre (Trung tâm Phục vụ hành chính công)."""

    code: Code = "centre"
    name: str
    level: CentreLevel = "province"
    lat: float | None = Field(default=None, ge=-90, le=90, description="Map latitude (WGS 84), optional")
    lon: float | None = Field(default=None, ge=-180, le=180, description="Map longitude (WGS 84), optional")
    director: Contact | None = None

    @model_validator(mode="after")
    def _both_coordinates(self) -> Centre:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat, lon: give both map coordinates or neither")
        return self


class Province(_Frozen):
    """The province whose centres a catalog describes (tỉnh, thành phố trực thuộc trung ương)."""

    code: Code
    name: str


class Desk(_AgencyFields):
    """An agency or desk as written under a centre of a province file: its procedures may come from a
    shared procedure set (bộ thủ tục dùng chung), plus its own, minus those it drops by code."""

    procedures_from: Code | None = None
    procedures: tuple[Procedure, ...] = ()
    drop: tuple[Code, ...] = ()


class CentreEntry(Centre):
    """A centre as written in a province file: the centre and its agencies or desks."""

    agencies: tuple[Desk, ...] = Field(min_length=1)


class ProvinceFile(_Frozen):
    """The province format of the catalog file, before its procedure sets are resolved.

    Events carry only the agency code, so agency codes are unique across the whole province.
    """

    sample: bool = False
    province: Province
    calendar: CalendarConfig = CalendarConfig()
    procedure_sets: dict[Code, tuple[Procedure, ...]] = {}
    centres: tuple[CentreEntry, ...] = Field(min_length=1)

    @field_validator("procedure_sets")
    @classmethod
    def _sets_not_empty(cls, value: dict[str, tuple[Procedure, ...]]) -> dict[str, tuple[Procedure, ...]]:
        for name, procedures in value.items():
            if not procedures:
                raise ValueError(f"procedure set {name!r} is empty")
            codes = [p.code for p in procedures]
            twice = sorted({c for c in codes if codes.count(c) > 1})
            if twice:
                raise ValueError(f"procedure set {name!r}: code {', '.join(twice)} appears twice")
        return value

    @model_validator(mode="after")
    def _whole(self) -> ProvinceFile:
        self.resolved()  # raises, naming the place, on what only the whole file can tell
        return self

    def resolved(self) -> tuple[tuple[Centre, ...], tuple[Agency, ...]]:
        """The centres and the flat list of agencies, each with its procedures resolved."""
        centres: list[Centre] = []
        agencies: list[Agency] = []
        where: dict[str, str] = {}  # agency code -> the centre that has it
        first: dict[str, int] = {}
        for i, entry in enumerate(self.centres):
            if entry.code in first:
                raise ValueError(f"centres[{i}]: centre code {entry.code!r} appears twice "
                                 f"(first at centres[{first[entry.code]}])")
            first[entry.code] = i
            centres.append(Centre.model_validate(entry.model_dump(exclude={"agencies"})))
            for j, desk in enumerate(entry.agencies):
                place = f"centres[{i}].agencies[{j}]"
                if desk.code in where:
                    raise ValueError(
                        f"{place}: agency code {desk.code!r} is used by both centre {where[desk.code]!r} and "
                        f"centre {entry.code!r}; events carry only the agency code, so codes must be unique "
                        "across the province (prefix a commune's desks with the commune's code)")
                where[desk.code] = entry.code
                agencies.append(Agency(
                    centre=entry.code, procedures=self._procedures(desk, place),
                    **desk.model_dump(exclude={"procedures_from", "procedures", "drop"})))
        provincial = [c.code for c in centres if c.level == "province"]
        if len(provincial) != 1:
            raise ValueError(f"centres: a province catalog has exactly one centre with level: province "
                             f"(the provincial centre); found {len(provincial)}"
                             + (f": {', '.join(provincial)}" if provincial else ""))
        return tuple(centres), tuple(agencies)

    def _procedures(self, desk: Desk, place: str) -> tuple[Procedure, ...]:
        shared: tuple[Procedure, ...] = ()
        if desk.procedures_from is not None:
            if desk.procedures_from not in self.procedure_sets:
                known = ", ".join(sorted(self.procedure_sets)) or "none defined"
                raise ValueError(f"{place}: unknown procedure set {desk.procedures_from!r} "
                                 f"(procedure_sets: {known})")
            shared = self.procedure_sets[desk.procedures_from]
        elif desk.drop:
            raise ValueError(f"{place}.drop: only for a desk with procedures_from (nothing to drop from)")
        in_set = {p.code for p in shared}
        unknown = [code for code in desk.drop if code not in in_set]
        if unknown:
            raise ValueError(f"{place}.drop: {', '.join(unknown)} not in procedure set "
                             f"{desk.procedures_from!r}")
        procedures = tuple(p for p in shared if p.code not in desk.drop) + desk.procedures
        if not procedures:
            raise ValueError(f"{place} ({desk.code}): no procedures (give procedures or procedures_from, "
                             "and do not drop them all)")
        codes = [p.code for p in procedures]
        twice = sorted({c for c in codes if codes.count(c) > 1})
        if twice:
            hint = (f" (already in procedure set {desk.procedures_from!r}: list it in `drop` to replace it)"
                    if in_set & set(twice) else "")
            raise ValueError(f"{place} ({desk.code}).procedures: code {', '.join(twice)} appears twice{hint}")
        return procedures


class Catalog(_Frozen):
    """The whole configuration file: one centre and its agencies, or a province and its centres.

    Either format gives the same model: `agencies` is the flat list of every agency of every centre
    (each knowing its centre), `centres` the centres (one for a single-centre file), `centre` the
    provincial centre (the only one for a single-centre file). One calendar for the whole catalog: one
    province is one time zone and one set of holidays.
    """

    sample: bool = Field(default=False, description="True for the shipped example that a centre must edit")
    province: Province | None = None
    centre: Centre
    centres: tuple[Centre, ...] = ()
    calendar: CalendarConfig = CalendarConfig()
    agencies: tuple[Agency, ...] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _either_format(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        if "centres" in value and "agencies" not in value:
            return _from_province_file(value)
        listed = value.get("centres")
        if isinstance(listed, list | tuple) and any(isinstance(c, dict) and "agencies" in c for c in listed):
            raise ValueError("agencies: a province catalog lists the agencies under each centre; "
                             "the top-level `agencies` is for a single-centre catalog (centre + agencies)")
        centre = value.get("centre")
        code = centre.get("code", "centre") if isinstance(centre, dict) else getattr(centre, "code", None)
        agencies = value.get("agencies")
        if not isinstance(code, str) or not isinstance(agencies, list | tuple):
            return value  # the field errors say what is wrong
        placed: list[Any] = []
        for agency in agencies:  # an agency of a single-centre file sits in that centre
            if isinstance(agency, dict) and "centre" not in agency:
                agency = {**agency, "centre": code}
            elif isinstance(agency, Agency) and agency.centre is None:
                agency = agency.model_copy(update={"centre": code})
            placed.append(agency)
        return {**value, "agencies": placed, **({} if value.get("centres") else {"centres": [centre]})}

    @model_validator(mode="after")
    def _unique_codes(self) -> Catalog:
        seen: set[str] = set()
        for agency in self.agencies:
            if agency.code in seen:
                raise ValueError(f"agencies: code {agency.code!r} appears twice")
            seen.add(agency.code)
            codes = [p.code for p in agency.procedures]
            twice = sorted({c for c in codes if codes.count(c) > 1})
            if twice:
                raise ValueError(f"agencies.{agency.code}.procedures: code {', '.join(twice)} appears twice")
        centre_codes = [c.code for c in self.centres]
        twice = sorted({c for c in centre_codes if centre_codes.count(c) > 1})
        if twice:
            raise ValueError(f"centres: centre code {', '.join(twice)} appears twice")
        if self.centre not in self.centres:
            raise ValueError(f"centres: the centre {self.centre.code!r} must be one of the centres")
        for agency in self.agencies:
            if agency.centre not in centre_codes:
                raise ValueError(f"agencies.{agency.code}.centre: {agency.centre!r} is not a centre of the "
                                 f"catalog ({', '.join(centre_codes)})")
        return self

    @property
    def is_province(self) -> bool:
        """More than one centre: the figures have a level between the agencies and the total."""
        return len(self.centres) > 1

    @cached_property
    def agency_by_code(self) -> dict[str, Agency]:
        return {a.code: a for a in self.agencies}

    @cached_property
    def centre_by_code(self) -> dict[str, Centre]:
        return {c.code: c for c in self.centres}

    def agency(self, code: str) -> Agency | None:
        return self.agency_by_code.get(code)

    def procedure(self, agency: str, code: str) -> Procedure | None:
        found = self.agency_by_code.get(agency)
        return found.procedure_by_code.get(code) if found else None

    def centre_of(self, agency: str) -> Centre | None:
        """The centre an agency code sits in; None for a code the catalog does not know."""
        found = self.agency_by_code.get(agency)
        return self.centre_by_code.get(found.centre) if found is not None and found.centre else None

    def agencies_of(self, centre: str) -> tuple[Agency, ...]:
        """The agencies of one centre, in catalog order."""
        return tuple(a for a in self.agencies if a.centre == centre)


def _from_province_file(document: dict[str, Any]) -> dict[str, Any]:
    """The province format as the fields of `Catalog` (errors keep their place in the file)."""
    parsed = ProvinceFile.model_validate(document)
    centres, agencies = parsed.resolved()
    provincial = next(c for c in centres if c.level == "province")
    return {"sample": parsed.sample, "province": parsed.province, "centre": provincial, "centres": centres,
            "calendar": parsed.calendar, "agencies": agencies}


SAMPLE_WARNING = (
    "running on the SAMPLE catalog (sample: true, modelled on Quảng Ngãi), not your centre's: "
    "give yours with --catalog or IOC_CATALOG"
)
"""Said loudly by every service and command that starts on a catalog marked `sample: true`."""


MAX_CATALOG_BYTES = 8 << 20
"""A province's catalog (centres, agencies, procedure sets) is well under a megabyte; larger is a mistake."""


class CatalogError(ValueError):
    """A catalog that cannot be used, with a message that names the file and the place in it."""


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Read a catalog YAML file; without a path, the shipped Quảng Ngãi sample. `CatalogError` if invalid."""
    if path is None:
        text = resources.files("dossiers").joinpath("data/catalog.yaml").read_text(encoding="utf-8")
        return parse_catalog(text, "the shipped sample catalog")
    source = Path(path)
    size = source.stat().st_size
    if size > MAX_CATALOG_BYTES:
        raise CatalogError(f"{source}: {size} bytes, over the {MAX_CATALOG_BYTES}-byte limit of a catalog")
    try:
        text = source.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogError(f"{source}: not UTF-8 text (byte {exc.start}): save it as UTF-8") from exc
    return parse_catalog(text, str(source))


def parse_catalog(text: str, source: str = "catalog") -> Catalog:
    """Validate a catalog's YAML text as a whole; every error names its place (line, or field path)."""
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                mark = event.start_mark
                line = f" line {mark.line + 1}" if mark is not None else ""
                raise CatalogError(
                    f"{source}{line}: YAML aliases (*{event.anchor}) are not allowed in a catalog: write the "
                    "value out (an alias can make a small file expand without bound)"
                )
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogError(f"{source}: not valid YAML: {' '.join(str(exc).split())}") from exc
    if not isinstance(document, dict):
        raise CatalogError(f"{source}: must be a YAML mapping with `centre` and `agencies`, "
                           "or `province` and `centres`")
    try:
        return Catalog.model_validate(document)
    except ValidationError as exc:
        raise CatalogError(f"{source}: {_describe(exc)}") from exc


def _describe(error: ValidationError, limit: int = 20) -> str:
    """One line per problem, `agencies[3].procedures[0].processing: reason (got 'ten')`."""
    lines = []
    for item in error.errors(include_url=False)[:limit]:
        place = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in item["loc"])
        place = place.lstrip(".") or "catalog"
        if not item["loc"] and item["type"] == "value_error":  # a check of the whole file names its place
            lines.append(item["msg"].removeprefix("Value error, "))
            continue
        got = item.get("input")
        shown = repr(got) if isinstance(got, str | int | float | bool) or got is None else type(got).__name__
        lines.append(f"{place}: {item['msg']} (got {shown[:60]})")
    more = error.error_count() - limit
    return "\n  ".join(["invalid", *lines] + ([f"... and {more} more"] if more > 0 else []))
