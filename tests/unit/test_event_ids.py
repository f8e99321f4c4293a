"""A published event's id is uuid5 of its stream and version, whoever computes it."""

from __future__ import annotations

import random
from uuid import NAMESPACE_URL, UUID, uuid5

from application.entries import event_id

NAMESPACE = uuid5(NAMESPACE_URL, "urn:promotional-credits:event")


def test_event_ids_are_the_uuid5_of_the_stream_and_version() -> None:
    # given many streams and versions, the first and very large ones included
    rng = random.Random(11)
    streams = [UUID(int=rng.getrandbits(128)) for _ in range(2_000)] + [UUID(int=0), UUID(int=(1 << 128) - 1)]
    versions = [1, 2, 9, 10, 99_999, 2**40, rng.randrange(1, 10**6)]
    for stream in streams:
        for version in versions:
            # then the id is exactly uuid5's, as published before
            assert event_id(stream, version) == str(uuid5(NAMESPACE, f"{stream}:{version}"))


def test_a_known_event_keeps_its_published_id() -> None:
    stream = UUID("6f1c2f9e-8d1b-4a4e-9a51-1b1d8a3c2e10")
    assert event_id(stream, 3) == str(uuid5(NAMESPACE, "6f1c2f9e-8d1b-4a4e-9a51-1b1d8a3c2e10:3"))
