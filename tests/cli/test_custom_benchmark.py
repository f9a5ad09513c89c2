"""``lingshu eval run -b custom:PATH.yaml`` and ``lingshu benchmarks info custom:PATH.yaml``
end to end, in-process, with the dummy backend.

The expected accuracy is computed here: the dummy's answer to each prompt (a letter for
multiple choice, yes / no for yes / no prompts) compared with the gold by plain equality,
which is what any reading of a one-token answer gives.
"""

from __future__ import annotations

import json
from pathlib import Path

from lingshu.cli.main import main
from lingshu.eval.benchmarks import get_benchmark
from lingshu.eval.prompts import get_profile
from lingshu.inference.backends.dummy import dummy_answer

ROWS = [
    ("Which vessel is occluded?", "Left anterior descending", "Circumflex", "Right coronary", "A"),
    ("First-line drug for anaphylaxis?", "Adrenaline", "Antihistamine", "Steroid", "A"),
    ("Most common site of ectopic pregnancy?", "Ovary", "Ampulla", "Cervix", "B"),
    ("Nerve injured in wrist drop?", "Ulnar", "Median", "Radial", "C"),
    ("Deficiency in scurvy?", "Vitamin C", "Vitamin D", "Vitamin B12", "A"),
    ("Gold standard for PE diagnosis?", "D-dimer", "CT pulmonary angiography", "ECG", "B"),
]


def _bench(tmp_path: Path) -> str:
    lines = ["question,a,b,c,answer"] + [",".join(r) for r in ROWS]
    (tmp_path / "exam.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "exam.yaml").write_text(
        "name: ward-exam\nfile: exam.csv\nquestion_type: multiple-choice\n"
        "description: Six ward questions.\n"
        "columns: {question: question, answer: answer, options: [a, b, c]}\n",
        encoding="utf-8",
    )
    return f"custom:{tmp_path / 'exam.yaml'}"


def test_eval_run_custom_benchmark_with_dummy_backend(tmp_path, capsys):
    name = _bench(tmp_path)
    out = tmp_path / "run"
    assert main(["eval", "run", "-b", name, "--backend", "dummy", "-o", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())["benchmarks"]["ward-exam"]
    strict = get_profile("strict")
    samples = get_benchmark(name).load(tmp_path)
    answers = [dummy_answer(strict.build_messages(s)) for s in samples]
    right = sum(a == s.answer for a, s in zip(answers, samples))
    assert metrics["n"] == 6 and metrics["n_invalid"] == 0
    assert metrics["accuracy"] == right / 6
    records = [json.loads(x) for x in (out / "samples" / "ward-exam.jsonl").read_text().splitlines()]
    assert [r["sample_id"] for r in records] == [f"row-{i}" for i in range(2, 8)]
    assert [r["gold"] for r in records] == [r[-1] for r in ROWS]


def test_benchmarks_info_shows_what_was_read(tmp_path, capsys):
    name = _bench(tmp_path)
    assert main(["benchmarks", "info", name]) == 0
    shown = capsys.readouterr().out
    assert "ward-exam (version custom-" in shown and "Six ward questions." in shown
    assert "(csv, 6 rows)" in shown
    assert "types:    multiple-choice 6" in shown
    assert "columns.options.2=c" in shown


def test_custom_error_is_one_line_exit_2(tmp_path, capsys):
    (tmp_path / "exam.csv").write_text("question,answer\nIs it?,perhaps\n", encoding="utf-8")
    (tmp_path / "exam.yaml").write_text(
        "name: x\nfile: exam.csv\nquestion_type: yes-no\ncolumns: {question: question, answer: answer}\n",
        encoding="utf-8",
    )
    code = main(["eval", "run", "-b", f"custom:{tmp_path / 'exam.yaml'}", "--backend", "dummy",
                 "-o", str(tmp_path / "run")])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1
    assert "exam.csv: row 2: column 'answer': 'perhaps' is not yes or no" in err
