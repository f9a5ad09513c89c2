"""METEOR 1.5 through the field's own implementation, the Java ``meteor-1.5.jar``.

METEOR aligns words through exact, stem, synonym (WordNet) and paraphrase matches with
tuned parameters; reimplementing it to agree with published numbers is impractical, so,
like pycocoevalcap, we run the jar that pycocoevalcap ships (``-l en -norm``, stdio mode)
in long-lived Java subprocesses: a ``SCORE`` line per sample returns its statistics, one
``EVAL`` line with all statistics returns the per-sample scores and the corpus score (the
jar aggregates statistics, so the corpus score is not the mean of the per-sample scores).
Unlike pycocoevalcap, SCORE lines are pipelined and split over one jar per core. When Java or the jar is missing the metric is
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


class _Jar:
    """One METEOR jar process in stdio mode."""

    def __init__(self, java_bin: str, path: Path) -> None:
        # The jar finds its paraphrase table relative to its own folder, hence cwd.
        self.proc = subprocess.Popen(
            [java_bin, "-jar", "-Xmx2G", path.name, "-", "-", "-stdio", "-l", "en", "-norm"],
            cwd=path.parent,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    def send(self, lines: Sequence[str]) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write("".join(line + "\n" for line in lines).encode("utf-8"))
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass  # the reader reports the stopped jar

    def read(self) -> str:
        assert self.proc.stdout is not None
        out = self.proc.stdout.readline()
        if not out:
            raise MeteorUnavailable("the METEOR jar stopped unexpectedly (out of memory? try fewer samples)")
        return out.decode("utf-8").strip()

    def statistics(self, lines: Sequence[str]) -> list[str]:
        """The jar's answer to each SCORE line. The lines are written from a second thread
        while answers are read here (pipelined), instead of one round trip per line."""
        writer = threading.Thread(target=self.send, args=(lines,), daemon=True)
        writer.start()
        try:
            return [self.read() for _ in lines]
        finally:
            writer.join()

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
            self.proc.kill()
            self.proc.wait()


class Meteor:
    """Running METEOR jars. Use as a context manager, or call ``close()``.

    SCORE lines are fed without waiting for each answer (pipelined). ``workers > 1``
    splits them over several jar processes (the EVAL line with all statistics goes to the
    first; a sample's statistics do not depend on the others, so values are identical).
    The default is one: each jar spends ~7 s of CPU loading its paraphrase tables and
    scores the 3,419 IU-Xray pairs in ~3 s, so on 2 cores a second jar made it slower
    (13.9 s against 10.8 s); it pays on machines with many free cores and large sets.
    """

    MIN_PER_WORKER = 200
    """Fewer samples per extra worker do not repay its JVM start (about 2 s)."""

    def __init__(
        self, jar: str | Path | None = None, java: str | None = None, workers: int | None = None
    ) -> None:
        java_bin = java or shutil.which("java")
        if java_bin is None:
            raise MeteorUnavailable("METEOR needs Java (17 works): install a JRE, e.g. `apt-get install openjdk-17-jre-headless`")
        self._java = java_bin
        self._path = find_jar(jar)
        self._max_workers = max(1, workers or 1)
        self._jars = [_Jar(java_bin, self._path)]
        self._lock = threading.Lock()

    def score(self, hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> tuple[float, list[float]]:
        """(corpus METEOR, per-sample METEOR) of tokenised hypotheses and references."""
        if not hyps:
            return float("nan"), []
        lines = []
        for hyp, rs in zip(hyps, refs, strict=True):
            # Same sanitising as pycocoevalcap: "|||" is the jar's field separator.
            h = hyp.replace("|||", "").replace("  ", " ")
            lines.append(" ||| ".join(("SCORE", " ||| ".join(rs), h)))
        with self._lock:
            n_workers = max(1, min(self._max_workers, len(lines) // self.MIN_PER_WORKER))
            while len(self._jars) < n_workers:
                self._jars.append(_Jar(self._java, self._path))
            jars = self._jars[:n_workers]
            size = -(-len(lines) // n_workers)
            chunks = [lines[k * size : (k + 1) * size] for k in range(n_workers)]
            results: list[list[str] | BaseException] = [[] for _ in jars]

            def run(k: int) -> None:
                try:
                    results[k] = jars[k].statistics(chunks[k])
                except BaseException as e:  # noqa: BLE001 - re-raised below, in the caller's thread
                    results[k] = e

            threads = [threading.Thread(target=run, args=(k,)) for k in range(1, n_workers)]
            for t in threads:
                t.start()
            run(0)
            for t in threads:
                t.join()
            stats: list[str] = []
            for r in results:
                if isinstance(r, BaseException):
                    raise r
                stats.extend(r)
            first = jars[0]
            first.send(["EVAL ||| " + " ||| ".join(stats)])
            per = [float(first.read()) for _ in hyps]
            corpus = float(first.read())
        return corpus, per

    def close(self) -> None:
        for jar in self._jars:
            jar.close()

    def __enter__(self) -> Meteor:  # noqa: PYI034 - Python 3.11 target, no Self in this module
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
