"""`procedure_of` and `terms_of` remember the last question they answered (issue 19: the same dossier's
procedure is asked about several times per event): the answer must be the one the tables give, whatever was
asked before, across catalogs and calendars, and for agency and code strings that are equal but other
objects."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from strategies import CATALOG, procedure

from dossiers import sla
from dossiers.calendar import WorkingCalendar
from dossiers.catalog import CalendarConfig
from dossiers.lifecycle import procedure_of

OTHER_CATALOG = CATALOG.model_copy(deep=True)
"""Equal to the catalog, every procedure another object: an answer from the wrong catalog shows."""
CATALOGS = (CATALOG, OTHER_CATALOG)
PAIRS = [(agency.code, code) for agency in CATALOG.agencies for code in list(agency.procedure_by_code)[:3]]
ASK = st.tuples(
    st.sampled_from(range(len(CATALOGS))),
    st.sampled_from([*PAIRS, ("STP", "no-such-code"), ("NO_SUCH_AGENCY", PAIRS[0][1]), ("", PAIRS[0][1])]),
    st.booleans(),
)


@given(st.lists(ASK, min_size=1, max_size=40))
def test_procedure_of_answers_what_the_catalog_holds(asks: list[tuple[int, tuple[str, str], bool]]) -> None:
    for which, (agency, code), copied in asks:
        catalog = CATALOGS[which]
        if copied:  # equal strings, other objects (what a state read from bytes holds)
            agency, code = "".join(list(agency)), "".join(list(code))
        expected = catalog.procedure(agency, code) if agency else None
        assert procedure_of(catalog, agency, code) is expected
        assert procedure_of(catalog, agency, code) is expected  # asked again at once: remembered


CALENDARS = (
    WorkingCalendar(CalendarConfig()),
    WorkingCalendar(CalendarConfig.model_validate({"office_hours": {"periods": [["07:30", "11:30"]]}})),
)
"""Two calendars whose working day differs (8 and 4 office hours): a procedure's terms differ by calendar."""
PROCEDURES = (procedure(3), procedure(5), procedure(8, "hours"))


@given(st.lists(st.tuples(st.sampled_from(range(len(PROCEDURES))), st.sampled_from(range(len(CALENDARS)))),
                min_size=1, max_size=30))
def test_terms_of_answers_for_the_procedure_and_calendar_asked(asks: list[tuple[int, int]]) -> None:
    for which, where in asks:
        made, calendar = PROCEDURES[which], CALENDARS[where]
        terms = sla.terms_of(made, calendar)
        unit_seconds = 3600 if made.unit == "hours" else calendar.day_seconds
        assert terms.work == round(made.processing * unit_seconds)
        assert terms is calendar.work_memo[id(made)][1]  # the calendar's own, not another calendar's
        assert sla.terms_of(made, calendar) is terms
