"""`lingshu eval score-reports` with no weights configured answers at once: the default
hub models are looked up in the local cache only, never fetched (issue 9). The "hub" here
is a loopback server that accepts connections and never answers, which is what an
unreachable hub looks like to a client; it must see no connection at all."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture()
def silent_hub():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
                accepted.append(conn)  # held open, never answered
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}", accepted
    stop.set()
    t.join(2)
    for c in accepted:
        c.close()
    srv.close()


def test_no_weights_means_unavailable_at_once_not_a_hub_wait(tmp_path, silent_hub):
    url, accepted = silent_hub
    (tmp_path / "gold.csv").write_text("study_id,report\n1,no acute disease\n2,small left effusion\n")
    (tmp_path / "pred.csv").write_text("study_id,report\n1,no acute disease\n2,left effusion\n")
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_ENDPOINT=url, HF_HOME=str(tmp_path / "hf-home"), HF_HUB_ETAG_TIMEOUT="30",
               HF_HUB_DOWNLOAD_TIMEOUT="30")
    t0 = time.monotonic()
    res = subprocess.run(
        [sys.executable, "-m", "lingshu.cli.main", "eval", "score-reports",
         "--pred", str(tmp_path / "pred.csv"), "--gold", str(tmp_path / "gold.csv"),
         "--metrics", "rouge_l,bertscore,ratescore,green,radgraph"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    elapsed = time.monotonic() - t0
    assert res.returncode == 0, res.stderr
    for name in ("bertscore", "ratescore", "green", "radgraph"):
        assert f"{name}: unavailable" in res.stdout, res.stdout
    assert "rouge_l" in res.stdout
    assert accepted == [], "the hub was contacted"
    assert elapsed < 60, elapsed
