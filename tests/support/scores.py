"""What the 766 board's InfluxQL must show for known tallies, from the domain core (dossiers.index766):
the expectations of tests/integration/test_dashboard_queries.py and test_province_board.py."""

from __future__ import annotations

from dossiers.index766 import ITEMS, Tally
from dossiers.index766 import Row as Row766
from grafana import queries

GROUP_OF = {item.code: item.group for item in ITEMS}


def i766_tally(received: int, synced: int) -> Tally:
    """A tally where every item has a rate, some full and some not, from (received, synced) alone."""
    if not received:
        return Tally()
    return Tally(received=received, synced=synced, online=received // 2, in_form=received + 2,
                 on_time=received, finished=synced, working_days=2.5 * synced, fee=received // 3,
                 paid_online=received // 4, written=synced // 2, e_result=synced // 3,
                 digitised=max(received - 2, 0), complaint_or_dislike=1)



def total_of(key: str, label: str, rows: list[Row766]) -> Row766:
    """An index's `total` for test rows, summed as the core sums it (`dossiers.index766_live.index_of`):
    tallies and sync buckets over every row (what `i766_sum` carries)."""
    within: dict[int, int] = {}
    total = Row766(key, label, sync_within=within)
    for row in rows:
        total.tally.add(row.tally)
        for hours, n in (row.sync_within or {}).items():
            within[hours] = within.get(hours, 0) + n
    return total


def scores_of(tally: Tally) -> dict[str, float | None]:
    """The columns of `i766_scores` for one summed tally: `Row.indicators()` and `Row.score()`."""
    row = Row766("x", "x", tally)
    out: dict[str, float | None] = {}
    lost: dict[str, list[float]] = {}
    for code, indicator in row.indicators().items():
        alias = code.replace(".", "_")
        out[f"rate_{alias}"] = indicator.rate
        if indicator.max is not None:
            points = indicator.points
            out[f"points_{alias}"] = points
            out[f"lost_{alias}"] = None if points is None else indicator.max - points
            if points is not None:
                lost.setdefault(GROUP_OF[code], []).append(indicator.max - points)
    for group in queries.I766_GROUPS:
        out[f"lost_{group}"] = sum(lost[group]) if group in lost else None
    points, out_of = row.score()
    scored = out_of > 0
    out |= {"points": points if scored else None, "max": out_of if scored else None,
            "lost": out_of - points if scored else None}
    return out
