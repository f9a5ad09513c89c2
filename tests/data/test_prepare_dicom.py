"""DICOM -> PNG conversion against hand-worked pixel values.

Pixels [[0, 100], [200, 400]] (12-bit, no rescale):
- no window: linear 0..400 -> 0..255: 0, 63.75, 127.5, 255 -> rounded 0, 64, 128, 255;
- MONOCHROME1: 255 minus those: 255, 191.25, 127.5, 0 -> 255, 191, 128, 0;
- window centre 200 / width 200 (DICOM linear VOI: x <= 100 -> min, x > 299 -> max, else
  ((x - 199.5) / 199 + 0.5) of the range): 0 -> 0, 100 -> 0, 200 -> 0.502513 * 255 =
  128.14 -> 128, 400 -> 255.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from report_releases import DICOM_PIXELS, write_dicom

from lingshu.core.errors import DataError
from lingshu.data.prepare import dicom_to_png


@pytest.mark.parametrize(
    ("photometric", "window", "expected"),
    [
        ("MONOCHROME2", None, [[0, 64], [128, 255]]),
        ("MONOCHROME1", None, [[255, 191], [128, 0]]),
        ("MONOCHROME2", (200, 200), [[0, 0], [128, 255]]),
    ],
)
def test_dicom_to_png(tmp_path, photometric, window, expected):
    src = write_dicom(tmp_path / "x.dcm", DICOM_PIXELS, photometric, window)
    dest = tmp_path / "out" / "x.png"
    dicom_to_png(src, dest)
    image = Image.open(dest)
    assert image.mode == "L"
    assert np.array_equal(np.array(image), expected)


def test_unreadable_dicom_is_a_data_error(tmp_path):
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"\0" * 200)
    with pytest.raises(DataError, match="bad.dcm: not a readable DICOM image"):
        dicom_to_png(bad, tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()
