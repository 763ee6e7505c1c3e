"""The knobs of the generated boards and alert rules, with their defaults, in one place.

No Grafana SDK import here: `ioc grafana --help` shows these defaults even where the grafana extra is not
installed, and the CLI, the builders and the docs all read the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class WallSettings:
    """Colour bands that are not in the catalog (each agency's own target is)."""

    centre_target: float = 0.95
    """The whole centre's on-time goal, for the three centre rate tiles (agencies mix 99 % and 80 %)."""
    warn_margin: float = 0.05
    """Orange band just under a target: red below `target - warn_margin`."""
    satisfaction_target: float = 0.90
    tiles_per_row: int = 8
    tile_height: int = 4


@dataclass(frozen=True)
class AlertSettings:
    """Thresholds and windows of the alert rules; defaults documented in docs/alerts.md."""

    folder: str = "IOC"
    folder_uid: str = "ioc"
    new_overdue_minutes: int = 5
    """Look-back of the new-overdue rule: it fires while a dossier turned overdue in the last N minutes."""
    due_soon_threshold: int = 10
    """Alert when an agency has more than this many due-soon dossiers."""
    min_resolved: int = 20
    """The on-time rule waits for this many dossiers resolved in the month (day 1 is not a trend)."""
    silent_minutes: int = 120
    """An agency with no event for this long, while the office was open all that time, is silent."""
    silent_history_days: int = 30
    """The silent rule counts an agency's events per minute over this many days (see
    `queries.agency_recent_events`); an agency silent for longer is "no data", not "silent"."""
    sync_min_rate: float = 0.9
    """Sync health: an agency whose dossiers received this reporting month are synced to the national
    portal below this share, during office hours, is falling behind (item 1.4 of the 766 index)."""
    sync_min_received: int = 10
    """The sync rule waits for this many dossiers received in the month."""
    sync_office_minutes: int = 30
    """The sync rule fires only when the office was open for this long (no page at 07:01)."""
    dead_letters_threshold: int = 5
    """Dead letters in 10 minutes, all reasons together."""
    consumer_lag_threshold: int = 1000
    """Records not yet consumed, all partitions together, for 5 minutes."""
    sink_errors_threshold: int = 3
    """Failed (retried) InfluxDB batch writes in 5 minutes, for 5 minutes."""
    director_copy: bool = True
    """Also send every agency alert to the director (grouped by rule, repeated at most twice a day)."""
    notification_labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BuildSettings:
    wall: WallSettings = field(default_factory=WallSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
