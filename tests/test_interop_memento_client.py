"""Interop: the Memento client of the Memento project (``memento_client``, the library behind
the Time Travel service) finds the closest memento, and its neighbours, through our TimeGate
over real HTTP (``newsarchive serve``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from memento_client import MementoClient
from warcio.timeutils import timestamp_to_datetime

from tests.support.replay_archive import STORY, T1, T2, T3, build_archive


@pytest.fixture(scope="module")
def client_and_replay(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.support.service import RunningService

    service = RunningService(tmp_path_factory.mktemp("memento-client"))
    build_archive(service.data_dir)
    service.start()
    try:
        yield MementoClient(timegate_uri=f"{service.replay_url}/web/",
                            check_native_timegate=False), service.replay_url
    finally:
        service.close()


@pytest.mark.parametrize(("accept", "closest"), [
    (datetime(2026, 11, 3, 10, 30), T1), (datetime(2026, 11, 3, 11, 30), T2),
    (datetime(2026, 11, 4, 20, 0), T3), (datetime(2030, 1, 1), T3), (datetime(2001, 1, 1), T1),
])
def test_memento_client_finds_the_closest_memento(client_and_replay: Any, accept: datetime,
                                                  closest: str) -> None:
    client, replay = client_and_replay
    # The story's host is not reachable here: start from a memento of it, whose
    # rel="original" link the client follows (as it does for any memento URI it is given).
    info = client.get_memento_info(f"{replay}/web/{T1}/{STORY}", accept)
    assert info["original_uri"] == STORY
    mementos = info["mementos"]
    assert mementos["closest"]["datetime"] == timestamp_to_datetime(closest)
    [uri] = mementos["closest"]["uri"]
    assert uri == f"{replay}/web/{closest}/{STORY}"
    assert mementos["first"]["datetime"] == timestamp_to_datetime(T1)
    assert mementos["last"]["datetime"] == timestamp_to_datetime(T3)
