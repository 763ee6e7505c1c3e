"""The form II.06a as CSV: one row per agency or field, then the total; the keys of `--json` as header."""

from __future__ import annotations

import csv
import io

from dossiers.report_ii06a import COUNT_FIELDS, Report


def csv_text(report: Report) -> str:
    """CSV text (comma, CRLF as the csv module writes it); the total row has the key `total`.

    Columns: `key, label, c3..c13, refused_at_counter, withdrawn, paused`, the same names as the JSON
    document, so a script can read either.
    """
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["key", "label", *COUNT_FIELDS])
    for row in report.rows:
        writer.writerow([row.key, row.label, *(getattr(row.counts, name) for name in COUNT_FIELDS)])
    writer.writerow(["total", "", *(getattr(report.total, name) for name in COUNT_FIELDS)])
    return out.getvalue()
