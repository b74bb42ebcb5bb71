"""The write-behind thread of a retrieval: order kept, errors raised in the receiving
thread, and a failed writer never leaves the receiver blocked on a full queue."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from coloc_viewer.pacs.write_behind import WriteBehind


def test_writes_in_order_on_another_thread(tmp_path: Path) -> None:
    done: list[tuple[str, bytes, str]] = []

    def write(key: str, data: bytes) -> Path:
        path = tmp_path / key
        path.write_bytes(data)
        return path

    behind = WriteBehind(write, lambda p, d: done.append((p.name, d,
                                                         threading.current_thread().name)),
                         depth=2)
    for k in range(50):
        behind.put(f"i{k:02d}", bytes([k]) * 10)
    behind.close()
    assert [name for name, _d, _t in done] == [f"i{k:02d}" for k in range(50)]
    assert all((tmp_path / n).read_bytes() == d for n, d, _t in done)
    assert {t for _n, _d, t in done} == {"pacs-write"}


def test_an_error_reaches_the_receiver_and_nothing_more_is_written(tmp_path: Path) -> None:
    release = threading.Event()
    written: list[str] = []

    def write(key: str, data: bytes) -> Path:
        release.wait(10)
        if key == "i3":
            raise OSError(28, "No space left on device")
        written.append(key)
        return tmp_path / key

    behind = WriteBehind(write, lambda p, d: None, depth=4)
    for k in range(5):
        behind.put(f"i{k}", b"x")
    release.set()  # the writer fails on i3 while the queue is full
    with pytest.raises(OSError, match="No space left"):
        for k in range(5, 200):  # the receiver goes on: it is told, never blocked
            behind.put(f"i{k}", b"x")
    with pytest.raises(OSError):
        behind.close()
    assert written == ["i0", "i1", "i2"]


def test_held_instances_wait_until_released(tmp_path: Path) -> None:
    written: list[str] = []
    behind = WriteBehind(lambda k, d: tmp_path / k, lambda p, d: written.append(p.name),
                         depth=2, hold_bytes=1000)
    for k in range(20):  # far more than depth: a held queue does not block the receiver
        behind.put(f"i{k:02d}", b"x" * 10)
    threading.Event().wait(0.2)
    assert written == [] and behind.held
    behind.release()
    behind.close()
    assert written == [f"i{k:02d}" for k in range(20)]


def test_too_much_held_starts_the_writing(tmp_path: Path) -> None:
    written: list[str] = []
    started = threading.Event()

    def after(path: Path, data: bytes) -> None:
        written.append(path.name)
        started.set()

    behind = WriteBehind(lambda k, d: tmp_path / k, after, depth=2, hold_bytes=25)
    for k in range(3):  # 30 bytes > 25
        behind.put(f"i{k}", b"x" * 10)
    assert started.wait(10) and not behind.held
    for k in range(3, 40):  # depth applies again: the receiver waits for the disk
        behind.put(f"i{k}", b"x" * 10)
    behind.close()
    assert written == [f"i{k}" for k in range(40)]


def test_close_without_writing_the_rest(tmp_path: Path) -> None:
    written: list[str] = []
    behind = WriteBehind(lambda k, d: tmp_path / k, lambda p, d: written.append(p.name),
                         hold_bytes=1 << 20)
    for k in range(5):
        behind.put(f"i{k}", b"x")
    behind.close(write_rest=False)
    assert written == []
