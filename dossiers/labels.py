"""The Vietnamese words on the wall (nhãn hiển thị): one glossary for the terminal wall, the Grafana
boards, the Grafana alert rules and the supervisors' e-mails.

The wording is that of the official periodic report form on procedure results (Biểu II.06a: Tiếp nhận,
Đã giải quyết, Đang giải quyết, Trước hạn, Đúng hạn, Quá hạn, Trong hạn), so what the IOC wall shows
reads like the figures a centre sends. "Sắp đến hạn" (due soon) is not on the form; it is the wording
of the one-stop systems' dashboards. Code keeps English names; only what people read is here.
"""

from __future__ import annotations

from typing import Final

from dossiers.alerts import AlertKind
from dossiers.sla import Timeliness

RECEIVED: Final = "Tiếp nhận"
RESOLVED: Final = "Đã giải quyết"
OPEN: Final = "Đang giải quyết"
EARLY: Final = "Trước hạn"
ON_TIME: Final = "Đúng hạn"
LATE: Final = "Quá hạn"
"""Resolved after the due date (đã giải quyết quá hạn) and open past it (đang giải quyết quá hạn)."""
WITHIN: Final = "Trong hạn"
DUE_SOON: Final = "Sắp đến hạn"
OVERDUE: Final = "Quá hạn"
REFUSED: Final = "Từ chối tiếp nhận"
WITHDRAWN: Final = "Rút hồ sơ"
PAUSED: Final = "Tạm dừng"
ON_TIME_RATE: Final = "Tỷ lệ đúng hạn"
"""Early + on time over resolved: the leaders' headline figure (trước hạn và đúng hạn)."""
SATISFACTION: Final = "Hài lòng"
SATISFACTION_RATE: Final = "Mức độ hài lòng"
"""Satisfied over rated: the title of the satisfaction figure on the boards."""
WITH_RESULT: Final = "Có kết quả"
"""A result was issued (event `resolved`), on the throughput charts."""
RETURNED: Final = "Trả kết quả"
"""The result was handed to the applicant (event `returned`)."""
TARGET: Final = "Mục tiêu"
RESCHEDULED_TWICE: Final = "Hẹn lại >1"
"""Dossiers whose appointment was moved more than once (hẹn lại quá một lần): a problem the rules forbid."""
AGENCY: Final = "Cơ quan"
TODAY: Final = "hôm nay"
MONTH: Final = "tháng"
YEAR: Final = "năm"

CHANNEL: Final[dict[str, str]] = {
    "counter": "Trực tiếp",
    "online": "Trực tuyến",
    "postal": "Bưu chính",
    "phone": "Điện thoại",
}
"""How a dossier was received (kênh tiếp nhận), by `Channel` value."""

TIMELINESS: Final[dict[Timeliness, str]] = {
    Timeliness.EARLY: EARLY,
    Timeliness.ON_TIME: ON_TIME,
    Timeliness.LATE: LATE,
    Timeliness.WITHIN: WITHIN,
    Timeliness.DUE_SOON: DUE_SOON,
    Timeliness.OVERDUE: OVERDUE,
}

ALERT_KIND: Final[dict[str, str]] = {
    AlertKind.OVERDUE: "Hồ sơ quá hạn",
    AlertKind.DUE_SOON: "Hồ sơ sắp đến hạn",
    AlertKind.RESOLVED_LATE: "Hồ sơ giải quyết quá hạn",
}
"""What an alert is called in an e-mail subject and in a notification."""

ALERT_TAG: Final[dict[str, str]] = {
    AlertKind.OVERDUE: OVERDUE.upper(),
    AlertKind.DUE_SOON: DUE_SOON.upper(),
    AlertKind.RESOLVED_LATE: f"{RESOLVED} {LATE}".upper(),
}
"""The short tag in front of an alert on the terminal wall's feed."""

SAMPLE_CATALOG_WARNING: Final = (
    "DỮ LIỆU MẪU: danh mục cơ quan và thủ tục là bản mẫu (sample: true), không dùng cho vận hành thật"
)
"""Shown on the wall while the shipped sample catalog is in use."""


def percent(rate: float | None) -> str:
    """A rate as the wall prints it: one decimal, a dash where nothing was counted yet."""
    return "—" if rate is None else f"{rate * 100:.1f}%"
