"""Names: runs of capitalised words, kept when something says they are a person.

A run of two or more capitalised words (letters of any alphabet, with hyphens, apostrophes
and particles such as van der, da, Ní, Mac) is a name unless it reads as medical language:
it is followed by, or contains, a clinical head noun ("Down syndrome", "Classical Hodgkin
lymphoma", "Glasgow Coma Scale"), or starts with a word that opens sentences. A single
capitalised word is a name only after a cue: a title (Dr, Mrs, Herr, M.), a role or a
relative ("daughter Aoife", "Patient:"), because "Crohn", "Down", "Denies" and "Graves"
are single capitalised words too. Chinese and Korean names: a common surname after a cue
(患者, 家属, 환자) or in brackets right after a Latin-script name ("Chen Jing (陈静)").
"""

from __future__ import annotations

import re

from lingshu.data.curate.deid.lexicon import is_common_word, is_given_name_only
from lingshu.data.curate.deid.spans import Span

_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_PARTICLES = {"van", "der", "den", "de", "del", "della", "da", "das", "dos", "do", "di", "du",
              "le", "la", "von", "zu", "bin", "ibn", "al", "el", "ben", "y", "Ní", "Nic", "Ó",
              "Ua", "Mac", "Mc", "St"}
# Titles and cues: the run after them is a name even if it is one word. Not part of the span.
_TITLES = {"Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Prof", "Professor", "Herr", "Frau", "M",
           "Mme", "Mlle", "Sr", "Sra", "Dra", "Don", "Doña", "Dona", "Sig", "Signora", "Pan",
           "Pani", "NP", "RN", "Nurse", "Sister", "Dear", "Attending"}
_CUES = {"patient", "pt", "name", "daughter", "son", "wife", "husband", "partner", "mother",
         "father", "sister", "brother", "niece", "nephew", "uncle", "aunt", "granddaughter",
         "grandson", "proxy", "surgeon", "assistant", "attending", "gp", "spouse", "caregiver",
         "guardian", "friend", "neighbour", "neighbor", "patiente", "paciente",
         "signed", "cc", "anhörig", "anhörige"}
_NAME_FOLLOWERS = {"is", "was", "has", "had", "and", "who", "says", "said", "reports",
                   "reported", "called", "came", "presented", "attended", "will", "would",
                   "can", "could", "did", "does", "asked", "wants", "prefers", "lives", "died",
                   "feels", "felt", "denies", "agrees", "agreed", "declined", "refused"}
# Clinical head nouns: a capitalised run before one of these is an eponym, not a person.
_HEAD_NOUNS = {
    "syndrome", "disease", "sign", "signs", "test", "score", "scores", "scale", "stage",
    "grade", "criteria", "classification", "procedure", "operation", "repair", "fracture",
    "lymphoma", "sarcoma", "tumor", "tumour", "palsy", "phenomenon", "encephalopathy",
    "esophagus", "oesophagus", "thyroiditis", "contracture", "pattern", "stain", "smear",
    "catheter", "proteinuria", "protein", "nodes", "node", "lesions", "spots", "respiration",
    "breathing", "point", "enteritis", "profile", "tear", "hernia", "ulcer", "cyst",
    "diverticulum", "anomaly", "aneurysm", "reflex", "maneuver", "manoeuvre", "type",
    "index", "ratio", "formula", "law", "effect", "cells", "cell", "bodies", "body", "triad",
    "tube", "position", "incision", "features", "tendon", "disorder", "dementia", "ataxia",
    "dystrophy", "anemia", "anaemia", "leukemia", "carcinoma", "gastric", "fundoplication",
    "bypass", "shunt", "valve", "block", "murmur", "phase", "method", "technique", "therapy",
    "coma", "pupil", "angle", "line", "lines", "space", "canal", "duct", "gland", "glands",
    "ganglion", "area", "nucleus", "fibers", "fibres", "complex", "reaction", "solution",
    "agar", "virus", "bacillus", "deformity", "foot", "hand", "elbow", "knee", "toe", "crisis",
    "purpura", "serum", "vaccine",
    # organisations, instruments and studies are not people either
    "association", "organization", "organisation", "federation", "society", "bank", "register",
    "registry", "institute", "university", "college", "foundation", "trust", "program",
    "programme", "study", "trial", "survey", "form", "questionnaire", "inventory", "guidelines",
    "guideline", "department", "service", "services", "support", "network", "group", "system",
    "company", "corporation", "inc", "ltd", "journal", "center", "centre", "hospital", "clinic",
}
# Capitalised words that open sentences or headings in notes and never start a name.
_OPENERS = {
    "The", "A", "An", "This", "That", "These", "Those", "His", "Her", "Their", "Our", "My",
    "He", "She", "They", "We", "It", "You", "I", "Him", "Them",
    "Patient", "Pt", "Post", "Status", "Classical", "Blood", "Free", "Vitamin", "Insulin",
    "Plan", "Follow", "Seen", "Called", "Call", "Consult", "Reviewed", "History", "Social",
    "Lab", "Progress", "Discharge", "Admission", "Nurse", "Home", "Hospice", "Clinic",
    "Letter", "Fax", "Specimen", "Message", "Telephone", "Outside", "Transfer", "Genetic",
    "Medication", "Endoscopy", "Interpreter", "Operative", "Identified", "Subject", "Date",
    "Dear", "Thank", "Please", "Mobile", "Phone", "Contact", "Address", "Email", "Diagnosis",
    "Referral", "Referred", "Visit", "Surgeon", "Assistant", "Family", "Daughter", "Son",
    "Wife", "Husband", "Mother", "Father", "Niece", "Nephew", "Partner", "Impression",
    "Findings", "Assessment", "Echo", "Chest", "Left", "Right", "Normal", "No", "Yes",
    "In", "On", "At", "For", "From", "To", "With", "After", "Before", "During", "Denies",
    "Reports", "Mild", "Moderate", "Severe", "Acute", "Chronic", "Known", "Suspected",
    "Confirmed", "Cardiac", "Lipids", "Vitals", "Chemotherapy", "Stoma", "Growth",
    "Estrogen", "Reflexes", "Pupils", "Strength", "Height", "Weight", "Bone", "Sick",
    "Hemoglobin", "Haemoglobin", "Platelets", "Glucose", "Hospital", "Medicare", "Insurance",
}
_HAN_SURNAMES = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯"
    "邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭"
    "陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎"
    "贺顾毛郝龚"
    "邵万钱严覃武戴莫孔向汤")
_HAN_COMPOUND = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙",
                 "慕容", "令狐")
_HAN_CUES = ("患者", "病人", "家属", "女儿", "儿子", "丈夫", "妻子",
             "母亲", "父亲", "医生", "医师",
             "护士", "姓名：", "姓名:", "先生", "联系人")
_HAN_STOP = set("，。、；：（）() ,.;:男女岁于因在和与及陪同说称"
                "电手邮住现入出来去是的了先生女士")
_KO_SURNAMES = set("김이박최정강조윤장임한오서신권황안송류홍전"
                   "고문양손배백허유남심노하곽성차주우구민진나")


_KO_NAME = re.compile(r"(?:환자|보호자|이름)\s*([\uac00-\ud7af]{2,4}?)"
                      r"(?=님|씨|\s|$|은|는|이|가)")
# kana, CJK, Cyrillic or Hangul in brackets after a name: "Chen Jing (陈静)"
_BRACKETED = re.compile(r"\s*[(（]([\u3040-\u30ff\u4e00-\u9fff\u0400-\u04ff\uac00-\ud7af\s]{2,20})"
                        r"[)）]")


_UPPER_WORD = r"[^\W\d_a-zß-ÿ][\w'’-]*"  # starts with a capital (or a caseless letter)
_FIELD = re.compile(rf"\b(?i:patient(?: name)?|name|pt)\s*:\s*"
                    rf"((?:(?:van|von|der|den|de|da|di|du|le|la) )*"
                    rf"{_UPPER_WORD}(?: {_UPPER_WORD})?, ?{_UPPER_WORD}(?: {_UPPER_WORD})?)")


def _capitalised(tok: str) -> bool:
    """Starts with a capital, has lower case, and does not start with two capitals
    ("LDL-cholesterol", "SpO2" are not names; "McAllister", "O'Connor" are)."""
    return (tok[0].isupper() and any(c.islower() for c in tok)
            and not (len(tok) > 1 and tok[1].isupper()))


def _runs(text: str) -> list[list[tuple[int, int, str]]]:
    """Maximal runs of capitalised words / particles separated by one space (or hyphen)."""
    runs: list[list[tuple[int, int, str]]] = []
    cur: list[tuple[int, int, str]] = []
    for m in _WORD.finditer(text):
        tok = m.group()
        if tok.endswith(("'s", "’s")):
            tok = tok[:-2]
        ok = _capitalised(tok) or tok in _PARTICLES
        joined = cur and text[cur[-1][1] : m.start()] in (" ", "  ", ". ")
        # a full stop ends the run, except after an abbreviation inside a name (St. Brigid)
        stop = bool(cur) and text[cur[-1][1] : m.start()] == ". " and cur[-1][2] not in ("St", "M")
        if ok and joined and not stop:
            cur.append((m.start(), m.start() + len(tok), tok))
            continue
        if cur:
            runs.append(cur)
        cur = [(m.start(), m.start() + len(tok), tok)] if ok else []
    if cur:
        runs.append(cur)
    return runs


def _next_word(text: str, end: int) -> str:
    m = _WORD.search(text, end)
    return m.group().lower() if m and text[end : m.start()].strip() == "" else ""


def _prev_word(text: str, start: int) -> str:
    words = _WORD.findall(text[max(0, start - 40) : start])
    return words[-1] if words else ""


def _sentence_start(text: str, start: int) -> bool:
    before = text[:start].rstrip()
    return not before or before[-1] in ".:;!?\n"


def _is_name_run(text: str, run: list[tuple[int, int, str]], cued: bool) -> bool:
    words = [t for _, _, t in run]
    after = _next_word(text, run[-1][1])
    if any(w.lower() in _HEAD_NOUNS for w in words) or after in _HEAD_NOUNS:
        return False
    caps = [w for w in words if _capitalised(w) and w not in _PARTICLES]
    if not caps or all(is_common_word(w) for w in caps):
        return False  # "Past Medical History", "Blue Cross", "Small Left Pleural Effusion"
    if len(caps) >= 2 or cued:
        return True
    # one known given name, no cue: only as the subject or owner of something ("that Hamish
    # is unwell", "Hamish's wife"), not "Indian patients" or "Mother Teresa"
    return (is_given_name_only(caps[0]) and not _sentence_start(text, run[0][0])
            and (after in _NAME_FOLLOWERS or text.startswith(("'s", "’s"), run[-1][1])))


def _latin_names(text: str) -> list[Span]:
    out = []
    for run in _runs(text):
        prev = _prev_word(text, run[0][0])
        cued = prev.lower() in _CUES or prev in _TITLES
        # titles, sentence openers and a leading imperative ("Start Augmentin", "Hold
        # Lisinopril") are not part of a name; a title still marks what follows as one
        # (indices, not slicing: a run can be thousands of words in odd input)
        i, j = 0, len(run)
        while i < j and (run[i][2] in _TITLES or run[i][2] in _OPENERS
                         or run[i][2] in _PARTICLES and j - i == 1
                         or not cued and j - i > 1 and is_common_word(run[i][2])):
            cued = cued or run[i][2] in _TITLES or run[i][2].lower() in _CUES
            i += 1
        while i < j and run[j - 1][2] in _PARTICLES:
            j -= 1
        run = run[i:j]
        if run and _is_name_run(text, run, cued):
            out.append((run[0][0], run[-1][1], "NAME"))
    return out + _field_names(text)


def _field_names(text: str) -> list[Span]:
    """"Surname, Given" after a "Patient:" / "Name:" field label, in any case
    ("PATIENT: KOWALSKI, STANISLAW", "Name: van der Berg, Pieter")."""
    return [(m.start(1), m.end(1), "NAME") for m in _FIELD.finditer(text)]


def _han_name_at(text: str, i: int) -> int:
    """End of a Chinese name starting at ``i`` (surname + 1-2 given characters), else i."""
    j = i + 2 if text.startswith(_HAN_COMPOUND, i) else i + 1
    if j == i + 1 and (i >= len(text) or text[i] not in _HAN_SURNAMES):
        return i
    k = j
    while (k < len(text) and k - j < 2 and "\u4e00" <= text[k] <= "\u9fff"
           and text[k] not in _HAN_STOP):
        k += 1
    return k if k > j else i


def _cjk_names(text: str, latin: list[Span]) -> list[Span]:
    out = []
    for cue in _HAN_CUES:
        for m in re.finditer(re.escape(cue), text):
            end = _han_name_at(text, m.end())
            if end > m.end():
                out.append((m.end(), end, "NAME"))
    for m in _KO_NAME.finditer(text):
        if m.group(1)[0] in _KO_SURNAMES:
            out.append((m.start(1), m.end(1), "NAME"))
    # a name in another script in brackets right after a Latin-script name
    for s, e, _ in latin:
        m = _BRACKETED.match(text[e:])
        if m:
            out.append((e + m.start(1), e + m.end(1), "NAME"))
    return out


def find_names(text: str) -> list[Span]:
    latin = _latin_names(text)
    return latin + _cjk_names(text, latin)
