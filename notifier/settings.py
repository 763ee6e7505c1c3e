"""Notifier settings from the environment (prefix IOC_), validated at start-up by pydantic-settings.

Kafka, catalog and clock variables have the same names as the stream worker's (streams/settings.py),
so one environment configures both and an accelerated demo clock is shared. Every variable is
documented in docs/notifier.md.
"""

from __future__ import annotations

import time as _time
from datetime import time
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from dossiers.alerts import ALERT_KINDS
from dossiers.clock import BusinessClock
from kafka_settings import KafkaSettings
from notifier.policy import CHANNELS, Policy


def _names(value: object, allowed: tuple[str, ...], what: str) -> str:
    """A comma-separated list of known names, normalised (env vars stay plain strings, not JSON)."""
    items = [item.strip() for item in str(value).split(",") if item.strip()]
    unknown = sorted(set(items) - set(allowed))
    if unknown:
        raise ValueError(f"unknown {what} {', '.join(unknown)}; expected some of {', '.join(allowed)}")
    return ",".join(dict.fromkeys(items))


class NotifySettings(KafkaSettings):
    """`ioc notify` configuration; defaults suit the local stack."""

    notify_group: str = Field("ioc-notifier", description="Kafka consumer group of the notifier")
    catalog: Path | None = Field(None, description="Catalog YAML (contacts, calendar); default: the sample")
    clock_origin: float | None = Field(None, description="Business-time origin (epoch s), for demos")
    clock_wall_origin: float | None = Field(None, description="Wall-clock instant matching clock_origin")
    clock_speed: float = Field(1.0, gt=0, description="Business seconds per wall second")

    notify_db: Path = Field(Path("./.ioc-notifier/notify.sqlite"), description="SQLite state and outbox")
    notify_file: Path | None = Field(None, description="JSON-lines file sink; unset = no file sink")
    notify_channels: str = Field("email,webhook,file", description="Enabled channels (comma-separated)")
    notify_immediate_kinds: str = Field("overdue", description="Alert kinds sent at once")
    notify_outside_hours: Literal["hold", "send"] = Field(
        "hold", description="Immediate messages outside office hours: hold until the next opening, or send")
    notify_digest_time: time | None = Field(time(7, 30), description="Local time of the daily digest; 'off'")
    notify_digest_skip_empty: bool = Field(True, description="No digest for an agency with nothing to report")
    notify_digest_max_items: int = Field(50, ge=1, description="Dossiers listed per section of a digest")
    notify_escalate_after_days: float = Field(
        2.0, ge=0, description="Working days overdue before the director is told (0 = never)")
    notify_escalate_to_province: bool = Field(
        True, description="A province catalog: a commune centre's escalations also go to the provincial "
                          "centre's director")
    notify_max_age_hours: float = Field(
        24.0, ge=0, description="Older alerts send nothing at once (0 = no limit)")
    notify_sync_messages: bool = Field(
        True, description="Gather sync_late alerts (dossiers not synced to the national portal in time; "
        "the worker's IOC_SYNC_LATE_HOURS) into one message per agency")
    notify_sync_every_minutes: float = Field(
        60.0, gt=0, description="At most one sync message per agency in this many minutes")
    notify_poll_seconds: float = Field(1.0, gt=0, description="Longest wait between time checks")
    notify_retention_days: float = Field(
        30.0, ge=0, description="Days seen alert ids and sent messages are kept (0 = forever); "
        "keep it longer than the alerts topic's retention (Kafka's default: 7 days)")
    notify_reports: bool = Field(
        True, description="Send the report of a period that closed (Biểu II.06a) on the first working day "
        "after its cut-off (needs the events topic's history)")
    report_calendar_periods: bool = Field(
        False, description="Reporting periods are calendar months (default: the 15th-14th cut-off months)")
    notify_retry_initial_seconds: float = Field(5.0, gt=0, description="First retry delay after a failure")
    notify_retry_max_seconds: float = Field(600.0, gt=0, description="Longest retry delay (backoff doubles)")
    notify_webhook_timeout: float = Field(10.0, gt=0, description="Seconds per webhook POST")

    smtp_host: str | None = Field(None, description="SMTP server; unset = no e-mail")
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_from: str = Field("ioc-monitor@localhost", description="From: address of the e-mails")
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = Field(False, description="Upgrade the connection with STARTTLS")
    smtp_ssl: bool = Field(False, description="Implicit TLS (SMTPS, usually port 465)")
    smtp_timeout: float = Field(10.0, gt=0)

    log_level: str = "INFO"

    @field_validator("notify_channels")
    @classmethod
    def _channels(cls, value: str) -> str:
        return _names(value, CHANNELS, "channel(s)")

    @field_validator("notify_immediate_kinds")
    @classmethod
    def _kinds(cls, value: str) -> str:
        return _names(value, ALERT_KINDS, "alert kind(s)")

    @field_validator("notify_digest_time", mode="before")
    @classmethod
    def _digest_off(cls, value: object) -> object:
        return None if isinstance(value, str) and value.strip().lower() in ("", "off", "none") else value

    def channels(self) -> frozenset[str]:
        """Channels that are enabled *and* configured: e-mail needs a host, the file sink a path."""
        wanted = set(self.notify_channels.split(",")) if self.notify_channels else set()
        if self.smtp_host is None:
            wanted.discard("email")
        if self.notify_file is None:
            wanted.discard("file")
        return frozenset(wanted)

    def policy(self) -> Policy:
        return Policy(
            immediate_kinds=frozenset(k for k in self.notify_immediate_kinds.split(",") if k),
            outside_hours=self.notify_outside_hours,
            digest_at=self.notify_digest_time,
            digest_skip_empty=self.notify_digest_skip_empty,
            digest_max_items=self.notify_digest_max_items,
            escalate_after_days=self.notify_escalate_after_days,
            escalate_to_province=self.notify_escalate_to_province,
            max_age_seconds=round(self.notify_max_age_hours * 3600) if self.notify_max_age_hours else None,
            sync_messages=self.notify_sync_messages,
            sync_every_seconds=round(self.notify_sync_every_minutes * 60),
        )

    def clock(self, wall: float | None = None) -> BusinessClock:
        """Real time by default; the accelerated demo clock when IOC_CLOCK_* are set (as the worker)."""
        wall = _time.time() if wall is None else wall
        return BusinessClock(
            origin=self.clock_origin if self.clock_origin is not None else wall,
            wall_origin=self.clock_wall_origin if self.clock_wall_origin is not None else wall,
            speed=self.clock_speed,
        )
