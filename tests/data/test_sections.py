"""Section parsing on hand-written reports; every expected value is written out by hand."""

from __future__ import annotations

import pytest

from lingshu.data.prepare.sections import clean_text, parse_sections

MIMIC_FULL = """                                 FINAL REPORT
 EXAMINATION:  CHEST (PA AND LAT)
 
 INDICATION:  ___F with new onset ascites  // eval for infection
 
 TECHNIQUE:  Chest PA and lateral
 
 COMPARISON:  None.
 
 FINDINGS: 
 
 There is no focal consolidation, pleural effusion or pneumothorax.  Bilateral
 nodular opacities most likely represent nipple shadows.
 
 IMPRESSION: 
 
 No acute cardiopulmonary process.
"""

# (name, report text, expected findings, expected impression)
CASES = [
    (
        "mimic final report, headers alone on their line",
        MIMIC_FULL,
        "There is no focal consolidation, pleural effusion or pneumothorax. Bilateral nodular "
        "opacities most likely represent nipple shadows.",
        "No acute cardiopulmonary process.",
    ),
    (
        "impression on the same line as its header",
        " FINDINGS:  Lungs are clear.\n IMPRESSION:  No acute process.\n",
        "Lungs are clear.",
        "No acute process.",
    ),
    (
        "lowercase headers",
        "findings: heart size normal.\nimpression: normal chest.",
        "heart size normal.",
        "normal chest.",
    ),
    (
        "title-case headers",
        "Findings: Heart size normal.\nImpression: Normal chest.",
        "Heart size normal.",
        "Normal chest.",
    ),
    (
        "missing findings (impression only)",
        " INDICATION:  Dyspnea.\n\n IMPRESSION:  Stable cardiomegaly.\n",
        "",
        "Stable cardiomegaly.",
    ),
    (
        "missing impression (findings only)",
        " FINDINGS:  Small right effusion.\n\n NOTIFICATION:  Called to Dr. ___.\n",
        "Small right effusion.",
        "",
    ),
    (
        "no headers at all: nothing is guessed",
        "Portable chest. The lines are unchanged. No pneumothorax.",
        "",
        "",
    ),
    (
        "FINDINGS AND IMPRESSION counts as impression",
        " FINDINGS AND IMPRESSION:  No acute cardiopulmonary abnormality.\n",
        "",
        "No acute cardiopulmonary abnormality.",
    ),
    (
        "FINDINGS/IMPRESSION counts as impression",
        "FINDINGS/IMPRESSION: Clear lungs.",
        "",
        "Clear lungs.",
    ),
    (
        "CONCLUSION is an impression",
        "FINDINGS: Mild edema.\nCONCLUSION: Mild fluid overload.",
        "Mild edema.",
        "Mild fluid overload.",
    ),
    (
        "IMPRESSIONS plural",
        "FINDINGS: Normal.\nIMPRESSIONS: Normal study.",
        "Normal.",
        "Normal study.",
    ),
    (
        "MIMIC typos of the header names",
        " FINIDNGS:  Clear lungs.\n IMPRESSON:  Normal.\n",
        "Clear lungs.",
        "Normal.",
    ),
    (
        "space before the colon",
        "FINDINGS : Clear.\nIMPRESSION : Normal.",
        "Clear.",
        "Normal.",
    ),
    (
        "a following known section ends the impression",
        "IMPRESSION: Pneumonia.\nRECOMMENDATION(S): Follow-up in 6 weeks.",
        "",
        "Pneumonia.",
    ),
    (
        "an unknown ALL-CAPS header ends the findings",
        "FINDINGS: Clear lungs.\nPORTABLE AP VIEW OF THE CHEST: technically limited.",
        "Clear lungs.",
        "",
    ),
    (
        "lower-case organ labels inside findings are text",
        "FINDINGS:\nLungs: clear.\nHeart: normal size.\nIMPRESSION: Normal.",
        "Lungs: clear. Heart: normal size.",
        "Normal.",
    ),
    (
        "single line in MedEvalKit's reference form",
        "Findings: Lungs are clear. Impression: No acute disease.",
        "Lungs are clear.",
        "No acute disease.",
    ),
    (
        "reference form with an empty-looking findings",
        "Findings: None Impression: normal chest.",
        "None",
        "normal chest.",
    ),
    (
        "uppercase IMPRESSION inside a line",
        "FINDINGS: Heart normal. Lungs clear. IMPRESSION: Normal chest.",
        "Heart normal. Lungs clear.",
        "Normal chest.",
    ),
    (
        "any-case impression after a sentence end",
        "FINDINGS: Heart normal. impression: normal chest.",
        "Heart normal.",
        "normal chest.",
    ),
    (
        "lowercase impression mid-sentence is text",
        "FINDINGS: My impression: the lungs are clear.",
        "My impression: the lungs are clear.",
        "",
    ),
    (
        "a repeated section is joined in order",
        "IMPRESSION: Left effusion.\nADDENDUM: Reviewed.\nIMPRESSION: Also small right effusion.",
        "",
        "Left effusion. Also small right effusion.",
    ),
    (
        "a header without text followed by another header",
        "FINDINGS:\nIMPRESSION: Normal.",
        "",
        "Normal.",
    ),
    (
        "windows line endings",
        "FINDINGS:\r\nClear lungs.\r\nIMPRESSION:\r\nNormal.\r\n",
        "Clear lungs.",
        "Normal.",
    ),
    (
        "times with colons are not headers",
        " FINDINGS:  Compared to 10:15 AM, tube withdrawn by 2 cm.\n"
        " IMPRESSION:  Tube at 11:40 is ok.",
        "Compared to 10:15 AM, tube withdrawn by 2 cm.",
        "Tube at 11:40 is ok.",
    ),
    (
        "numbered impression keeps its numbers",
        "IMPRESSION:\n1. Mild pulmonary edema.\n2. Small bilateral effusions.",
        "",
        "1. Mild pulmonary edema. 2. Small bilateral effusions.",
    ),
    (
        "header alone without a colon",
        "FINDINGS\nThe lungs are clear.\nIMPRESSION\nNormal.",
        "The lungs are clear.",
        "Normal.",
    ),
    (
        "wet read before the final report",
        " WET READ: ___ ___ 10:15 PM\n  No pneumothorax.\n ____\n                 FINAL REPORT\n"
        " FINDINGS:  Heart size is normal.\n",
        "Heart size is normal.",
        "",
    ),
    ("empty text", "", "", ""),
    ("none", None, "", ""),
]


@pytest.mark.parametrize(
    ("name", "text", "findings", "impression"), CASES, ids=[c[0] for c in CASES]
)
def test_parse_sections(name, text, findings, impression):
    parsed = parse_sections(text)
    assert parsed.findings == findings
    assert parsed.impression == impression


def test_other_sections_are_kept_by_canonical_name():
    parsed = parse_sections(MIMIC_FULL)
    assert parsed.other == {
        "examination": "CHEST (PA AND LAT)",
        "indication": "___F with new onset ascites // eval for infection",
        "technique": "Chest PA and lateral",
        "comparison": "None.",
    }


def test_text_before_any_header_is_the_preamble():
    parsed = parse_sections("Portable chest.\nIMPRESSION: Normal.")
    assert parsed.other == {"preamble": "Portable chest."}
    assert parsed.impression == "Normal."


def test_clean_text_collapses_whitespace_only():
    assert clean_text("  A\n\tB.  \n C ") == "A B. C"
    assert clean_text(None) == ""
