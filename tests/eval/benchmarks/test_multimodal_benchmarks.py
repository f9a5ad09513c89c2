"""Loaders of the image benchmarks on every layout they accept.

Expected values are computed independently: from the bundled real files with ``json.load``
(VQA-RAD, SLAKE), or written by hand next to small fixtures in the releases' exact formats
(``tests/fixtures/benchmarks/<name>/``; images are generated here with PIL, Hugging Face
exports are built here with ``datasets``).
"""

from __future__ import annotations

import csv
import io
import json
import pickle
import shutil
from pathlib import Path

import pytest
from PIL import Image

from lingshu.core.errors import DataError
from lingshu.eval.benchmarks.base import BENCHMARKS, Benchmark
from lingshu.eval.benchmarks.mmmu_med import SUBJECTS, MmmuMed
from lingshu.eval.benchmarks._common import image_cache_dir
from lingshu.eval.benchmarks.omnimedvqa import OmniMedVqa
from lingshu.eval.benchmarks.pathvqa import PathVqa
from lingshu.eval.benchmarks.pmc_vqa import PmcVqa
from lingshu.eval.benchmarks.slake import Slake
from lingshu.eval.benchmarks.vqa_rad import VqaRad

REPO = Path(__file__).resolve().parents[3]
BUNDLED = REPO / "data" / "benchmarks"
FIXTURES = REPO / "tests" / "fixtures" / "benchmarks"
VQA_RAD_JSON = BUNDLED / "vqa-rad" / "VQA_RAD Dataset Public (train rows only).json"
SLAKE_JSON = BUNDLED / "slake" / "test.sample40images.json"
NAMES = ("vqa-rad", "slake", "pathvqa", "pmc-vqa", "omnimedvqa", "mmmu-med")


# ---- helpers ----------------------------------------------------------------------------


def png_bytes(color: tuple[int, int, int], size: int = 8) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buf, format="PNG")
    return buf.getvalue()


def write_png(path: Path, color: tuple[int, int, int] = (200, 30, 30)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(color))
    return path


def image_cell(color: tuple[int, int, int]) -> dict:
    return {"bytes": png_bytes(color), "path": None}


def write_parquet(path: Path, columns: dict[str, list], image_columns: tuple[str, ...]) -> None:
    """A parquet file as ``datasets`` writes it for a Hugging Face dataset repo."""
    import datasets

    features = datasets.Features(
        {
            name: datasets.Image() if name in image_columns else datasets.Value("string")
            for name in columns
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_dict(columns, features=features).to_parquet(str(path))


def copy_fixture(name: str, tmp_path: Path) -> Path:
    dest = tmp_path / name
    shutil.copytree(FIXTURES / name, dest)
    return dest


# ---- registry / metadata ----------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_registered_with_metadata(name: str) -> None:
    cls = BENCHMARKS.get(name)
    assert issubclass(cls, Benchmark)
    assert cls.name == name
    assert cls.modality == "multimodal"
    for attr in ("source", "license", "split", "layout", "version"):
        assert getattr(cls, attr).strip(), attr
    assert cls.splits and cls.expected_count


@pytest.mark.parametrize("cls", [VqaRad, Slake, PathVqa, PmcVqa, OmniMedVqa, MmmuMed])
def test_missing_directory_names_the_path(cls: type[Benchmark], tmp_path: Path) -> None:
    with pytest.raises(DataError, match=str(tmp_path / cls.name)):
        cls().load(tmp_path)


@pytest.mark.parametrize("cls", [VqaRad, Slake, PathVqa, PmcVqa, OmniMedVqa, MmmuMed])
def test_unknown_split(cls: type[Benchmark]) -> None:
    with pytest.raises(DataError, match="unknown split 'nope'"):
        cls().load(BUNDLED, "nope")


# ---- VQA-RAD ----------------------------------------------------------------------------


def test_vqa_rad_bundled_train_split_matches_independent_count() -> None:
    rows = json.loads(VQA_RAD_JSON.read_text(encoding="utf-8"))
    train_rows = [r for r in rows if r["phrase_type"] not in ("test_freeform", "test_para")]
    samples = VqaRad().load(BUNDLED, "train")

    assert len(samples) == len(train_rows) == 1797
    first, row = samples[0], train_rows[0]
    assert first.id == str(row["qid"])
    assert first.question == row["question"]
    assert first.answer == row["answer"] == "Yes"
    assert first.task == "vqa" and first.answer_type == "closed"
    assert first.categories == {"answer_type": "closed", "question_type": "PRES", "organ": "HEAD"}
    assert first.images == (str(BUNDLED / "vqa-rad" / "VQA_RAD Image Folder" / row["image_name"]),)
    assert Path(first.images[0]).is_file()

    by_id = {s.id: s for s in samples}
    # Numeric answers in the release (qid 1511: 4 gallstones) become text.
    assert by_id["1511"].answer == "4"
    # "CLOSED " (trailing space) in the release is still a closed question.
    padded = [str(r["qid"]) for r in train_rows if r["answer_type"] == "CLOSED "]
    assert padded and all(by_id[q].answer_type == "closed" for q in padded)
    # Answer types agree with the release's labels row by row.
    closed = sum(r["answer_type"].strip() == "CLOSED" for r in train_rows)
    assert sum(s.answer_type == "closed" for s in samples) == closed


def test_vqa_rad_bundled_copy_has_no_test_split() -> None:
    with pytest.raises(DataError, match=r"train rows only\).json: no rows with phrase_type test"):
        VqaRad().load(BUNDLED)


def _small_vqa_rad(tmp_path: Path, n: int = 6) -> tuple[Path, list[dict]]:
    """A copy of the first ``n`` bundled rows (with their images), phrase types rewritten:
    rows 0 and 2 -> test_freeform, row 3 -> test_para."""
    rows = json.loads(VQA_RAD_JSON.read_text(encoding="utf-8"))[:n]
    rows[0]["phrase_type"] = rows[2]["phrase_type"] = "test_freeform"
    rows[3]["phrase_type"] = "test_para"
    root = tmp_path / "vqa-rad"
    (root / "VQA_RAD Image Folder").mkdir(parents=True)
    for r in rows:
        src = BUNDLED / "vqa-rad" / "VQA_RAD Image Folder" / r["image_name"]
        shutil.copy(src, root / "VQA_RAD Image Folder" / r["image_name"])
    (root / "VQA_RAD Dataset Public.json").write_text(json.dumps(rows), encoding="utf-8")
    return root, rows


def test_vqa_rad_test_split_is_the_test_phrase_types(tmp_path: Path) -> None:
    _, rows = _small_vqa_rad(tmp_path)
    test = VqaRad().load(tmp_path)  # default split = test
    train = VqaRad().load(tmp_path, "train")
    assert [s.id for s in test] == [str(rows[i]["qid"]) for i in (0, 2, 3)]
    assert [s.id for s in train] == [str(rows[i]["qid"]) for i in (1, 4, 5)]
    assert all(s.images[0].startswith(str(tmp_path)) for s in test)


def test_vqa_rad_missing_image_names_row_and_path(tmp_path: Path) -> None:
    root, rows = _small_vqa_rad(tmp_path)
    # Row 2 is the first test row showing this image (rows 1 and 4 are train rows).
    (root / "VQA_RAD Image Folder" / rows[2]["image_name"]).unlink()
    with pytest.raises(DataError) as err:
        VqaRad().load(tmp_path)
    msg = str(err.value)
    assert f"VQA_RAD Dataset Public.json: row 2 (qid {rows[2]['qid']}): image file not found" in msg
    assert str(root / "VQA_RAD Image Folder" / rows[2]["image_name"]) in msg


def test_vqa_rad_malformed_json_names_file_and_line(tmp_path: Path) -> None:
    root = tmp_path / "vqa-rad"
    (root / "VQA_RAD Image Folder").mkdir(parents=True)
    (root / "VQA_RAD Dataset Public.json").write_text('[{"qid": 1,\n "question": }]')
    with pytest.raises(DataError, match=r"VQA_RAD Dataset Public.json: not valid JSON \(line 2"):
        VqaRad().load(tmp_path)


def test_vqa_rad_row_missing_field_is_named(tmp_path: Path) -> None:
    root, rows = _small_vqa_rad(tmp_path)
    del rows[1]["answer_type"]
    (root / "VQA_RAD Dataset Public.json").write_text(json.dumps(rows))
    with pytest.raises(DataError, match=r"row 1: missing field 'answer_type'"):
        VqaRad().load(tmp_path, "train")


def test_vqa_rad_hugging_face_parquet(tmp_path: Path) -> None:
    data = tmp_path / "vqa-rad" / "data"
    red, blue = image_cell((255, 0, 0)), image_cell((0, 0, 255))
    write_parquet(
        data / "test-00000-of-00001.parquet",
        {
            "image": [red, blue, red],
            "question": ["is there a fracture?", "where is the mass?", "Is the aorta dilated?"],
            "answer": ["yes", "left lung", "No"],
        },
        ("image",),
    )
    write_parquet(
        data / "train-00000-of-00001.parquet",
        {"image": [blue], "question": ["what organ?"], "answer": ["liver"]},
        ("image",),
    )
    test = VqaRad().load(tmp_path)
    assert [s.id for s in test] == ["hf-test-0", "hf-test-1", "hf-test-2"]
    # derived from gold: a breakdown key only, never the prompt-facing answer_type
    assert [s.answer_type for s in test] == [None, None, None]
    assert [s.categories for s in test] == [
        {"answer_type": t} for t in ("closed", "open", "closed")
    ]
    assert Path(test[0].images[0]).read_bytes() == red["bytes"]
    assert Path(test[1].images[0]).read_bytes() == blue["bytes"]
    assert test[0].images == test[2].images  # same bytes -> one cached file
    assert Path(test[0].images[0]).is_absolute()
    # written to the image cache, never into the data folder
    assert Path(test[0].images[0]).parent == image_cache_dir()
    assert not (tmp_path / "vqa-rad" / ".lingshu_images").exists()
    assert [s.answer for s in VqaRad().load(tmp_path, "train")] == ["liver"]


# ---- SLAKE ------------------------------------------------------------------------------


def test_slake_bundled_english_and_chinese_counts() -> None:
    rows = json.loads(SLAKE_JSON.read_text(encoding="utf-8"))
    en = [r for r in rows if r["q_lang"] == "en"]
    zh = [r for r in rows if r["q_lang"] == "zh"]
    samples = Slake().load(BUNDLED)
    assert len(samples) == len(en) == 230
    assert len(Slake().load(BUNDLED, "test-zh")) == len(zh) == 225

    first, row = samples[0], en[0]
    assert first.id == str(row["qid"]) == "11994"
    assert (first.question, first.answer) == (row["question"], row["answer"])
    assert first.task == "vqa" and first.answer_type == "open"
    assert first.categories == {
        "answer_type": "open",
        "modality": "X-Ray",
        "organ": "Lung",
        "content_type": "Modality",
    }
    assert first.images == (str(BUNDLED / "slake" / "imgs" / "xmlab142" / "source.jpg"),)
    closed = sum(r["answer_type"] == "CLOSED" for r in en)
    assert sum(s.answer_type == "closed" for s in samples) == closed


def _slake_rows(n: int) -> list[dict]:
    return json.loads(SLAKE_JSON.read_text(encoding="utf-8"))[:n]


def test_slake_prefers_test_json_and_refuses_ambiguous_files(tmp_path: Path) -> None:
    root = tmp_path / "slake"
    rows = _slake_rows(3)
    for r in rows:
        write_png(root / "imgs" / r["img_name"])
    (root / "test.json").write_text(json.dumps(rows[:1]))
    (root / "test.partial.json").write_text(json.dumps(rows))
    assert [s.id for s in Slake().load(tmp_path)] == [str(rows[0]["qid"])]
    (root / "test.json").unlink()
    (root / "test.other.json").write_text(json.dumps(rows))
    with pytest.raises(DataError, match="several test\\*.json files"):
        Slake().load(tmp_path)


def test_slake_missing_image_folder_points_at_zip(tmp_path: Path) -> None:
    root = tmp_path / "slake"
    root.mkdir()
    (root / "test.json").write_text(json.dumps(_slake_rows(2)))
    (root / "imgs.zip").write_bytes(b"PK")
    with pytest.raises(DataError, match="imgs: image folder not found; extract imgs.zip"):
        Slake().load(tmp_path)


def test_slake_missing_image_names_row(tmp_path: Path) -> None:
    root = tmp_path / "slake"
    rows = _slake_rows(2)
    write_png(root / "imgs" / rows[0]["img_name"])
    rows[1]["img_name"] = "xmlab9999/source.jpg"
    (root / "test.json").write_text(json.dumps(rows))
    with pytest.raises(DataError, match=rf"row 1 \(qid {rows[1]['qid']}\): image file not found"):
        Slake().load(tmp_path)


def test_slake_parquet_export_with_image_bytes(tmp_path: Path) -> None:
    cols = {
        "image": [image_cell((1, 2, 3)), image_cell((4, 5, 6)), image_cell((7, 8, 9))],
        "question": ["Is this a CT?", "这是CT吗?", "Which lobe has the nodule?"],
        "answer": ["Yes", "是", "Right upper lobe"],
        "answer_type": ["CLOSED", "CLOSED", "OPEN"],
        "q_lang": ["en", "zh", "en"],
        "qid": ["7", "8", "9"],
        "modality": ["CT", "CT", "CT"],
        "location": ["Lung", "Lung", "Lung"],
        "content_type": ["Modality", "Modality", "Position"],
    }
    write_parquet(tmp_path / "slake" / "data" / "test-00000.parquet", cols, ("image",))
    samples = Slake().load(tmp_path)
    assert [(s.id, s.answer_type) for s in samples] == [("7", "closed"), ("9", "open")]
    assert Path(samples[1].images[0]).read_bytes() == cols["image"][2]["bytes"]
    assert samples[1].categories["content_type"] == "Position"
    assert [s.id for s in Slake().load(tmp_path, "test-zh")] == ["8"]


def test_slake_export_without_answer_type_is_refused(tmp_path: Path) -> None:
    cols = {"image": [image_cell((1, 1, 1))], "question": ["q?"], "answer": ["no"], "qid": ["1"]}
    write_parquet(tmp_path / "slake" / "test.parquet", cols, ("image",))
    with pytest.raises(DataError, match="row 0: missing field 'answer_type'"):
        Slake().load(tmp_path)


# ---- PathVQA ----------------------------------------------------------------------------


def test_pathvqa_parquet_splits_and_yes_no_closed(tmp_path: Path) -> None:
    data = tmp_path / "pathvqa" / "data"
    imgs = [image_cell((i, 0, 0)) for i in range(4)]
    # Two test files: rows are numbered across them in file-name order.
    write_parquet(
        data / "test-00000-of-00002.parquet",
        {
            "image": imgs[:2],
            "question": ["is this squamous?", "what is present?"],
            "answer": ["yes", "fibrin"],
        },
        ("image",),
    )
    write_parquet(
        data / "test-00001-of-00002.parquet",
        {"image": imgs[2:3], "question": ["does this show necrosis?"], "answer": ["no"]},
        ("image",),
    )
    write_parquet(
        data / "validation-00000-of-00001.parquet",
        {"image": imgs[3:], "question": ["how is the cytoplasm?"], "answer": ["yes"]},
        ("image",),
    )
    test = PathVqa().load(tmp_path)
    assert [(s.id, s.answer, s.categories["answer_type"], s.answer_type) for s in test] == [
        ("test-0", "yes", "closed", None),
        ("test-1", "fibrin", "open", None),
        ("test-2", "no", "closed", None),
    ]
    assert Path(test[2].images[0]).read_bytes() == imgs[2]["bytes"]
    assert [s.id for s in PathVqa().load(tmp_path, "validation")] == ["validation-0"]


def test_pathvqa_save_to_disk_export(tmp_path: Path) -> None:
    import datasets

    features = datasets.Features(
        {
            "image": datasets.Image(),
            "question": datasets.Value("string"),
            "answer": datasets.Value("string"),
        }
    )
    img = image_cell((9, 9, 9))
    dd = datasets.DatasetDict(
        {
            "test": datasets.Dataset.from_dict(
                {"image": [img], "question": ["is it benign?"], "answer": ["no"]}, features
            ),
            "train": datasets.Dataset.from_dict(
                {"image": [img], "question": ["what organ?"], "answer": ["liver"]}, features
            ),
        }
    )
    dd.save_to_disk(str(tmp_path / "pathvqa"))
    (sample,) = PathVqa().load(tmp_path)
    assert (sample.id, sample.question, sample.categories) == (
        "test-0",
        "is it benign?",
        {"answer_type": "closed"},
    )
    assert Path(sample.images[0]).read_bytes() == img["bytes"]


class _TouchOnUnpickle:
    """Unpickling this creates a file: proof that the loader never unpickles."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.touch, (self.marker,))


def test_pathvqa_original_pickle_release_is_refused_unread(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled.marker"
    pkl = tmp_path / "pathvqa" / "qas" / "test" / "test_qa.pkl"
    pkl.parent.mkdir(parents=True)
    pkl.write_bytes(pickle.dumps(_TouchOnUnpickle(marker)))
    with pytest.raises(DataError) as err:
        PathVqa().load(tmp_path)
    assert str(pkl) in str(err.value)
    assert "never loads" in str(err.value) and "flaviagiammarino/path-vqa" in str(err.value)
    assert not marker.exists()


# ---- PMC-VQA ----------------------------------------------------------------------------


def _pmc_with_images(tmp_path: Path, csv_name: str, image_dir: str) -> Path:
    root = copy_fixture("pmc-vqa", tmp_path)
    with (root / csv_name).open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            write_png(root / image_dir / row["Figure_path"])
    return root


def test_pmc_vqa_test_2(tmp_path: Path) -> None:
    root = _pmc_with_images(tmp_path, "test_2.csv", "figures")
    samples = PmcVqa().load(tmp_path)
    assert [(s.id, s.answer) for s in samples] == [("0", "A"), ("1", "B"), ("2", "A"), ("3", "D")]
    assert samples[0].options == {"A": "CT scan", "B": "MRI", "C": "X-ray", "D": "Ultrasound"}
    assert samples[2].options["A"] == '"Bat-wing" opacities, bilateral'
    assert samples[1].question == "Which organ, shown in the figure, is enlarged?"
    assert samples[3].options["D"] == "PAS"
    assert all(s.task == "mcq" and s.categories == {} for s in samples)
    assert samples[0].images == (str(root / "figures" / "PMC8253873_Fig6_46.jpg"),)


def test_pmc_vqa_version_1_clean_split_uses_answer_label(tmp_path: Path) -> None:
    _pmc_with_images(tmp_path, "test_clean.csv", "images")
    samples = PmcVqa().load(tmp_path, "test_clean")
    assert [(s.id, s.answer) for s in samples] == [("1", "B"), ("2", "C")]
    assert samples[0].options["B"] == "Focal uptake pattern"


def test_pmc_vqa_missing_image_names_row_and_figure(tmp_path: Path) -> None:
    root = _pmc_with_images(tmp_path, "test_2.csv", "images_2")
    (root / "images_2" / "PMC3418393_F2.jpg").unlink()
    with pytest.raises(DataError, match=r"test_2.csv: row 3: image file not found: 'PMC3418393_F2"):
        PmcVqa().load(tmp_path)


def test_pmc_vqa_unmatched_gold_is_an_error(tmp_path: Path) -> None:
    root = _pmc_with_images(tmp_path, "test_2.csv", "figures")
    text = (root / "test_2.csv").read_text(encoding="utf-8").replace(",D,test", ",Z,test")
    (root / "test_2.csv").write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=r"row 5: gold answer 'Z'"):
        PmcVqa().load(tmp_path)


# ---- OmniMedVQA -------------------------------------------------------------------------


def _omni_with_images(tmp_path: Path) -> Path:
    root = copy_fixture("omnimedvqa", tmp_path)
    for f in (root / "QA_information" / "Open-access").glob("*.json"):
        for row in json.loads(f.read_text(encoding="utf-8")):
            write_png(root / row["image_path"])
    return root


def test_omnimedvqa_open_access(tmp_path: Path) -> None:
    root = _omni_with_images(tmp_path)
    samples = OmniMedVqa().load(tmp_path)
    # Files in name order: "ACRIMA.json" < "Chest CT Scan.json".
    assert [(s.id, s.answer) for s in samples] == [
        ("ACRIMA/ACRIMA_0000", "B"),
        ("ACRIMA/ACRIMA_0001", "D"),
        ("Chest CT Scan/Chest CT Scan_0000", "C"),
    ]
    assert samples[0].options == {"A": "Diabetic retinopathy", "B": "Glaucoma"}
    assert list(samples[1].options) == ["A", "B", "C", "D"]
    assert samples[0].categories == {
        "modality": "Fundus Photography",
        "question_type": "Disease Diagnosis",
        "dataset": "ACRIMA",
    }
    assert samples[2].categories["modality"] == "CT(Computed Tomography)"  # "modality" key
    assert samples[2].images == (str(root / "Images/Chest CT Scan/test/normal/7.png"),)


def test_omnimedvqa_gold_not_among_options(tmp_path: Path) -> None:
    root = _omni_with_images(tmp_path)
    path = root / "QA_information" / "Open-access" / "ACRIMA.json"
    rows = json.loads(path.read_text(encoding="utf-8"))
    rows[1]["gt_answer"] = "Colposcopy"
    path.write_text(json.dumps(rows), encoding="utf-8")
    with pytest.raises(DataError, match=r"ACRIMA.json: row 1 \(question_id ACRIMA_0001\): gt_ans"):
        OmniMedVqa().load(tmp_path)


def test_omnimedvqa_missing_image(tmp_path: Path) -> None:
    root = _omni_with_images(tmp_path)
    (root / "Images" / "ACRIMA" / "Im002_ACRIMA.png").unlink()
    with pytest.raises(DataError, match=r"ACRIMA_0001\): image file not found: .*Im002_ACRIMA"):
        OmniMedVqa().load(tmp_path)


# ---- MMMU-Med ---------------------------------------------------------------------------


def _mmmu_row(subject: str, n: int, **over: object) -> dict:
    row: dict = {
        "id": f"validation_{subject}_{n}",
        "question": f"<image 1> Question {n} about {subject}?",
        "options": "['first', 'second', 'third']",
        "answer": "B",
        "question_type": "multiple-choice",
        "subfield": "Pathology",
        "img_type": "['Microscopic Images']",
        **{f"image_{k}": None for k in range(1, 8)},
    }
    row["image_1"] = image_cell((n, 10, 10))
    row.update(over)
    return row


def _write_mmmu(tmp_path: Path, rows_by_subject: dict[str, list[dict]]) -> None:
    for subject, rows in rows_by_subject.items():
        columns = {key: [r[key] for r in rows] for key in rows[0]}
        images = tuple(f"image_{k}" for k in range(1, 8))
        write_parquet(
            tmp_path / "mmmu-med" / subject / "validation-00000-of-00001.parquet", columns, images
        )


def test_mmmu_med_parquet_per_subject(tmp_path: Path) -> None:
    two_images = _mmmu_row(
        "Clinical_Medicine",
        2,
        question="Compare <image 1> and <image 2>.",
        image_2=image_cell((0, 200, 0)),
        img_type="['Body Scans: MRI, CT scans, and X-rays', 'Sketches and Drafts']",
    )
    open_question = _mmmu_row("Public_Health", 3, question_type="open", options="[]", answer="0.25")
    rows = {s: [_mmmu_row(s, 1)] for s in SUBJECTS}
    rows["Clinical_Medicine"].append(two_images)
    rows["Public_Health"].append(open_question)
    _write_mmmu(tmp_path, rows)

    samples = MmmuMed().load(tmp_path)
    assert [s.id for s in samples] == [
        "validation_Basic_Medical_Science_1",
        "validation_Clinical_Medicine_1",
        "validation_Clinical_Medicine_2",
        "validation_Diagnostics_and_Laboratory_Medicine_1",
        "validation_Pharmacy_1",
        "validation_Public_Health_1",
        "validation_Public_Health_3",
    ]
    mcq = samples[0]
    assert (mcq.task, mcq.answer) == ("mcq", "B")
    assert mcq.options == {"A": "first", "B": "second", "C": "third"}
    assert mcq.question == "<image 1> Question 1 about Basic_Medical_Science?"
    assert mcq.categories == {
        "subject": "Basic_Medical_Science",
        "subfield": "Pathology",
        "img_type": "Microscopic Images",
    }
    pair = samples[2]
    assert [Path(p).read_bytes() for p in pair.images] == [
        two_images["image_1"]["bytes"],
        two_images["image_2"]["bytes"],
    ]
    assert (
        pair.categories["img_type"] == "Body Scans: MRI, CT scans, and X-rays; Sketches and Drafts"
    )
    opened = samples[-1]
    assert (opened.task, opened.answer_type, opened.answer, opened.options) == (
        "vqa",
        "open",
        "0.25",
        {},
    )


def test_mmmu_med_missing_subject_is_named(tmp_path: Path) -> None:
    _write_mmmu(tmp_path, {s: [_mmmu_row(s, 1)] for s in SUBJECTS if s != "Pharmacy"})
    with pytest.raises(DataError, match="missing subject folder\\(s\\) Pharmacy"):
        MmmuMed().load(tmp_path)


def test_mmmu_med_bad_options_and_answer_are_named(tmp_path: Path) -> None:
    rows = {s: [_mmmu_row(s, 1)] for s in SUBJECTS}
    rows["Pharmacy"] = [_mmmu_row("Pharmacy", 1, options="['a', 'b'")]
    _write_mmmu(tmp_path, rows)
    with pytest.raises(DataError, match=r"id validation_Pharmacy_1\): options is not a list"):
        MmmuMed().load(tmp_path)

    rows["Pharmacy"] = [_mmmu_row("Pharmacy", 1, answer="E")]
    _write_mmmu(tmp_path, rows)
    with pytest.raises(DataError, match=r"answer 'E' is not one of the option letters"):
        MmmuMed().load(tmp_path)
