"""Detectors for the structured PHI kinds: dates, ages over 89, phones, emails, IDs, addresses.

Each detector returns ``(start, end, category)`` spans; ``spans.merge`` and ``spans.snap``
clean them up afterwards. These are this project's own patterns (why own rules and not
presidio's or philter's: see docs/curation.md, "De-identification: measured"; in short, on
the labelled corpus presidio's date and ID patterns missed most non-US forms, and philter
changed 60 of 86 PHI-free notes). What is PHI follows HIPAA Safe Harbor (45 CFR
164.514(b)(2)): every element of a date except the year, ages over 89, telephone and fax
numbers, emails, record / account / plan / licence numbers and other unique codes, and
geographic units smaller than a state.
"""

from __future__ import annotations

import re

from lingshu.data.curate.deid.spans import Span

_MONTHS = (
    # English, then French, Spanish, Portuguese, Italian, German, Dutch, Polish (genitive),
    # Danish/Norwegian/Swedish: the languages of the notes this project expects.
    r"Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?|"
    r"janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre|"
    r"enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre|"
    r"janeiro|fevereiro|março|maio|junho|julho|setembro|outubro|dezembro|"
    r"gennaio|febbraio|aprile|maggio|giugno|luglio|settembre|ottobre|dicembre|"
    r"Januar|Februar|März|Juni|Juli|Oktober|Dezember|januari|februari|maart|mei|augustus|"
    r"stycznia|lutego|marca|kwietnia|maja|czerwca|lipca|sierpnia|września|października|"
    r"listopada|grudnia|marts|maj|juni|juli|oktober|december"
)
_MON = rf"(?:{_MONTHS})\.?"
_WEEKDAY = r"(?:Mon|Tues?|Wed(?:nes)?|Thu(?:rs)?|Fri|Sat(?:ur)?|Sun)(?:day)?\.?,?\s+"
_ORD = r"(?:st|nd|rd|th|er|e|º)?"
_YEAR = r"(?:1[89]\d\d|20\d\d)"
_I = re.IGNORECASE

DATE_RULES = [
    # numeric day-month-year in either order, 2- or 4-digit year; separators / . -
    re.compile(r"(?<![\d/.-])(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})(?![\d/-]|\.\d)"),
    # year first: 2024-03-14, 2024/02/28, 2023.10.05
    re.compile(rf"(?<![\d/.-]){_YEAR}([/.-])\d{{1,2}}\1\d{{1,2}}(?![\d/-]|\.\d)"),
    # Czech/German spaced dots: 2. 3. 2024
    re.compile(rf"(?<![\d.])\d{{1,2}}\.\s\d{{1,2}}\.\s{_YEAR}\b"),
    # day month [year]: 14 March 2024, 22nd February 2024, 07-Aug-2023, 3rd of June,
    # 2 de marzo de 2024, 12. marts 2024
    re.compile(rf"\b(?:{_WEEKDAY})?(?:the\s+)?(?:3[01]|[12]\d|0?[1-9]){_ORD}\.?"
               rf"(?:\s+of|\s+de|-|\s)\s*{_MON}(?![a-z])"
               rf"(?:(?:,?\s+|-|\s+de\s+){_YEAR}|\s+'\d\d)?", _I),
    # month day [year]: March 14, 2024; Sept. 3, 2023; Jan. 22; Feb 5th; Mar 3 2024
    re.compile(rf"\b(?:{_WEEKDAY})?{_MON}\s+(?:3[01]|[12]\d|0?[1-9]){_ORD}(?!\d)"
               rf"(?:,?\s+{_YEAR})?\b", _I),
    # month year: October 2023
    re.compile(rf"\b{_MON}\s+{_YEAR}\b", _I),
    # the 21st (a day of the current month) -- not "the 50th centile"
    # "Follow-up the 21st." -- a bare ordinal ending a phrase, not "the 4th ventricle"
    re.compile(r"\bthe\s+(?:3[01]|[12]\d|[1-9])(?:st|nd|rd|th)\b(?=\s*[.,;)]|\s*$)"),
    # Chinese / Japanese and Korean: 2023年5月12日, 2024年2月, 2024년 1월 15일
    re.compile(r"\d{4}\s*年\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*[日号])?"),
    re.compile(r"(?<!\d)\d{1,2}\s*月\s*\d{1,2}\s*[日号]"),
    re.compile(r"\d{4}\s*년\s*\d{1,2}\s*월(?:\s*\d{1,2}\s*일)?"),
]

_AGE_NUM = r"(?:9\d|1[0-2]\d)"  # 90-129: Safe Harbor groups ages over 89
AGE_RULES = [
    # not the top of a range ("aged 22-94 years", "from 15 to 93 years": a cohort, not a person)
    re.compile(rf"(?<![\d.,/])(?<!\d[-–])(?<!\bto ){_AGE_NUM}"
               rf"(?=\s*-?\s*(?:years?|yrs?|y)\s*-?\s*old\b|"
               rf"\s*(?:years?|yrs?|yo|y/o|y\.o\.?|anni|anos|años|ans|år|Jahre|J\.|jaar|let|lat|"
               rf"лет|года?|ετών|yaşında|tuổi|-vuotias)(?!\w)|"
               rf"\s*(?:岁|歳|歲|세)|(?:st|nd|rd|th)\s+birthday)", _I),
    re.compile(rf"(?:\b(?:aged?|age:|who\s+is|turned|âgée?\s+de|edad|Alter|věk|lat|nonagenarian,?|"
               rf"centenarian,?)\s+)({_AGE_NUM})(?!\d|[.,/]\d)", _I),
    re.compile(rf"[(]({_AGE_NUM})[)]"),
    # an age in apposition after a name: "Pedro Sánchez, 97, was visited at home"
    re.compile(rf"\b[A-ZÀ-ÖØ-Þ][^\W\d_]+,\s*({_AGE_NUM})\s*,"),
    # a person said to be that old: "He is 91 and", "I'm 95 but", "Hij is 95 en"
    re.compile(rf"\b(?:he|she|I|hij|zij)(?:'s|'m| is| was| am)\s+({_AGE_NUM})(?=\s+(?:and|but|en|now|today)\b|[.,;])",
               _I),
    # age and sex, as handovers write them: "93F,", "; 91M", "M/92" (not a temperature: below)
    re.compile(rf"(?:^|(?<=[,;:(]\s)|(?<=[,;:(]))({_AGE_NUM})\s?[MF](?=[\s,;.)]|$)"),
    re.compile(rf"\b[MF]/({_AGE_NUM})\b"),
]
_TEMPERATURE = re.compile(r"temp|pyrex|fever|febr|°|\bT\s*[:=]?\s*$", re.I)

# Bounded parts (RFC 5321: local part <= 64, label <= 63) and a token start, so a long run
# of word characters costs linear time.
EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}")

# An international or national number: optional +country, optional (area), then groups of
# digits separated by a space, dot or hyphen (a subscriber group may have 7-8 digits:
# "+49 30 1234567"); kept only when it has 8-15 digits (ITU E.164
# allows up to 15) so doses, vitals and lab values never qualify.
PHONE = re.compile(r"(?<![A-Za-z0-9_+/.,-])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{1,6}"
                   r"(?:[\s.-]\d{2,8}){1,4}(?:,?\s*(?:ext\.?|x)\s*\d{1,5})?(?![A-Za-z0-9_/]|[.,-]\d)",
                   re.I)
PHONE_CUE = re.compile(r"(?:\b(?:tel|phone|mobile|cell|call|fax)\b\.?:?|"
                       r"电话|手机|联系电话|연락처)\s*"
                       r"(\+?\d{8,15})(?!\d)", _I)
# 1997-2007 is a period and 10.84-14.07 an interval, not phones
_RANGE = re.compile(rf"{_YEAR}\s?[-–]\s?{_YEAR}|\d+\.\d+\s?[-–]\s?\d+\.\d+")
CN_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")

_ID_CUE = (r"MRN|medical record(?: number| no\.?)?|hospital (?:number|no\.?)|patient id|PID|"
           r"account(?: number| no\.?)?|acc(?:ount)?\.? no\.?|member id|insurance (?:id|number)|"
           r"claim(?: number| no\.?)?|accession|requisition|barcode|NHS number|Medicare number|"
           r"SSN|social security(?: number)?|personnummer|CPR|fødselsnummer|rodné číslo|NAM|"
           r"passport(?: number)?|licen[cs]e(?: number)?|ID(?: number)?|"
           # national health and identity numbers by their names (Ireland, Portugal, Poland,
           # Australia, Canada, Spain, France, Italy, the Netherlands, Turkey, India, Brazil)
           r"PPSN?|SNS(?: number| no\.?)?|PESEL|Medicare(?: no\.?)?|health card(?: number| no\.?)?|"
           r"DNI|NIE|NIR|codice fiscale|BSN|(?:T\.?C\.? )?kimlik(?: no\.?)?|Aadhaar|CPF|CURP|OHIP|"
           r"IHI|NHI|RAMQ|MBI|HKID|NRIC|hetu|henkilötunnus|r\.\s?č\.|AMKA|ΑΜΚΑ|CCCD|CNS|"
           r"СНИЛС|(?:полис )?ОМС|teudat zehut|polis(?:se)?(?:nummer)?|policennummer|"
           r"Versichertennummer|tarjeta sanitaria|(?:n° de )?sécurité sociale|national id|"
           r"file no\.?|hosp(?:ital)?\.? no\.?|folio|MMC|MDCN(?: folio)?|"
           r"身份证号?|住院号|病历号|门诊号")
ID_RULES = [
    re.compile(r"\b\d{3}-\d{2}-\d{4}\b"),  # SSN
    re.compile(rf"(?:\b|(?<=[\u4e00-\u9fff]))(?:{_ID_CUE})\s*(?:[:#：]|no\.?|number)?\s*"
               # a value may hold dots between digits (DNI 4.567.890), end in a check digit in
               # brackets (HKID K482913(5)) or run in spaced groups (NIR 2 32 07 75 114 086 41)
               r"(#?(?:[A-Z]{2,5}\s)?[A-Z0-9](?:[A-Z0-9/-]|\.(?=\d))*\d(?:[A-Z0-9/-]|\.(?=\d))*"
               r"(?:\(\d\))?(?:\s\d{1,5}){0,6})", _I),
    # a code mixing letters and at least 5 digits (H7731904, CLM-20931847, S24-001873); not
    # obstetric history (G5P4105)
    re.compile(r"(?<![\w-])#?(?!G\d{1,2}P\d)(?=[A-Z0-9-]*[A-Z])(?=(?:[A-Z-]*\d){5})"
               r"[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*(?![\w-])"),
    # a bare run of 7 or more digits (#88220417, 00482913)
    # (a sentence's full stop or a comma may follow: "PESEL 44051401359.", not a decimal)
    re.compile(r"(?<![\w.,/-])#?\d{7,}(?![\w/-]|[.,]\d|-\d)"),
]

_UP = r"[^\W\d_a-zß-ÿµ]"  # an upper-case letter, or a letter of a script without case
_CAP = r"[^\W\d_][\w'’.-]{0,40}"  # a word starting with a letter (case checked by the pattern)
_STREET_TYPE = (r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|"
                r"Place|Pl|Terrace|Parkway|Pkwy|Highway|Hwy|Square|Close|Crescent")
_STREET_FIRST = (r"rue|Rue|Via|Viale|Calle|Rua|Avenida|Av\.|ul\.|Paseo|Plaza|Piazza|Boulevard")
_STREET_SUFFIX = (r"(?:straße|strasse|str\.|weg|platz|gasse|allee|damm|gracht|laan|vej|"
                  r"gade|gatan|vägen)")
_TAIL = (r"(?:,?\s+(?:Apt|Suite|Unit|Flat)\.?\s*\w+)?"
         r"(?:,\s*(?:[A-Z]{1,2}\d[\dA-Z]?\s\d[A-Z]{2}|[A-Z]\d\d\s[A-Z\d]{4}|\d{2}-\d{3}|"
         r"\d{4,5}(?:-\d{3,4})?)?\s*"
         rf"(?:{_UP}[\w'’-]{{0,40}}(?:[ -]{_UP}[\w'’-]{{0,40}}){{0,3}}|\d{{3}}\s\d{{2}})"
         r"(?:,?\s+(?:[A-Z]{2}\s)?(?:[A-Z]\d[A-Z]\s\d[A-Z]\d|\d{5}(?:-\d{3,4})?|"
         r"[A-Z]{1,2}\d[\dA-Z]?\s\d[A-Z]{2}|[A-Z]\d\d\s[A-Z\d]{4}|\d{3}-\d{4}|\d{4,6}|"
         r"\d{1,2}))?){0,3}")
ADDRESS_RULES = [
    re.compile(rf"(?:\b(?:Flat|Apt\.?|Unit|Suite)\s+\w+,\s*)?\b\d{{1,5}}[A-Z]?\s+"
               rf"(?:{_CAP}\s+){{0,3}}(?:{_STREET_TYPE})\b\.?"
               rf"(?:\s+(?:North|South|East|West|N|S|E|W|NE|NW|SE|SW)\b)?{_TAIL}"),
    # Japanese block addresses: 2-11-3 Shibuya, Shibuya-ku, Tokyo 150-0002
    re.compile(rf"\b\d{{1,4}}-\d{{1,4}}(?:-\d{{1,4}})?\s+{_UP}[\w'’-]{{0,40}}(?=,){_TAIL}"),
    re.compile(rf"\b\d{{1,5}}\s+(?:rue|avenue|boulevard|chemin|allée)\s+(?:[\w'’-]+\s+){{0,4}}"
               rf"{_UP}[\w'’-]{{0,40}}(?:\s+(?:Ouest|Est|Nord|Sud))?{_TAIL}"),
    re.compile(rf"\b(?:{_STREET_FIRST})\s+(?:(?:de|del|da|do|la|las|los|di)\s+)*"
               rf"(?:{_CAP}\s+){{1,3}}\d{{1,4}}(?:/\d{{1,4}})?{_TAIL}"),
    re.compile(rf"\b[A-ZÄÖÜÅØÆ][\w-]{{0,40}}{_STREET_SUFFIX}\s+\d{{1,4}}[a-z]?{_TAIL}"),
    re.compile(rf"\b(?:{_CAP}\s+)(?:Caddesi|Sokak|Bulvarı|náměstí|ulice|třída|Prospekt|prospekt)"
               rf"(?:\s+No:?)?"
               rf"\s+\d{{1,4}}{_TAIL}"),
    re.compile(rf"\b(?i:P\.?\s?O\.?\s+Box)\s+\d+{_TAIL}"),  # no re.I: _TAIL needs case
    # a facility followed by its place: St. Brigid's Nursing Home, Kilkenny; CHU de
    # Bordeaux, Place ...; Women's Health Centre, 150 King Street (not "Primary Care Clinic")
    re.compile(rf"\b(?:St\.?\s+)?(?:{_CAP}\s+){{1,3}}(?:Nursing Home|Care Home|Manor|Hospice|"
               rf"Centre|Center|Clinic|Hospital)\b(?=,\s*(?:\d|{_UP})){_TAIL}"),
    re.compile(rf"\b(?:CHU|CHRU|Hôpital|Hospital|Clinique|Klinikum|Ospedale|Hospital Universitario)"
               rf"\s+(?:(?:de|du|des|di|del|la|le)\s+)*{_UP}[\w'’-]{{0,40}}"
               rf"(?:\s+{_UP}[\w'’-]{{0,40}}){{0,3}}"
               rf"(?=,\s*(?:\d|{_UP})){_TAIL}"),
    # street-name-first without a number, then postcode and city:
    # Place Amélie Raba Léon, 33000 Bordeaux
    re.compile(rf"\b(?:Place|Rue|Allée|Avenue|Boulevard|Quai|Cours)\s+(?:[\w'’-]+\s+){{0,4}}?"
               rf"{_UP}[\w'’-]{{0,40}},\s*\d{{5}}\s+{_UP}[\w'’-]{{0,40}}"),
    # "lives ... in Tehranpars, Tehran": a place after a residence verb
    re.compile(r"\b(?:lives?|living|resides?|residing)\b[^.;\n]{0,60}?\bin\s+"
               r"([A-Z][\w'’-]+(?:,\s*[A-Z][\w'’-]+){0,2})"),
    # Chinese: [province/city][district]street+number: 北京市朝阳区建国路88号
    re.compile(r"[\u4e00-\u9fff]{2,4}(?:省|市|自治区)[\u4e00-\u9fff]{0,12}?(?:路|街|大道|道|巷|弄)"
               r"\d+号(?:[\d\u4e00-\u9fff]{0,6}?(?:室|楼|栋|单元))?"),
]
_CN_ADDRESS_CUES = ("住址：", "住址:", "地址：", "现住", "家住", "住在", "住")


def _validate_numeric_date(m: re.Match[str]) -> bool:
    a, b = int(m.group(1)), int(m.group(3))
    return 1 <= a <= 31 and 1 <= b <= 31 and min(a, b) <= 12


def _digits(s: str) -> int:
    return sum(c.isdigit() for c in s)


def find_dates(text: str) -> list[Span]:
    out = []
    for i, rx in enumerate(DATE_RULES):
        for m in rx.finditer(text):
            if i == 0 and not _validate_numeric_date(m):
                continue
            out.append((m.start(), m.end(), "DATE"))
    return out


def _group_or_all(m: re.Match[str]) -> tuple[int, int]:
    return (m.start(1), m.end(1)) if m.re.groups and m.group(1) else (m.start(), m.end())


def find_ages(text: str) -> list[Span]:
    """Ages over 89; "99 F" after a temperature cue is degrees Fahrenheit, not an age."""
    return [(*_group_or_all(m), "AGE") for rx in AGE_RULES for m in rx.finditer(text)
            if not _TEMPERATURE.search(text[max(0, m.start() - 16):m.start()])]


def find_emails(text: str) -> list[Span]:
    return [(m.start(), m.end(), "EMAIL") for m in EMAIL.finditer(text)]


# drug, lab and billing codes that look like numbers with groups ("NDC 0169-4132-12")
_CODE_CUE = re.compile(r"\b(?:NDC|LOINC|CPT|ICD(?:-?1[01])?|SNOMED(?: CT)?|ATC|lot|batch)\b\W{0,3}$", re.I)


def find_phones(text: str) -> list[Span]:
    out = [(m.start(), m.end(), "PHONE") for m in PHONE.finditer(text)
           if 8 <= _digits(m.group()) <= 15 and not _RANGE.fullmatch(m.group())
           and not _CODE_CUE.search(text[max(0, m.start() - 12):m.start()])]
    out += [(m.start(1), m.end(1), "PHONE") for m in PHONE_CUE.finditer(text)]
    out += [(m.start(), m.end(), "PHONE") for m in CN_MOBILE.finditer(text)]
    return out


def find_ids(text: str) -> list[Span]:
    return [(*_group_or_all(m), "ID") for rx in ID_RULES for m in rx.finditer(text)]


def find_addresses(text: str) -> list[Span]:
    out = []
    for rx in ADDRESS_RULES:
        for m in rx.finditer(text):
            s, e = _group_or_all(m)
            for cue in _CN_ADDRESS_CUES:
                if text.startswith(cue, s):
                    s += len(cue)
                    break
            out.append((s, e, "ADDRESS"))
    return out
