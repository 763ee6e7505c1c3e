"""The event id's digest (`dossiers.lifecycle.event_hash`): BLAKE2b-64 by its definition, whatever way it is
computed. States keep these digests to recognise a record seen again, so a changed digest would let a
redelivered event count twice after an upgrade."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

from hypothesis import given
from hypothesis import strategies as st

from dossiers.lifecycle import event_hash


def _by_definition(event_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(event_id.encode("utf-8"), digest_size=8).digest(), "big") >> 1


@given(st.text(max_size=200))
def test_the_digest_is_blake2b_64_of_the_utf8_shifted_by_one(event_id: str) -> None:
    assert event_hash(event_id) == _by_definition(event_id)
    assert 0 <= event_hash(event_id) < 2**63


def test_known_digests_stay_what_stored_states_hold() -> None:
    # fixed values: a change of the function, its encoding or its shift fails here
    assert event_hash("") == 0x7253502BBA3CD95A
    assert event_hash("000.00.27.H48-241218-0001-1") == 0x21DE1E0234BFF7FA
    assert event_hash("Hồ sơ-1") == 0x12719FA3E765B055


def test_digests_taken_on_many_threads_at_once_are_each_their_own() -> None:
    """The hasher every call copies is shared: copies made on other threads at the same moment must not
    mix their inputs."""
    ids = [f"000.00.27.H48-241218-{i:04d}-{i % 7}" for i in range(4000)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        found = list(pool.map(event_hash, ids, chunksize=50))
    assert found == [_by_definition(event_id) for event_id in ids]
