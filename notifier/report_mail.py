"""The periodic report (Biểu II.06a) as notifications: the whole form to the centre's director, each
agency's own row to its supervisors, the XLSX attached.

Pure: the caller (ioc/report_delivery.py) builds the report from the events and the XLSX files with the
reports/ adapter and records what this returns in the notifier's outbox, which sends and retries it like
every other message. Keys are deterministic per period and recipient group, so a period is sent once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from dossiers import labels
from dossiers.catalog import Catalog
from dossiers.report_ii06a import Counts, Report
from notifier.policy import FOOTER, PAYLOAD_SCHEMA, Attachment, Outbound

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
KIND = "report"


def report_key(report: Report, scope: str) -> str:
    """`report:ii06a:2026-03-15:2026-04-14:centre` or `...:STP`: one notification per period and scope."""
    return f"report:ii06a:{report.period.first}:{report.period.last}:{scope}"


def filename(report: Report, scope: str) -> str:
    """ASCII file names (every mail client shows them): `bieu-II06a_2026-03-15_2026-04-14_STP.xlsx`."""
    return f"bieu-II06a_{report.period.first}_{report.period.last}_{scope}.xlsx"


def figures(counts: Counts) -> list[str]:
    """The row's columns (3)..(13) as lines, in the form's words, and the refusals outside the form."""
    values = counts.as_dict()
    lines = []
    for group, columns in labels.II06A_HEADER:
        parts = "; ".join(f"{title} ({column[1:]}): {_n(values[column])}" for column, title in columns)
        lines.append(f"- {group}: {parts}")
    lines.append(f"- {labels.II06A_REFUSED}: {_n(values['refused_at_counter'])}")
    return lines


def _n(value: int) -> str:
    """Thousands separated by dots, as Vietnamese documents write them."""
    return f"{value:,}".replace(",", ".")


def report_outbounds(report: Report, catalog: Catalog, centre_xlsx: bytes,
                     agency_xlsx: Mapping[str, bytes], now: int) -> list[Outbound]:
    """The director's message (the whole form) and one per agency row that has supervisors."""
    period = labels.period_line(report.period.first.isoformat(), report.period.last.isoformat(),
                                report.period.name)
    centre = catalog.centre
    out: list[Outbound] = []
    director = (centre.director,) if centre.director is not None else ()
    out.append(_outbound(
        report, catalog, "centre", "", director,
        subject=f"{labels.II06A_FORM} — {period} — {centre.name}",
        lead=[f"Kính gửi Giám đốc {centre.name},", "",
              f"Hệ thống IOC gửi {labels.II06A_FORM} ({labels.II06A_TITLE.capitalize()}), {period}.",
              f"{labels.II06A_TOTAL} toàn Trung tâm:"],
        counts=report.total,
        attachment=Attachment(filename(report, "centre"), XLSX, centre_xlsx), now=now))
    for row in report.rows:
        agency = catalog.agency(row.key)
        if agency is None or not agency.supervisors or row.key not in agency_xlsx:
            continue
        out.append(_outbound(
            report, catalog, row.key, row.key, agency.supervisors,
            subject=f"{labels.II06A_FORM} — {period} — {row.label}",
            lead=[f"Kính gửi lãnh đạo {row.label},", "",
                  f"Số liệu của {row.label} trong {labels.II06A_FORM} của {centre.name}, {period}:"],
            counts=row.counts,
            attachment=Attachment(filename(report, row.key), XLSX, agency_xlsx[row.key]), now=now))
    return out


def _outbound(report: Report, catalog: Catalog, scope: str, agency: str, recipients: tuple[Any, ...], *,
              subject: str, lead: list[str], counts: Counts, attachment: Attachment, now: int) -> Outbound:
    key = report_key(report, scope)
    body = "\n".join([*lead, *figures(counts), "", f"Tệp đính kèm: {attachment.filename}", "", "—",
                      catalog.centre.name, FOOTER, f"Mã thông báo: {key}", ""])
    payload = {
        "schema": PAYLOAD_SCHEMA, "id": key, "kind": KIND,
        "created_at": datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z"),
        "centre": catalog.centre.code, "agency": agency or None, "dossier": None, "subject": subject,
        "text": body, "recipients": [{"name": c.name, "email": c.email} for c in recipients],
        "data": {"form": "II.06a", "period": {"from": report.period.first.isoformat(),
                                              "to": report.period.last.isoformat()},
                 "counts": counts.as_dict(), "attachments": [attachment.filename]},
    }
    return Outbound(key, KIND, agency, None, subject, body, tuple(recipients), payload, (attachment,))
