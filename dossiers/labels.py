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
    AlertKind.SYNC_LATE: "Hồ sơ chậm đồng bộ Cổng Dịch vụ công quốc gia",
}
"""What an alert is called in an e-mail subject and in a notification."""

ALERT_TAG: Final[dict[str, str]] = {
    AlertKind.OVERDUE: OVERDUE.upper(),
    AlertKind.DUE_SOON: DUE_SOON.upper(),
    AlertKind.RESOLVED_LATE: f"{RESOLVED} {LATE}".upper(),
    AlertKind.SYNC_LATE: "CHẬM ĐỒNG BỘ DVCQG",
}
"""The short tag in front of an alert on the terminal wall's feed."""

SAMPLE_CATALOG_WARNING: Final = (
    "DỮ LIỆU MẪU: danh mục cơ quan và thủ tục là bản mẫu (sample: true), không dùng cho vận hành thật"
)
"""Shown on the wall while the shipped sample catalog is in use."""


def percent(rate: float | None) -> str:
    """A rate as the wall prints it: one decimal, a dash where nothing was counted yet."""
    return "—" if rate is None else f"{rate * 100:.1f}%"


# -- the periodic report form II.06a (docs/reports.md) ---------------------------------------------------

II06A_FORM: Final = "Biểu số II.06a/VPCP/KSTT"
II06A_TITLE: Final = "TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH TẠI TRUNG TÂM PHỤC VỤ HÀNH CHÍNH CÔNG"
II06A_UNIT: Final = "Đơn vị tính: Số hồ sơ TTHC"
II06A_ROW: Final = "TT"
II06A_GROUP: Final[dict[str, str]] = {"agency": "Đơn vị", "field": "Lĩnh vực"}
"""Column (2), "Lĩnh vực / đơn vị", by what the rows are."""
II06A_TOTAL: Final = "Tổng cộng"
TOTAL: Final = "Tổng số"
IN_PERIOD: Final = "Trong kỳ"
ONLINE: Final = "Trực tuyến"
DIRECT_POSTAL: Final = "Trực tiếp, dịch vụ bưu chính"
CARRIED_OVER: Final = "Từ kỳ trước"
II06A_HEADER: Final[tuple[tuple[str, tuple[tuple[str, str], ...]], ...]] = (
    (RECEIVED, (("c3", TOTAL), ("c4", f"{IN_PERIOD}: {ONLINE}"), ("c5", f"{IN_PERIOD}: {DIRECT_POSTAL}"),
                ("c6", CARRIED_OVER))),
    (RESOLVED, (("c7", TOTAL), ("c8", EARLY), ("c9", ON_TIME), ("c10", LATE))),
    (OPEN, (("c11", TOTAL), ("c12", WITHIN), ("c13", OVERDUE))),
)
"""The two-level header of columns (3)..(13): (group, ((column key, sub-header), ...))."""
II06A_LIVE_TITLE: Final = "Báo cáo kỳ này (Biểu II.06a)"
"""The Grafana board of the reporting period in progress."""
AS_OF: Final = "Số liệu đến"
FROM_DAY: Final = "Từ ngày"
TO_DAY: Final = "Đến ngày"
II06A_OUTSIDE: Final = "Ngoài biểu"
II06A_REFUSED: Final = f"{REFUSED} (không tính vào biểu)"
"""The column after (13): refused at the counter, never received, so not in the form."""


def period_line(first: str, last: str, name: str | None = None) -> str:
    """`Kỳ báo cáo: 2026-04 (Từ ngày 15/03/2026 đến ngày 14/04/2026)`: dates as DD/MM/YYYY, from ISO dates."""
    def vn(iso: str) -> str:
        year, month, day = iso.split("-")
        return f"{day}/{month}/{year}"
    named = f"{name} " if name else ""
    return f"Kỳ báo cáo: {named}(Từ ngày {vn(first)} đến ngày {vn(last)})"


# -- the Decision 766 index (docs/index766.md) ------------------------------------------------------------

INDEX766_TITLE: Final = "CHỈ SỐ ĐÁNH GIÁ CHẤT LƯỢNG PHỤC VỤ NGƯỜI DÂN, DOANH NGHIỆP (QUYẾT ĐỊNH 766/QĐ-TTg)"
INDEX766_SUBTITLE: Final = "Phần đo được từ sự kiện hồ sơ"
INDEX766_ITEMS: Final[dict[str, str]] = {
    "1.4": "Tỷ lệ hồ sơ đồng bộ lên Cổng DVCQG",
    "2.1": "Tỷ lệ hồ sơ xử lý trước hạn, đúng hạn",
    "2.2": "Thời gian giải quyết trung bình (ngày làm việc)",
    "3.3": "Tỷ lệ hồ sơ nộp trực tuyến",
    "3.6": "Tỷ lệ hồ sơ thanh toán trực tuyến",
    "4.1": "Tỷ lệ hồ sơ có kết quả giải quyết điện tử",
    "4.2": "Tỷ lệ hồ sơ thực hiện số hóa",
    "5.4": "Tỷ lệ hài lòng trong tiếp nhận, giải quyết TTHC",
}
"""The items' names, as the guidance for the index words them."""
INDEX766_GROUPS: Final[dict[str, str]] = {
    "public": "Công khai, minh bạch",
    "progress": "Tiến độ, kết quả giải quyết",
    "online": "Cung cấp dịch vụ trực tuyến",
    "digital": "Số hóa hồ sơ",
    "satisfaction": "Mức độ hài lòng",
}
"""The five official groups (keys of `dossiers.index766.GROUPS`), as Decision 766 names them."""
INDEX766_LIVE_TITLE: Final = "Chỉ số 766"
INDEX766_MAX: Final = "Tối đa"
INDEX766_WORST: Final = "Ba chỉ tiêu mất nhiều điểm nhất"
INDEX766_TREND: Final = "Xu hướng điểm theo ngày"
INDEX766_BY_GROUP: Final = "Điểm bị trừ theo nhóm"
INDEX766_SYNC: Final = "Đồng bộ Cổng DVCQG"
INDEX766_POINTS: Final = "Điểm"
INDEX766_LOST: Final = "Điểm bị trừ"
INDEX766_NOT_APPLICABLE: Final = "—"
"""An item whose denominator is 0 (không áp dụng)."""
INDEX766_NOT_MEASURED: Final = "Chưa đo ở đây"
INDEX766_COVERS: Final = "Phần đo được: {covered} / {total} điểm"
INDEX766_ASSUMED: Final = "* điểm tối đa của chỉ tiêu là giả định (nguồn chỉ cho điểm của nhóm)"
CENTRE: Final = "Toàn Trung tâm"
PROVINCE: Final = "Toàn tỉnh"
