"""API keys per agency (khóa API của cơ quan), stored hashed and reloaded without a restart.

The file holds one line per key: `AGENCY sha256:HEX [comment]` (`#` starts a comment line). An agency
may have several keys at once, which is how a key is rotated: add the new line, let the agency switch,
delete the old line; the gateway reloads the file when it changes (checked at most once a second) and on
SIGHUP. Keys are random 256-bit tokens made by `new_key()`, so a plain SHA-256 is enough: there is no
dictionary to guess from, and a slow hash (scrypt) would cost every request milliseconds of CPU. The key
itself is never stored, logged or echoed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

KEY_PREFIX = "ioc_"
_LINE = re.compile(r"(?P<agency>[A-Za-z0-9_.\-]{1,64})\s+sha256:(?P<hash>[0-9a-f]{64})(\s+.*)?")


class KeyFileError(ValueError):
    """The keys file cannot be used; the message names the line."""


def new_key() -> str:
    """A fresh API key (shown once to the agency; only its hash goes into the keys file)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_keys(text: str, source: str = "keys file") -> dict[str, str]:
    """{sha256 hex: agency} from the file's text; `KeyFileError` names a bad line (never its content)."""
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _LINE.fullmatch(stripped)
        if match is None:
            raise KeyFileError(f"{source} line {number}: expected 'AGENCY sha256:<64 hex digits>'")
        digest = match["hash"]
        if digest in found and found[digest] != match["agency"]:
            raise KeyFileError(f"{source} line {number}: the same key is given to two agencies")
        found[digest] = match["agency"]
    return found


class KeyStore:
    """Which agency a key belongs to; the file is re-read when its mtime or size changes."""

    def __init__(self, path: Path, check_every: float = 1.0) -> None:
        self.path = path
        self._check_every = check_every
        self._lock = threading.Lock()
        self._by_hash: dict[str, str] = {}
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        self.reload()

    def reload(self) -> bool:
        """Read the file now; on an error keep the keys in force (logged) and return False."""
        try:
            stat = os.stat(self.path)
            keys = parse_keys(self.path.read_text(encoding="utf-8"), str(self.path))
        except (OSError, KeyFileError, UnicodeDecodeError) as exc:
            if self._stamp is None and not self._by_hash:
                raise KeyFileError(f"cannot load the API keys: {exc}") from exc
            log.error("API keys file not reloaded, the previous keys stay in force: %s", exc)
            return False
        with self._lock:
            changed = keys != self._by_hash
            self._by_hash = keys
            self._stamp = (stat.st_mtime_ns, stat.st_size)
        if changed:
            log.info("API keys loaded from %s: %d key(s) for %d agencies", self.path, len(keys),
                     len(set(keys.values())))
        return True

    def _maybe_reload(self) -> None:
        now = time.monotonic()
        if now - self._checked < self._check_every:
            return
        self._checked = now
        try:
            stat = os.stat(self.path)
        except OSError:
            return
        if (stat.st_mtime_ns, stat.st_size) != self._stamp:
            self.reload()

    def agency(self, key: str) -> str | None:
        """The agency of `key`, or None for an unknown key."""
        self._maybe_reload()
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        with self._lock:
            return self._by_hash.get(digest)

    @property
    def agencies(self) -> set[str]:
        with self._lock:
            return set(self._by_hash.values())
