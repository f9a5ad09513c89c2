"""METEOR 1.5 through the field's own implementation, the Java ``meteor-1.5.jar``.

METEOR aligns words through exact, stem, synonym (WordNet) and paraphrase matches with
tuned parameters; reimplementing it to agree with published numbers is impractical, so,
like pycocoevalcap, we run the jar that pycocoevalcap ships (``-l en -norm``, stdio mode)
in ONE long-lived Java subprocess and talk to it line by line: a ``SCORE`` line per
sample returns its statistics, one ``EVAL`` line with all statistics returns the
per-sample scores and the corpus score (the jar aggregates statistics, so the corpus score
is not the mean of the per-sample scores). When Java or the jar is missing the metric is
reported unavailable with one line saying what to install.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path

JAR_NAME = "meteor-1.5.jar"


class MeteorUnavailable(RuntimeError):
    """Java or the METEOR jar cannot be found; the message says what to do."""


def find_jar(jar: str | Path | None = None) -> Path:
    """The jar from ``jar`` (a path from config), else the one inside pycocoevalcap."""
    if jar is not None:
        p = Path(jar).expanduser()
        if not p.is_file():
            raise MeteorUnavailable(f"METEOR jar {p} not found; set weights.meteor_jar to meteor-1.5.jar")
        return p
    spec = importlib.util.find_spec("pycocoevalcap")
    if spec is None or not spec.submodule_search_locations:
        raise MeteorUnavailable(
            "METEOR needs meteor-1.5.jar: `pip install pycocoevalcap==1.2` (it ships the jar) "
            "or set weights.meteor_jar"
        )
    p = Path(next(iter(spec.submodule_search_locations))) / "meteor" / JAR_NAME
    if not p.is_file():
        raise MeteorUnavailable(f"METEOR jar missing from pycocoevalcap ({p}); reinstall pycocoevalcap==1.2")
    return p


class Meteor:
    """A running METEOR jar. Use as a context manager, or call ``close()``."""

    def __init__(self, jar: str | Path | None = None, java: str | None = None) -> None:
        java_bin = java or shutil.which("java")
        if java_bin is None:
            raise MeteorUnavailable("METEOR needs Java (17 works): install a JRE, e.g. `apt-get install openjdk-17-jre-headless`")
        path = find_jar(jar)
        # The jar finds its paraphrase table relative to its own folder, hence cwd.
        self._proc = subprocess.Popen(
            [java_bin, "-jar", "-Xmx2G", path.name, "-", "-", "-stdio", "-l", "en", "-norm"],
            cwd=path.parent,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._lock = threading.Lock()

    def _send(self, line: str) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write((line + "\n").encode("utf-8"))
        self._proc.stdin.flush()

    def _read(self) -> str:
        assert self._proc.stdout is not None
        out = self._proc.stdout.readline()
        if not out:
            raise MeteorUnavailable("the METEOR jar stopped unexpectedly (out of memory? try fewer samples)")
        return out.decode("utf-8").strip()

    def score(self, hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> tuple[float, list[float]]:
        """(corpus METEOR, per-sample METEOR) of tokenised hypotheses and references."""
        if not hyps:
            return float("nan"), []
        with self._lock:
            stats = []
            for hyp, rs in zip(hyps, refs, strict=True):
                # Same sanitising as pycocoevalcap: "|||" is the jar's field separator.
                h = hyp.replace("|||", "").replace("  ", " ")
                self._send(" ||| ".join(("SCORE", " ||| ".join(rs), h)))
                stats.append(self._read())
            self._send("EVAL ||| " + " ||| ".join(stats))
            per = [float(self._read()) for _ in hyps]
            corpus = float(self._read())
        return corpus, per

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            self._proc.kill()
            self._proc.wait()

    def __enter__(self) -> Meteor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
