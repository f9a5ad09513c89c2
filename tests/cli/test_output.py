"""Output off a terminal and with -q (issue 9): no carriage-return progress lines or escape
codes in logs, -q silences every bar (the libraries' too), paths never wrapped."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time

BENCH = "medqa-usmle"


def _cmd(data_dir, out, *extra):
    return [sys.executable, "-m", "lingshu.cli.main", "eval", "run", "-b", BENCH, "--data-dir",
            str(data_dir), "--backend", "dummy", "--limit", "5", "--no-cache", "-o", str(out), *extra]


def test_off_a_terminal_no_progress_lines_and_paths_whole(data_dir, tmp_path):
    out = tmp_path / ("a-rather-long-folder-name-" * 4) / "run"
    res = subprocess.run(_cmd(data_dir, out), capture_output=True, text=True, timeout=120,
                         env={**os.environ, "COLUMNS": "60"})
    assert res.returncode == 0, res.stderr
    for stream in (res.stdout, res.stderr):
        assert "\r" not in stream and "\x1b[" not in stream, repr(stream[:400])
    assert f"run directory: {out}" in res.stdout.splitlines()
    assert any(line.startswith("per-sample results: ") and str(out) in line for line in res.stdout.splitlines())


def _on_a_pty(cmd) -> str:
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # 40 x 120
    proc = subprocess.Popen(cmd, stdout=slave, stderr=slave, env={**os.environ, "COLUMNS": "120"})
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(30)
    os.close(master)
    return b"".join(chunks).decode("utf-8", "replace")


def test_quiet_silences_bars_on_a_terminal(data_dir, tmp_path):
    shown = _on_a_pty(_cmd(data_dir, tmp_path / "a"))
    assert f"{BENCH}: 100%" in shown  # on a terminal the bar is there...
    quiet = _on_a_pty(_cmd(data_dir, tmp_path / "b", "-q"))
    assert "%|" not in quiet and "\r" not in quiet.replace("\r\n", "\n")  # ...and -q removes it


def test_quiet_switches_off_the_libraries_bars(monkeypatch):
    import huggingface_hub.utils as hub_utils
    import transformers.utils.logging as hf_logging

    from lingshu.cli.output import configure_progress

    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "0")
    hf_logging.enable_progress_bar()
    hub_utils.enable_progress_bars()
    try:
        assert configure_progress(quiet=True) is False
        assert not hf_logging.is_progress_bar_enabled()  # "Loading weights", GGUF conversion
        assert hub_utils.are_progress_bars_disabled()  # downloads
        assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"  # for libraries imported later
    finally:
        hf_logging.enable_progress_bar()
        hub_utils.enable_progress_bars()
