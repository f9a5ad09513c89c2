"""Build report-generation test sets from the official releases (``lingshu data prepare``).

Each preparer reads a dataset's release files in place, applies documented rules (split,
section parsing, view selection, what to drop and why) and writes the prepared layout that
the ``mimic-cxr``, ``chexpert-plus`` and ``iu-xray`` benchmarks load (see ``common``).
"""

from lingshu.data.prepare.chexpert_plus import prepare_chexpert_plus
from lingshu.data.prepare.common import PrepareSummary, dicom_to_png
from lingshu.data.prepare.iu_xray import prepare_iu_xray, read_iu_reports
from lingshu.data.prepare.mimic_cxr import prepare_mimic_cxr
from lingshu.data.prepare.sections import ReportSections, clean_text, parse_sections

__all__ = [
    "PrepareSummary",
    "ReportSections",
    "clean_text",
    "dicom_to_png",
    "parse_sections",
    "prepare_chexpert_plus",
    "prepare_iu_xray",
    "prepare_mimic_cxr",
    "read_iu_reports",
]
