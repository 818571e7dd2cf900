"""The wake socket between the CLI and `serve`'s loop (real unix sockets in a temporary folder)."""

from __future__ import annotations

import select
from pathlib import Path

from freepbx_callback.wake import SOCKET_NAME, Waker, address, wake


def test_a_wake_from_another_process_ends_the_loops_select(tmp_path: Path) -> None:
    waker = Waker()
    try:
        assert waker.listen(tmp_path / "spool") == str(tmp_path / "spool" / SOCKET_NAME)
        assert select.select(waker.filenos(), [], [], 0)[0] == []
        assert wake(tmp_path / "spool")
        assert select.select(waker.filenos(), [], [], 1)[0]
        assert waker.drain() and waker.is_set()
        waker.clear()
        assert not waker.drain() and not waker.is_set()
        waker.set()  # in-process (FastAGI): the same select ends
        assert select.select(waker.filenos(), [], [], 1)[0]
    finally:
        waker.close()
    assert not (tmp_path / "spool" / SOCKET_NAME).exists()
    assert not wake(tmp_path / "spool"), "nobody listens: the CLI goes on"


def test_a_folder_too_long_for_a_socket_path_gets_an_abstract_socket(tmp_path: Path) -> None:
    deep = tmp_path / ("x" * 60) / ("y" * 60)
    assert address(deep).startswith("\0qcb-wake-") and address(deep) == address(deep)
    waker = Waker()
    try:
        waker.listen(deep)
        assert wake(deep) and waker.drain()
    finally:
        waker.close()
