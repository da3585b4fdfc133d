"""The run manifest: concurrent updates and writes from several threads lose nothing."""

from __future__ import annotations

import json
import sys
import threading

from deepthinker_nb.workflow.manifest import RunManifest

THREADS = 4
UPDATES = 400


def test_concurrent_updates_and_writes_keep_every_update(tmp_path):
    """Threads update and write the manifest at once; each ends with a write, and no write
    follows: the file must still hold every update of every thread (the last write saw them
    all, and no older snapshot replaced it)."""
    manifest = RunManifest(tmp_path, {"run_id": "r", "status": "incomplete"})
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def work(thread: int) -> None:
        try:
            start.wait()
            for i in range(UPDATES):
                manifest.update(**{f"t{thread}-{i}": i})
                manifest.update_section("shared", **{f"t{thread}-{i}": [thread, i]})
                if i % 8 == 0:  # writes serialise the dict while the other threads change it
                    manifest.write(**{f"last-{thread}": i})
            manifest.write(**{f"last-{thread}": UPDATES})
        except BaseException as exc:
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []

    on_disk = json.loads((tmp_path / "manifest.json").read_text())
    assert on_disk == manifest.snapshot()
    assert on_disk["run_id"] == "r" and on_disk["status"] == "incomplete"
    for thread in range(THREADS):
        for i in range(UPDATES):
            assert on_disk[f"t{thread}-{i}"] == i
            assert on_disk["shared"][f"t{thread}-{i}"] == [thread, i]
        assert on_disk[f"last-{thread}"] == UPDATES
    assert len(on_disk["shared"]) == THREADS * UPDATES
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]  # no temp file left


def test_snapshot_is_a_copy(tmp_path):
    manifest = RunManifest(tmp_path, {"research": {"status": "ok"}})
    snapshot = manifest.snapshot()
    snapshot["research"]["status"] = "changed"
    manifest.update_section("research", summary={"findings": []})
    assert manifest.snapshot() == {"research": {"status": "ok", "summary": {"findings": []}}}
