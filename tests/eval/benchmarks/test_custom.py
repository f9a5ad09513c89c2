"""Custom benchmarks from a YAML + a CSV / TSV / JSONL / parquet file (``custom:PATH.yaml``).

Each format is read from files written here (with real image files or embedded image
bytes) and checked field by field; each user mistake is one line naming the file, the row
and the column; an end-to-end ``lingshu eval run -b custom:...`` with the dummy backend is
checked against accuracy computed here from the dummy's answers and the golds.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from pathlib import Path

import pytest

from lingshu.core.errors import UserError
from lingshu.eval.benchmarks import get_benchmark
from lingshu.eval.prompts import get_profile


def _png(rgb: tuple[int, int, int]) -> bytes:
    """A 1x1 PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" + bytes(rgb))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def _write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def _yaml(tmp: Path, body: str, name: str = "bench.yaml") -> str:
    return "custom:" + str(_write(tmp, name, body))


CSV_YAML = """\
name: ward-cxr
file: qa.csv
question_type: yes-no
columns: {question: question, answer: answer, image: image_path, id: qid, category: [modality]}
image_root: images
"""
CSV = """\
qid,question,answer,image_path,modality
q1,Is there a pneumothorax?,no,a.png,CR
q2,Is the heart enlarged?,Yes,sub/b.png,CR
q3,是否有积液?,否,a.png,CT
"""


@pytest.fixture()
def images(tmp_path: Path) -> Path:
    (tmp_path / "images" / "sub").mkdir(parents=True)
    (tmp_path / "images" / "a.png").write_bytes(_png((255, 0, 0)))
    (tmp_path / "images" / "sub" / "b.png").write_bytes(_png((0, 255, 0)))
    return tmp_path / "images"


def test_csv_yes_no_with_image_paths_and_categories(tmp_path, images):
    _write(tmp_path, "qa.csv", CSV)
    bench = get_benchmark(_yaml(tmp_path, CSV_YAML))
    samples = bench.load(tmp_path / "unused")
    assert bench.name == "ward-cxr" and bench.modality == "multimodal"
    assert [s.id for s in samples] == ["q1", "q2", "q3"]
    assert [s.answer for s in samples] == ["no", "Yes", "否"]
    assert {s.task for s in samples} == {"vqa"} and {s.answer_type for s in samples} == {"closed"}
    assert samples[1].images == (str((images / "sub" / "b.png").absolute()),)
    assert samples[2].categories == {"question_type": "yes-no", "modality": "CT"}
    strict = get_profile("strict")
    verdicts = [strict.score(s, r) for s, r in zip(samples, ["No.", "no", "是"])]
    assert [v.correct for v in verdicts] == [True, False, False]


def test_tsv_multiple_choice_option_columns_letter_or_text(tmp_path):
    _write(
        tmp_path,
        "mcq.tsv",
        "question\topa\topb\topc\tgold\n"
        "Which drug reverses heparin?\tProtamine\tVitamin K\tNaloxone\tA\n"
        "Antidote for opioids?\tProtamine\tVitamin K\tNaloxone\tnaloxone\n"
        "Two options only?\tyes\tno\t\t(b)\n",
    )
    yaml = "name: pharm\nfile: mcq.tsv\nquestion_type: multiple-choice\ncolumns:\n"
    yaml += "  question: question\n  answer: gold\n  options: [opa, opb, opc]\n"
    samples = get_benchmark(_yaml(tmp_path, yaml)).load(Path("."))
    assert [s.id for s in samples] == ["row-2", "row-3", "row-4"]
    assert [s.answer for s in samples] == ["A", "C", "B"]
    assert samples[0].options == {"A": "Protamine", "B": "Vitamin K", "C": "Naloxone"}
    assert samples[2].options == {"A": "yes", "B": "no"}
    assert {s.task for s in samples} == {"mcq"} and samples[0].images == ()
    strict = get_profile("strict")
    assert "A. Protamine\nB. Vitamin K\nC. Naloxone" in strict.prompt(samples[0])


def test_jsonl_mixed_types_per_row_options_list_and_base64_image(tmp_path):
    png = base64.b64encode(_png((0, 0, 255))).decode()
    rows = [
        {"q": "Which lobe?", "a": "right upper lobe", "t": "open", "img": f"data:image/png;base64,{png}"},
        {"q": "CT or MRI?", "a": "CT", "t": "closed", "img": f"data:image/png;base64,{png}"},
        {"q": "Best test?", "a": "B", "t": "mcq", "img": f"data:image/png;base64,{png}",
         "opts": ["X-ray", "CT", "MRI"]},
    ]  # fmt: skip
    _write(tmp_path, "qa.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    yaml = "name: mixed\nfile: qa.jsonl\ncolumns:\n  question: q\n  answer: a\n"
    yaml += "  question_type: t\n  image: img\n  options: opts\n"
    samples = get_benchmark(_yaml(tmp_path, yaml)).load(Path("."))
    assert [(s.task, s.answer_type) for s in samples] == [("vqa", "open"), ("vqa", "closed"), ("mcq", None)]
    assert samples[2].options == {"A": "X-ray", "B": "CT", "C": "MRI"}
    assert Path(samples[0].images[0]).read_bytes() == _png((0, 0, 255))
    assert samples[0].images == samples[1].images  # one cached file per content


def test_parquet_embedded_image_bytes_and_options_mapping(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table(
        {
            "question": ["Is this a CT?", "Which side?"],
            "answer": ["yes", "left"],
            "image": [{"bytes": _png((1, 2, 3)), "path": "x.png"}, {"bytes": _png((4, 5, 6)), "path": None}],
            "kind": ["yes-no", "closed"],
            "organ": ["chest", "abdomen"],
        }
    )
    pq.write_table(table, tmp_path / "qa.parquet")
    yaml = "name: pq\nfile: qa.parquet\ncolumns:\n  question: question\n  answer: answer\n"
    yaml += "  image: image\n  question_type: kind\n  category: organ\nsplit: validation\n"
    bench = get_benchmark(_yaml(tmp_path, yaml))
    samples = bench.load(Path("."), "validation")
    assert [s.id for s in samples] == ["row-1", "row-2"]
    assert Path(samples[1].images[0]).read_bytes() == _png((4, 5, 6))
    assert samples[0].categories == {"question_type": "yes-no", "organ": "chest"}
    with pytest.raises(UserError, match=r"unknown split 'test'"):
        bench.load(Path("."), "test")


# ---- one-line errors ----------------------------------------------------------------------

BASE = "name: e\nfile: qa.csv\nquestion_type: {qtype}\ncolumns: {{question: question, answer: answer{extra}}}\n"


@pytest.mark.parametrize(
    ("csv_text", "qtype", "extra", "message"),
    [
        ("question,answer\nIs it?,\n", "yes-no", "", r"qa.csv: row 2: column 'answer' is empty"),
        ("question,answer\nIs it?,maybe\n", "yes-no", "", r"qa.csv: row 2: column 'answer': 'maybe' is not yes or no"),
        ("question,gold\nIs it?,yes\n", "yes-no", "", r"qa.csv: column 'answer' \(columns.answer in bench.yaml\) not found; the file's columns are: question, gold"),
        ("question,answer,a,b\nQ?,C,x,y\n", "multiple-choice", ", options: [a, b]", r"qa.csv: row 2: column 'answer': 'C' is neither an option letter \(A, B\) nor one option's text"),
        ("question,answer,a,b\nQ?,A,x,\n", "multiple-choice", ", options: [a, b]", r"qa.csv: row 2: column 'a, b': fewer than two options"),
        ("question,answer,o\nQ?,A,\"[x, y\"\n", "multiple-choice", ", options: o", r"qa.csv: row 2: column 'o': options are not valid JSON"),
        ("question,answer,o\nQ?,A,x or y\n", "multiple-choice", ", options: o", r"qa.csv: row 2: column 'o': options must be a JSON list or mapping"),
        ("question,answer,img\nIs it?,yes,missing.png\n", "yes-no", ", image: img", r"qa.csv: row 2: column 'img': image file not found: .*missing.png"),
        ("question,answer,img\nIs it?,yes,\n", "yes-no", ", image: img", r"qa.csv: row 2: column 'img': no image"),
        ("question,answer,k\nIs it?,yes,k1\nIs it?,no,k1\n", "yes-no", ", id: k", r"qa.csv: .*duplicate"),
        ("question,answer,t\nIs it?,yes,essay\n", "yes-no", ", question_type: t", r"qa.csv: row 2: column 't': 'essay' is not a question type"),
    ],
    ids=["empty-answer", "not-yes-no", "missing-column", "answer-not-option", "one-option",
         "bad-json-options", "bad-options-text", "image-missing", "image-empty", "duplicate-id",
         "bad-type-value"],
)  # fmt: skip
def test_row_errors_name_file_row_and_column(tmp_path, csv_text, qtype, extra, message):
    _write(tmp_path, "qa.csv", csv_text)
    bench = get_benchmark(_yaml(tmp_path, BASE.format(qtype=qtype, extra=extra)))
    with pytest.raises(UserError, match=message) as err:
        bench.load(Path("."))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("yaml", "message"),
    [
        ("name: e\nfile: qa.csv\nquestion_type: yes-no\ncolumns: {question: q, answer: a, colour: c}\n",
         r"bench.yaml: columns.colour: unknown key"),
        ("name: e\nfile: qa.csv\ncolumns: {question: q, answer: a}\n", r"bench.yaml: question_type: required key is missing"),
        ("name: e\nfile: qa.csv\nquestion_type: essay\ncolumns: {question: q, answer: a}\n", r"bench.yaml: question_type: 'essay' is not allowed"),
        ("name: e\nfile: qa.xlsx\nquestion_type: open\ncolumns: {question: q, answer: a}\n", r"bench.yaml: file: cannot tell the format of 'qa.xlsx'"),
        ("name: e\nfile: nothere.csv\nquestion_type: open\ncolumns: {question: q, answer: a}\n", r"bench.yaml: file: .*nothere.csv not found"),
        ("name: slake\nfile: qa.csv\nquestion_type: open\ncolumns: {question: q, answer: a}\n", r"bench.yaml: name: 'slake' is a built-in benchmark's name"),
        ("name: e\nfile: qa.csv\nquestion_type: open\n", r"bench.yaml: columns: required key is missing"),
    ],
    ids=["unknown-key", "no-type", "bad-type", "bad-extension", "no-file", "builtin-name", "no-columns"],
)  # fmt: skip
def test_yaml_errors_are_one_line(tmp_path, yaml, message):
    _write(tmp_path, "qa.csv", "q,a\nx,y\n")
    with pytest.raises(UserError, match=message) as err:
        get_benchmark(_yaml(tmp_path, yaml))
    assert "\n" not in str(err.value)


def test_malformed_jsonl_and_parquet_name_the_file(tmp_path):
    _write(tmp_path, "qa.jsonl", '{"q": "x", "a": "y"}\n{not json\n')
    yaml = "name: e\nfile: {f}\nquestion_type: open\ncolumns: {{question: q, answer: a}}\n"
    with pytest.raises(UserError, match=r"qa.jsonl:2: not a JSON object"):
        get_benchmark(_yaml(tmp_path, yaml.format(f="qa.jsonl"))).load(Path("."))
    (tmp_path / "qa.parquet").write_bytes(b"not parquet")
    with pytest.raises(UserError, match=r"qa.parquet: not a readable parquet file"):
        get_benchmark(_yaml(tmp_path, yaml.format(f="qa.parquet"), "p.yaml")).load(Path("."))


def test_spreadsheet_csv_with_byte_order_mark(tmp_path):
    (tmp_path / "qa.csv").write_bytes("\ufeffq,a\nIs it?,yes\n".encode("utf-8"))
    yaml = "name: e\nfile: qa.csv\nquestion_type: yes-no\ncolumns: {question: q, answer: a}\n"
    samples = get_benchmark(_yaml(tmp_path, yaml)).load(Path("."))
    assert [(s.id, s.question, s.answer) for s in samples] == [("row-2", "Is it?", "yes")]


def test_not_utf8_csv_is_named(tmp_path):
    (tmp_path / "qa.csv").write_bytes("q,a\nIs it?,oui\xe9\n".encode("latin-1"))
    yaml = "name: e\nfile: qa.csv\nquestion_type: open\ncolumns: {question: q, answer: a}\n"
    with pytest.raises(UserError, match=r"qa.csv: row 2: not UTF-8 text \(byte 0xe9 at offset 14\)"):
        get_benchmark(_yaml(tmp_path, yaml)).load(Path("."))


def test_version_changes_with_the_data(tmp_path):
    _write(tmp_path, "qa.csv", "q,a\nx,y\n")
    name = _yaml(tmp_path, "name: e\nfile: qa.csv\nquestion_type: open\ncolumns: {question: q, answer: a}\n")
    before = get_benchmark(name).version
    _write(tmp_path, "qa.csv", "q,a\nx,z\n")
    assert get_benchmark(name).version != before and before.startswith("custom-")
