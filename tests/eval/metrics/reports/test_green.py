"""GREEN: the prompt, the parsing of assessments (hand-worked cases in the format the GREEN
models write), the score, and the model path end to end on a real small causal LM."""

from __future__ import annotations

import pytest

from lingshu.eval.metrics.reports import score_reports
from lingshu.eval.metrics.reports.green import (
    ERROR_TYPES,
    GreenCounts,
    chat_messages,
    clean_completion,
    generate_assessments,
    green_prompt,
    parse_assessment,
)

# An assessment as GREEN-RadLlama2-7b writes it (reference: "Mild cardiomegaly. Small left
# pleural effusion. No pneumothorax."; candidate: "Normal heart size. Small right pleural
# effusion. No pneumothorax.").
ASSESSMENT = """[Explanation]:
The candidate report misses the cardiomegaly and places the effusion on the wrong side.

[Clinically Significant Errors]:
(a) False report of a finding in the candidate: 0.
(b) Missing a finding present in the reference: 1. Mild cardiomegaly
(c) Misidentification of a finding's anatomic location/position: 1. Right instead of left pleural effusion
(d) Misassessment of the severity of a finding: 0.
(e) Mentioning a comparison that isn't in the reference: 0.
(f) Omitting a comparison detailing a change from a prior study: 0.

[Clinically Insignificant Errors]:
(a) False report of a finding in the candidate: 0.
(b) Missing a finding present in the reference: 0.
(c) Misidentification of a finding's anatomic location/position: 0.
(d) Misassessment of the severity of a finding: 1. Normal heart size
(e) Mentioning a comparison that isn't in the reference: 0.
(f) Omitting a comparison detailing a change from a prior study: 0.

[Matched Findings]:
2. Pleural effusion; No pneumothorax
"""


def test_prompt_places_both_reports_in_the_fixed_format():
    p = green_prompt("REF TEXT", "CAND TEXT")
    assert p.startswith(
        "Objective: Evaluate the accuracy of a candidate radiology report in comparison to a "
        "reference radiology report composed by expert radiologists.\n\n    Process Overview:"
    )
    assert "\n    2. Reference Report:\n    REF TEXT\n\n    3. Candidate Report:\n    CAND TEXT\n\n" in p
    assert "    a) False report of a finding in the candidate.\n" in p
    assert "    f) Omitting a comparison detailing a change from a prior study.\n    Note:" in p
    assert p.count("(a) <Error Type>: <The number of errors>. <Error 1>; <Error 2>; ...; <Error n>") == 2
    assert p.endswith(
        "    [Matched Findings]:\n    <The number of matched findings>. <Finding 1>; <Finding 2>;"
        " ...; <Finding n>\n    ```\n"
    )
    assert p.index("REF TEXT") < p.index("CAND TEXT")
    assert len(ERROR_TYPES) == 6


def test_hand_worked_assessment():
    c = parse_assessment(ASSESSMENT)
    assert c == GreenCounts(significant=(0, 1, 1, 0, 0, 0), insignificant=(0, 0, 0, 1, 0, 0), matched=2)
    assert c.score == pytest.approx(2 / (2 + 2))  # insignificant errors do not count


@pytest.mark.parametrize(
    ("text", "significant", "matched", "score"),
    [
        # No errors at all: GREEN 1.
        (("[Clinically Significant Errors]:\nNo clinically significant errors.\n\n"
          "[Matched Findings]:\n3. a; b; c"), (0,) * 6, 3, 1.0),
        # Nothing matched: GREEN 0 whatever the errors.
        (("[Clinically Significant Errors]:\n(a) False report: 2. x; y\n\n"
          "[Matched Findings]:\nNo matched findings."), (2, 0, 0, 0, 0, 0), 0, 0.0),
        # The GPT-4 template numbers the types.
        (("[Clinically Significant Errors]:\n(1) False report: 1. x\n(4) Severity: 2. y; z\n\n"
          "[Matched Findings]:\n1. w"), (1, 0, 0, 2, 0, 0), 1, 1 / 4),
        # Sections missing: all zero, GREEN 0.
        ("garbage the model wrote", (0,) * 6, 0, 0.0),
        ("", (0,) * 6, 0, 0.0),
        # A count not followed by "." is not read; a letter repeated: the line that sorts
        # last wins (the reference sorts the lines).
        (("[Clinically Significant Errors]:\n(a) False report: 3 errors\n(b) Missing: 2. x; y\n"
          "(b) Missing: 1. x\n\n[Matched Findings]:\n4. a"), (0, 2, 0, 0, 0, 0), 4, 4 / 6),
        # The matched count must open the section.
        ("[Matched Findings]:\nThere were 2. findings", (0,) * 6, 0, 0.0),
        # The section ends at the first blank line: later (c) lines are not its own.
        ("[Clinically Significant Errors]:\n(a) x: 1. y\n\n(c) z: 5. w\n[Matched Findings]:\n1. q",
         (1, 0, 0, 0, 0, 0), 1, 0.5),
    ],
)
def test_parsing_rules(text, significant, matched, score):
    c = parse_assessment(text)
    assert (c.significant, c.matched) == (significant, matched)
    assert c.score == pytest.approx(score)


def test_completion_cleaning():
    raw = "<|assistant|>[Explanation]:\nfine</s>\n\n[Matched Findings]:\n1. a<unk>"
    assert clean_completion(raw) == "\nfine\n\n[Matched Findings]:\n1. a"
    assert parse_assessment(raw).matched == 1


def test_messages_fit_both_template_styles():
    from jinja2 import Template

    m = chat_messages("P")
    radllama = Template("{% for m in messages %}<|user|>{{ m['value'] }}{% endfor %}").render(messages=m)
    standard = Template("{% for m in messages %}{{ m['role'] }}:{{ m['content'] }}{% endfor %}").render(messages=m)
    assert (radllama, standard) == ("<|user|>P", "user:P")


def test_missing_green_model_is_unavailable_in_one_line(tmp_path):
    s = score_reports(["no effusion"], ["no effusion"], ["green"],
                      {"weights": {"green": str(tmp_path / "GREEN-radllama2-7b")}})
    reason = s.unavailable["green"]
    assert "weights.green" in reason and "\n" not in reason and "green" not in s.corpus


@pytest.mark.slow
def test_green_runs_a_real_model_end_to_end(tmp_path_factory):
    """SmolLM2-135M stands in for the 7B GREEN model: the plumbing (template, truncation,
    batched greedy decoding, parsing) is what is checked. Each completion must equal
    transformers' own greedy ``generate`` on that prompt alone, and the scores the parse of
    those completions."""
    import torch

    from lingshu.models.loading import LoadOptions, load_model
    from lingshu.models.smollm2 import ensure_smollm2_dir

    model_dir = ensure_smollm2_dir(tmp_path_factory.getbasetemp() / "lingshu-models")
    refs = ["Mild cardiomegaly. Small left pleural effusion.", "No acute cardiopulmonary process."]
    preds = ["Normal heart size. Small right pleural effusion.", "No acute cardiopulmonary process."]
    n_new = 12
    s = score_reports(preds, refs, ["green"],
                      {"weights": {"green": str(model_dir)}, "green_max_new_tokens": n_new, "batch_size": 2})
    assert not s.unavailable

    lm = load_model(str(model_dir), LoadOptions(device="cpu"))
    tok = lm.tokenizer
    expected = []
    for ref, pred in zip(refs, preds, strict=True):
        text = tok.apply_chat_template(chat_messages(green_prompt(ref, pred)), tokenize=False,
                                       add_generation_prompt=True)
        ids = torch.tensor([tok(text).input_ids])
        with torch.inference_mode():
            out = lm.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n_new,
                                    do_sample=False, eos_token_id=tok.eos_token_id,
                                    pad_token_id=tok.pad_token_id)
        expected.append(tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True))
    assert any(e.strip() for e in expected)
    prompts = [green_prompt(r, p) for r, p in zip(refs, preds, strict=True)]
    assert generate_assessments(lm, prompts, max_new_tokens=n_new, batch_size=2) == expected
    for row, completion in zip(s.per_sample, expected, strict=True):
        counts = parse_assessment(completion)
        assert row["green"] == counts.score
        assert row["green_matched"] == counts.matched
        assert [row[f"green_significant_{x}"] for x in "abcdef"] == list(counts.significant)
    assert s.corpus["green"] == pytest.approx(sum(r["green"] for r in s.per_sample) / 2)
