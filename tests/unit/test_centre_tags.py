"""The `centre` tag of the worker's InfluxDB points (issue 15): the code of the agency's centre, from the
catalog, for a province and for a single-centre catalog; none for a code the catalog does not know, and
none on `deadlines` (a point overwritten days later must keep its series). The per-centre queries group by
it (grafana/queries.py, "centres and the province")."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from test_worker import T0, Rig

from dossiers.alerts import Alert
from dossiers.catalog import load_catalog
from dossiers.kpi import Block
from grafana import queries
from streams.influx import centres_of, kpi_point
from streams.lines import alert_point, deadline_point, event_point
from streams.processor import DeadlineMark
from streams.worker import partition_of
from tests.support.events import received

PROVINCE = load_catalog(Path(__file__).resolve().parents[2] / "dossiers" / "data" / "province.yaml")
SINGLE = load_catalog()


def test_a_commune_desk_is_tagged_with_its_commune_centre_and_a_department_with_the_provincial_one() -> None:
    commune = PROVINCE.centres[1].code
    desk = PROVINCE.agencies_of(commune)[0].code
    line = kpi_point(PROVINCE, desk, 3, Block(), 1000, 900)
    assert f",centre={commune}," in line and ",centre_name=" in line
    assert f",centre={PROVINCE.centre.code}," in kpi_point(PROVINCE, "STP", 0, Block(), 1000, 900)
    centres = centres_of(PROVINCE)
    assert len(centres) == len(PROVINCE.agencies) and centres[desk] == commune
    assert f",centre={commune}," in event_point(desk, "received", "counter", "Hộ tịch", "D1", 5, centres)


def test_a_single_centre_catalog_tags_its_one_centre() -> None:
    code = SINGLE.centre.code
    assert f",centre={code}," in kpi_point(SINGLE, "STP", 0, Block(), 1000, 900)
    assert set(centres_of(SINGLE).values()) == {code}


def test_an_unknown_agency_and_the_deadlines_carry_no_centre_tag() -> None:
    centres = centres_of(PROVINCE)
    assert ",centre=" not in kpi_point(PROVINCE, "GONE", 0, Block(), 1000, 900)
    assert ",centre=" not in event_point("GONE", "received", None, None, "D1", 5, centres)
    assert ",centre=" not in event_point("STP", "received", None, None, "D1", 5)  # no mapping: as before
    mark = DeadlineMark(dossier="D1", agency="STP", kind="overdue", due_at=10, open=True, at=20,
                        late_seconds=10, procedure="P")
    assert ",centre=" not in deadline_point(mark)
    alert = Alert(alert_id="a1", kind="overdue", dossier="D1", agency="STP", procedure="P", field=None,
                  due_at=10, at=20, late_seconds=10, appointment_at=None)
    assert ",centre=" not in alert_point(alert)
    assert f",centre={PROVINCE.centre.code}," in alert_point(alert, centres)


def test_the_worker_tags_snapshots_events_and_alerts_with_the_centre() -> None:
    rig = Rig()
    keys = [f"D{i}" for i in range(6)]

    async def run() -> None:
        for key in keys:
            await rig.event(received(key, T0), partition=partition_of(key, 2))
        await rig.worker.snapshot()

    asyncio.run(run())
    assert rig.sink is not None
    code = rig.worker.catalog.centre.code
    for prefix in ("kpi,", "ii06a,", "i766,", "events,"):
        written = [line for line in rig.sink.lines if line.startswith(prefix)]
        assert written and all(f",centre={code}," in line for line in written), prefix


def test_the_centre_queries_group_by_the_centre_tag_and_the_province_by_nothing() -> None:
    per_centre = queries.centre_counts()
    assert per_centre.endswith('GROUP BY "centre", "centre_name"')
    assert 'GROUP BY "centre", "centre_name", "agency", "partition")' in per_centre
    one = queries.centre_rates("rate_month", centre="21211")
    assert "\"centre\" = '21211'" in one and one.endswith(") WHERE time > now() - 1m")  # no outer GROUP BY
    province = queries.province_counts()
    assert "GROUP BY" not in province.split(")")[-1]
    rate = queries.province_rate("satisfaction")  # two fields, a subquery each (inner and its wrapper)
    assert rate.count("GROUP BY") == 4
    assert rate.endswith('GROUP BY "agency", "partition") WHERE time > now() - 1m')
    listed = queries.centre_deadline_list("overdue", agencies=["21211_TP", "21211_DC"])
    assert '"agency" =~ /^(21211_TP|21211_DC)$/' in listed
    with pytest.raises(ValueError):
        queries.centre_deadline_list("overdue", agencies=[])
