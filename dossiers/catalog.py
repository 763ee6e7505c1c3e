"""The centre's catalog: agencies (cơ quan, đơn vị) and their procedures (thủ tục hành chính, TTHC).

A centre edits a YAML file; this module validates it so a typo fails at start-up, not at 3 a.m.
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


class Agency(_Frozen):
    """An agency stationed at the centre (cơ quan có bộ phận tại Trung tâm)."""

    code: Code
    name: str = Field(description="Vietnamese name, shown on the wall")
    short_name: str | None = Field(default=None, description="Short label for the wall's grid")
    kind: Literal["department", "land", "other"] = "department"
    target_on_time: float = Field(default=0.99, gt=0, le=1)
    supervisors: tuple[Contact, ...] = ()
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


class Centre(_Frozen):
    code: Code = "centre"
    name: str
    director: Contact | None = None


class Catalog(_Frozen):
    """The whole configuration file: centre, calendar, agencies."""

    sample: bool = Field(default=False, description="True for the shipped example that a centre must edit")
    centre: Centre
    calendar: CalendarConfig = CalendarConfig()
    agencies: tuple[Agency, ...] = Field(min_length=1)

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
        return self

    @cached_property
    def agency_by_code(self) -> dict[str, Agency]:
        return {a.code: a for a in self.agencies}

    def agency(self, code: str) -> Agency | None:
        return self.agency_by_code.get(code)

    def procedure(self, agency: str, code: str) -> Procedure | None:
        found = self.agency_by_code.get(agency)
        return found.procedure_by_code.get(code) if found else None


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
        raise CatalogError(f"{source}: must be a YAML mapping with `centre` and `agencies`")
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
        got = item.get("input")
        shown = repr(got) if isinstance(got, str | int | float | bool) or got is None else type(got).__name__
        lines.append(f"{place}: {item['msg']} (got {shown[:60]})")
    more = error.error_count() - limit
    return "\n  ".join(["invalid", *lines] + ([f"... and {more} more"] if more > 0 else []))
