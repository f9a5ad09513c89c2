"""Exact messages of every prompt kind in both profiles (expected strings written by hand
from MedEvalKit's published prompts and our strict wording), and profile registration."""

from __future__ import annotations

import pytest

from lingshu.eval.prompts import PROFILES, get_profile
from lingshu.eval.types import Sample

STRICT = get_profile("strict")
MEK = get_profile("medevalkit")
MEK_R = get_profile("medevalkit-reasoning")
IMG = "/data/img/a.png"
TWO = {"A": "Pneumonia", "B": "Asthma"}
INSTR = "Answer with the option's letter from the given choices directly."


def _s(benchmark="medqa-usmle", task="mcq", question="Q?", answer="A", **kw) -> Sample:
    return Sample(id="x1", benchmark=benchmark, task=task, question=question, answer=answer, **kw)


def _text_only(messages):
    assert len(messages) == 1 and messages[0]["role"] == "user"
    content = messages[0]["content"]
    assert content[-1]["type"] == "text"
    return content[-1]["text"]


def test_registered_profiles_and_versions():
    assert {"strict", "medevalkit", "medevalkit-reasoning"} <= set(PROFILES.names())
    versions = {STRICT.version, MEK.version, MEK_R.version}
    assert len(versions) == 3 and all(versions)


def test_message_shape_images_first_then_text():
    sample = _s(options=TWO, images=(IMG, "/data/img/b.png"))
    for profile in (STRICT, MEK):
        msgs = profile.build_messages(sample)
        assert msgs[0]["role"] == "user"
        assert msgs[0]["content"][:2] == [
            {"type": "image", "image": IMG},
            {"type": "image", "image": "/data/img/b.png"},
        ]
        assert msgs[0]["content"][2]["type"] == "text" and len(msgs[0]["content"]) == 3
    assert STRICT.build_messages(_s(options=TWO))[0]["content"] == [
        {"type": "text", "text": f"Question: Q?\nOptions:\nA. Pneumonia\nB. Asthma\n{INSTR}"}
    ]


# ---- strict ---------------------------------------------------------------------------------

STRICT_CASES = [
    (_s(options=TWO), f"Question: Q?\nOptions:\nA. Pneumonia\nB. Asthma\n{INSTR}"),
    (
        _s("pubmedqa", question="Does X help?", options={"A": "yes", "B": "no", "C": "maybe"},
           context="BACKGROUND: Some text.\nRESULTS: More."),
        "Context: BACKGROUND: Some text.\nRESULTS: More.\nQuestion: Does X help?\nOptions:\n"
        f"A. yes\nB. no\nC. maybe\n{INSTR}",
    ),
    (_s("pmc-vqa", options=TWO), f"Question: Q?\nOptions:\nA. Pneumonia\nB. Asthma\n{INSTR}"),
    (_s("vqa-rad", "vqa", "Is there a nodule?", "yes", answer_type="closed"),
     "Is there a nodule?\nAnswer with 'yes' or 'no' only."),
    (_s("vqa-rad", "vqa", "Is there a nodule?", "left lung", answer_type="open"),
     "Is there a nodule?\nAnswer with 'yes' or 'no' only."),  # the gold is never looked at
    (_s("vqa-rad", "vqa", "Is this a CT or an MRI?", "CT", answer_type="closed"),
     "Is this a CT or an MRI?\nAnswer the question using a single word or phrase."),
    (_s("slake", "vqa", "Which organ is shown?", "Liver", answer_type="closed"),
     "Which organ is shown?\nAnswer the question using a single word or phrase."),
    (_s("slake", "vqa", "What is abnormal?", "Nodule", answer_type="open"),
     "What is abnormal?\nPlease answer the question concisely."),
    (_s("pathvqa", "vqa", "What is present?", "necrosis", answer_type=None),
     "What is present?\nPlease answer the question concisely."),
    (_s("slake", "vqa", "图中是否有肝脏?", "是", answer_type="closed"), "图中是否有肝脏?\n请只回答'是'或'否'。"),
    (_s("slake", "vqa", "这是什么器官?", "肝脏", answer_type="closed"),
     "这是什么器官?\n请用一个单词或者短语回答该问题。"),
    (_s("slake", "vqa", "哪里异常?", "左肺", answer_type="open"), "哪里异常?\n请简要回答该问题。"),
    (_s("iu-xray", "report", "", "Findings: x Impression: y."),
     "You are a helpful assistant. Please generate a report for the given images, including both "
     "findings and impressions. Return the report in the following format: Findings: {} "
     "Impression: {}."),
]


@pytest.mark.parametrize(("sample", "expected"), STRICT_CASES)
def test_strict_prompts(sample, expected):
    assert _text_only(STRICT.build_messages(sample)) == expected


def test_strict_prompt_never_depends_on_gold():
    for gold in ("yes", "no", "pneumonia", ""):
        for answer_type in ("open", "closed"):
            a = _s("vqa-rad", "vqa", "Is the heart enlarged?", gold, answer_type=answer_type)
            assert STRICT.build_messages(a) == STRICT.build_messages(
                _s("vqa-rad", "vqa", "Is the heart enlarged?", "yes", answer_type=answer_type)
            )


# ---- medevalkit -----------------------------------------------------------------------------

MEK_CASES = [
    (_s(options=TWO), f"\nQuestion: Q?\nOptions: \nA. Pneumonia\nB. Asthma\n{INSTR}"),
    (_s("medmcqa", options=TWO), f"\nQuestion: Q?\nOptions: \nA. Pneumonia\nB. Asthma\n{INSTR}"),
    (_s("mmlu-med", options=TWO), f"\nQuestion: Q?\nOptions: \nA.Pneumonia\nB.Asthma\n{INSTR}"),
    (
        _s("medbullets-op5", options=TWO),
        f"\nQuestion: Q?\nOptions: \nA.Pneumonia\nB.Asthma\n{INSTR}",
    ),
    (_s("pmc-vqa", options=TWO), f"\nQuestion: Q?\nOptions: \nA:Pneumonia\nB:Asthma\n{INSTR}"),
    (
        _s("pubmedqa", question="Does X help?", options={"A": "yes", "B": "no", "C": "maybe"},
           context="BACKGROUND: Some text.\nMATERIALS AND METHODS: More: data."),
        "Context: Some text.\nMore: data.\n\nQuestion: Does X help?\nOptions: \n"
        f"A.yes\nB.no\nC.maybe\n{INSTR}",
    ),
    (
        _s("mmmu-med", question="<image 1> Which organelle?",
           options={"A": "Nucleus", "B": "Ribosome"}),
        f"\n<image 1> Which organelle?\n\n(A) Nucleus\n(B) Ribosome\n\n\n        {INSTR}",
    ),
    (
        _s("mmmu-med", "vqa", "How many?", "3", answer_type="open"),
        "\nHow many?\n\n        Answer the question using a single word or phrase.",
    ),
    (_s("vqa-rad", "vqa", "Is there a nodule?", "yes", answer_type="closed"),
     "Is there a nodule?\nPlease output 'yes' or 'no'(no extra output)."),
    (_s("vqa-rad", "vqa", "Is there a nodule?", "Yes", answer_type="closed"),
     "Is there a nodule?\nPlease output 'yes' or 'no'(no extra output)."),  # lower-cased first
    (_s("vqa-rad", "vqa", "Is this a CT or an MRI?", "CT", answer_type="closed"),
     "Is this a CT or an MRI?\nPlease answer the question concisely."),  # gold decides: open
    (_s("pathvqa", "vqa", "Is necrosis present?", "no", answer_type="closed"),
     "Is necrosis present?\nPlease output 'yes' or 'no'(no extra output)."),
    (_s("pathvqa", "vqa", "Is necrosis present?", "No", answer_type="closed"),
     "Is necrosis present?\nPlease answer the question concisely."),  # PathVQA: case-sensitive
    (_s("slake", "vqa", "Is there a liver?", "Yes", answer_type="closed"),
     "Is there a liver?\nAnswer the question using a single word or phrase."),
    (_s("slake", "vqa", "What is abnormal?", "Nodule", answer_type="open"),
     "What is abnormal?\nPlease answer the question concisely."),
    (_s("slake", "vqa", "图中是否有肝脏?", "是", answer_type="closed"),
     "图中是否有肝脏?\n请用一个单词或者短语回答该问题。"),
    (_s("slake", "vqa", "哪里异常?", "左肺", answer_type="open"), "哪里异常?\n请简要回答该问题。"),
    (_s("iu-xray", "report", "", "Findings: x Impression: y."),
     "You are a helpful assistant. Please generate a report for the given images, including both "
     "findings and impressions. Return the report in the following format: Findings: {} "
     "Impression: {}."),
]


@pytest.mark.parametrize(("sample", "expected"), MEK_CASES)
def test_medevalkit_prompts(sample, expected):
    assert _text_only(MEK.build_messages(sample)) == expected


MEK_REASONING_CASES = [
    (_s(options=TWO),
     "\nQuestion: Q?\nOptions: \nA. Pneumonia\nB. Asthma\nAnswer with the option's letter from the "
     'given choices and put the letter in one "\\boxed{}".'),
    (_s("vqa-rad", "vqa", "Is there a nodule?", "no", answer_type="closed"),
     'Is there a nodule?\nPlease output "yes" or "no" and put the answer in one "\\boxed{}".'),
    (_s("vqa-rad", "vqa", "Where?", "left lung", answer_type="open"),
     'Where?\nPlease answer the question concisely and put the answer in one "\\boxed{}".'),
    (_s("slake", "vqa", "Which organ?", "Liver", answer_type="closed"),
     "Which organ?\nAnswer the question using a single word or phrase and put the answer in one "
     '"\\boxed{}".'),
    (_s("slake", "vqa", "这是什么器官?", "肝脏", answer_type="closed"),
     "这是什么器官?\n请用一个单词或者短语回答该问题，并将答案放在一个'\\boxed{}'中。"),
    (_s("mmmu-med", question="Which?", options={"A": "x", "B": "y"}),
     "\nWhich?\n\n(A) x\n(B) y\n\n\n        Answer with the option's letter from the given "
     'choices and put the letter in one "\\boxed{}".'),
]


@pytest.mark.parametrize(("sample", "expected"), MEK_REASONING_CASES)
def test_medevalkit_reasoning_prompts(sample, expected):
    assert _text_only(MEK_R.build_messages(sample)) == expected


def test_medevalkit_mmmu_sends_only_the_first_image_also_for_image_options():
    s = _s("mmmu-med", options=TWO, images=("/i/1.png", "/i/2.png"))
    assert [p["image"] for p in MEK.build_messages(s)[0]["content"][:-1]] == ["/i/1.png"]
    assert len(STRICT.build_messages(s)[0]["content"]) == 3  # strict sends every image
    pictures = {"A": "<img='a.png'>", "B": "<img='b.png'>"}
    s = _s("mmmu-med", options=pictures, images=("/i/1.png",))
    assert MEK.build_messages(s)[0]["content"] == [
        {"type": "image", "image": "/i/1.png"},  # MedEvalKit sends image_1 regardless
        {
            "type": "text",
            "text": f"\nQ?\n\n(A) <img='a.png'>\n(B) <img='b.png'>\n\n\n        {INSTR}",
        }
    ]


def test_scoring_never_raises_on_odd_text():
    odd = ["", " ", "\\boxed{", "<answer>", "</think>", "{}}}", "\x00", "A" * 5000, "🙂", "\n\n"]
    samples = [
        _s(options=TWO),
        _s("mmmu-med", options=TWO),
        _s("mmmu-med", "vqa", "How many?", "3", answer_type="open"),
        _s("vqa-rad", "vqa", "Is it?", "yes", answer_type="closed"),
        _s("vqa-rad", "vqa", "What?", "left lung", answer_type="open"),
        _s("slake", "vqa", "What?", "Liver", answer_type="closed"),
        _s("iu-xray", "report", "", "Findings: x"),
    ]
    for profile in (STRICT, MEK, MEK_R):
        for sample in samples:
            for text in odd:
                v = profile.score(sample, text)
                assert isinstance(v.correct, bool)
