"""COCO-caption tokenisation in pure Python: what pycocoevalcap's ``PTBTokenizer`` does.

pycocoevalcap writes every caption on its own line (newlines inside a caption become
spaces), runs Stanford CoreNLP 3.4.1's ``PTBTokenizer -preserveLines -lowerCase`` over the
whole file in Java, then drops the tokens in ``PUNCTUATIONS``. Every lexical metric the
field reports (BLEU, ROUGE-L, METEOR, CIDEr-D) is computed on that output, so a metric that
tokenises differently is not comparable with published numbers.

This module reimplements that lexer (a JFlex grammar: longest match wins, ties go to the
rule listed first; trailing context counts towards the match length) for the rules that
matter on text: words, numbers, abbreviations and acronyms with the sentence-end period
duplication, contractions, hyphenated and slashed compounds, fractions, URLs, e-mails,
SGML tags, quotes, brackets, dashes and ellipses. Two quirks are reproduced on purpose:
a caption's last abbreviation depends on the first character of the *next* caption (the
lexer reads across the line break), and bracket tokens survive the punctuation filter
because the filter lists them in upper case (``-LRB-``) while the output is lower case.
Agreement with the Java tokenizer is tested token for token on IU-Xray reports and on a
stress set of odd strings (tests/eval/metrics/reports/test_tokenize.py).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from functools import lru_cache
from re import _constants as _c  # type: ignore[attr-defined]  # regex parse-tree opcodes
from re import _parser  # type: ignore[attr-defined]
from typing import Any

# pycocoevalcap/tokenizer/ptbtokenizer.py: removed after tokenisation. Note the upper-case
# bracket names: the tokenizer runs with -lowerCase, so "-lrb-" etc. are *kept*.
PUNCTUATIONS = frozenset(
    ["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-",
     ".", "?", "!", ",", ":", "-", "--", "...", ";"]
)  # fmt: skip

_NL = "\n"  # token standing for a line break (captions are one per line)

# ---- character classes (JFlex [:letter:], [:digit:], [:uppercase:]) -------------------



def _class_of(pred: Callable[[str], bool]) -> str:
    """A regex character class (as ranges) of the BMP characters satisfying ``pred``."""
    parts, start, prev = [], None, None
    for c in range(0x10000):
        if 0xD800 <= c <= 0xDFFF or not pred(chr(c)):
            continue
        if prev is not None and c == prev + 1:
            prev = c
            continue
        if start is not None:
            parts.append((start, prev))
        start = prev = c
    if start is not None:
        parts.append((start, prev))
    return "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in parts
    )


_ALPHA = _class_of(str.isalpha)
LET = rf"[{_ALPHA}\u00AD\u0300-\u036F]"  # letters, soft hyphen, combining marks
UP = "[" + _class_of(lambda c: c.isupper() and c.isalpha()) + "]"
ALNUM = rf"[{_ALPHA}\d]"
DIG = r"\d"
SPACE = r"[ \t\u00A0\u2000-\u200A\u3000]"
NEWLINE = r"(?:\r\n|[\r\n\u2028\u2029\u000B\u000C\u0085])"
SPACENL = f"(?:{SPACE}|{NEWLINE})"
APOS = r"(?:['\u0092\u2019]|&apos;)"
APOSETC = r"(?:['\u0092\u2019`\u0091\u2018\u201B]|&apos;)"
HYPHEN = r"[-_\u058A\u2010\u2011]"
INSENTP = r"[,;:\u3001]"
_SGML = (
    r"<(?:[!?][A-Za-z\-][^>\r\n]*|[A-Za-z/][A-Za-z0-9_:.\-]*"
    r"(?:[ ]+(?:[A-Za-z][A-Za-z0-9_:.\-]*[ ]*=[ ]*(?:'[^']*'|\"[^\"]*\"|[A-Za-z][A-Za-z0-9_:.\-]*)"
    r"|[A-Za-z][A-Za-z0-9_:.\-]*))*[ ]*/?)[ ]*>"
)
SENTEND = f"{SPACENL}(?:{SPACENL}|{UP}|{_SGML})"
NUM = rf"{DIG}*(?:[.:,\u00AD\u066B\u066C]{DIG}+)+|{DIG}+"
WORD = rf"{LET}(?:{LET}|{DIG})*(?:[.!?]{LET}(?:{LET}|{DIG})*)*"
ACRO = r"[A-Za-z](?:\.[A-Za-z])*|(?i:Canada|Sino|Korean|EU|Japan|non)-(?i:U)\.(?i:S)"
ACRONYM = rf"(?:{ACRO})\."
ABMONTH = "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec"
ABDAYS = "Tues|Tue|Mon|Wed|Thurs|Thu|Fri"
# Bracketed letters are character classes in the grammar, hence case-sensitive.
ABSTATE = (
    "(?i:Ala|Ariz)|[A]z|[A](?i:rk)|(?i:Calif|Colo|Conn|Ct|Dak)|[D](?i:el)|(?i:Fla|Ga)"
    "|[I](?i:ll)|(?i:Ind|Kans|Kan|Ky)|[L](?i:a)|[M](?i:ass)|(?i:Md|Mich|Minn)|[M](?i:iss)"
    "|(?i:Mont|Mo|Neb|Nev|Okla)|[O](?i:re)|[P](?i:a)|(?i:Penn|Tenn)|[T](?i:ex)"
    "|(?i:Va|Vt)|[W](?i:ash)|(?i:Wis|Wyo)"
)
ABCOMP = "Inc|Cos|Co|Corp|Pp?t[ye]s?|Ltd|Plc|Rt|Bancorp|Bhd|Assn|Univ|Intl|Sys"
ABNUM = "tel|est|ext|sq"
ABPTIT = r"Jr|Sr|Bros|(?:Ed|Ph)\.D|Blvd|Rd|Esq"
ABBREV1 = rf"(?:(?i:{ABMONTH}|{ABDAYS}|{ABCOMP}|{ABNUM}|{ABPTIT}|etc|al|seq)|{ABSTATE})\."
ABTITLE = (
    "(?i:Mrs|Mr|Ms)|[M](?i:iss)|(?i:Drs|Dr|Profs|Prof|Sens|Sen|Reps|Rep|Attys|Atty|Lt|Col|Gen"
    "|Messrs|Govs|Gov|Adm|Rev|Maj|Sgt|Cpl|Pvt|Capt|Ste|St|Ave|Pres|Lieut|Hon|Brig|Comdr|Cmdr"
    "|Pfc|Spc|Supts|Supt|Det|Mmes|Mme|Mlles|Mlle)"
)
ABCOMP2 = "(?i:Invt|Elec|Natl|M[ft]g|Dept)"
ABBREV2 = rf"(?:{ABTITLE}|(?i:vs)|{ABCOMP2})\."
ABBREV3 = r"(?i:ca|figs|fig|prop|nos|no|art|bldg|pp|op)\."
ABBREV4 = rf"(?:(?i:vs|Alex|Wm|Jos|Cie|a\.k\.a|cf|TREAS)|{ACRO}|{ABTITLE}|{ABCOMP2}|[A-Za-z])"
FOLLOWER = (
    "[A]bout|[A]ccording|[A]dditionally|[A]fter|[A]n|[A]|[A]s|[A]t|[B]ut|[D]id|[D]uring"
    "|[E]arlier|[H]e|[H]er|[H]ere|[H]is|[H]ow|[H]owever|[I]f|[I]n|[I]t|[L]ast|[M]any|[M]ore"
    r"|[M]r\.|[M]s\.|[N]ow|[O]nce|[O]ne|[O]ther|[O]ur|[S]he|[S]ince|[S]o|[S]ome|[S]uch|[T]hat"
    "|[T]he|[T]heir|[T]hen|[T]here|[T]hese|[T]hey|[T]his|[W]e|[W]hen|[W]hile|[W]hat|[Y]et|[Y]ou"
)
# Letters outside brackets are literals, which the caseless grammar matches in any case.
FOLLOWER = re.sub(r"\]([a-z\\.]+)", lambda m: f"](?i:{m.group(1)})", FOLLOWER)
HTHING = rf"[A-Za-z0-9][A-Za-z0-9.,\u00AD]*(?:-(?:(?:{ACRO})\.|[A-Za-z0-9\u00AD]+))+"
THING = (
    rf"(?:[dDoOlL]{APOSETC}{ALNUM})?{ALNUM}+"
    rf"(?:{HYPHEN}(?:[dDoOlL]{APOSETC}{ALNUM})?{ALNUM}+)*"
)
# \p{Alpha} in the grammar's JFlex version is ASCII only (observed: "µm12/25" splits).
THING3 = r"[A-Za-z0-9]+(?:-[A-Za-z]+){0,2}(?:\\?/[A-Za-z0-9]+(?:-[A-Za-z]+){0,2}){1,2}"
FULLURL = r"https?://[^ \t\n\f\r\"<>|(){}]+[^ \t\n\f\r\"<>|.!?(){},-]"
LIKELYURL = (
    r"(?:(?:www\.(?:[^ \t\n\f\r\"<>|.!?(){},]+\.)+[a-zA-Z]{2,4})"
    # ",-_" is a character range in the grammar (0x2C-0x5F), so labels exclude digits,
    # capitals and ":/@"; reproduced as written.
    r"|(?:(?:[^ \t\n\f\r\"`'<>|.!?(){},-_$]+\.)+(?:com|net|org|edu)))"
    r"(?:/[^ \t\n\f\r\"<>|()]+[^ \t\n\f\r\"<>|.!?(){},-])?"
)
EMAIL = (
    r"[a-zA-Z0-9][^ \t\n\f\r\"<>|()\u00A0{}]*@(?:[^ \t\n\f\r\"<>|(){}.\u00A0]+\.)*"
    r"[^ \t\n\f\r\"<>|(){}.\u00A0]+"
)
APOWORD = (
    rf"{APOS}n{APOS}?|[lLdDjJ]{APOS}|(?i:Dunkin){APOS}|(?i:somethin){APOS}|(?i:ol){APOS}"
    rf"|{APOS}(?i:em)|[A-HJ-XZn]{APOSETC}{LET}{{2}}{LET}*|{APOS}[2-9]0s|{APOS}(?i:till|til)"
    rf"|{LET}{LET}*[aeiouyAEIOUY]{APOSETC}[aeiouA-Z]{LET}*|{APOS}(?i:cause)|(?i:cont'd)\.?"
    r"|(?i:'twas|nor'easter|c'mon|e'er|s'mores|ev'ry|li'l|nat'l)|O{APOSETC}o"
)
PHONE = (
    r"(?:\([0-9]{2,3}\)[ \u00A0]?|(?:\+\+?)?(?:[0-9]{2,4}[\- \u00A0])?[0-9]{2,4}[\- \u00A0])"
    r"[0-9]{3,4}[\- \u00A0]?[0-9]{3,5}|(?:(?:\+\+?)?[0-9]{2,4}\.)?[0-9]{2,4}\.[0-9]{3,4}\.[0-9]{3,5}"
)
DBLQUOT = r"(?:\"|&quot;|[\u0084\u0093\u0094\u201C\u201D\u201E]|'')"
SMILEY = r"[<>]?[:;=][\-o*']?[()DPdpO\\{@|\[\]]"
LDOTS = r"\.\.\.+|(?:\.[ \u00A0]){2,4}\.|[\u0085\u2026]"

_ASSIMILATIONS = frozenset({"cannot", "gonna", "gotta", "wanna", "lemme", "gimme"})
_CURRENCY = {"\u00a2": "cents", "\u00a3": "#", "\u0080": "$", "\u20ac": "$"}
_FRAC2 = {"\u00bc": "1/4", "\u00bd": "1/2", "\u00be": "3/4", "\u2153": "1/3", "\u2154": "2/3",
          "\u2155": "1/5", "\u2156": "2/5", "\u2157": "3/5", "\u2158": "4/5", "\u2159": "1/6",
          "\u215a": "5/6", "\u215b": "1/8", "\u215c": "3/8", "\u215d": "5/8", "\u215e": "7/8"}  # fmt: skip

# An action turns the matched token text into output tokens; the scanner resumes at
# ``pos + len(token)`` unless the action returns a shorter consumed length (JFlex
# ``yypushback``), given as the second item.
Action = Callable[[str], tuple[list[str], int]]


def _keep(t: str) -> tuple[list[str], int]:
    return [t], len(t)


def _nbsp(t: str) -> tuple[list[str], int]:
    return [t.replace(" ", "\u00a0")], len(t)


def _const(out: str) -> Action:
    return lambda t: ([out], len(t))


def _dup_period(t: str) -> tuple[list[str], int]:
    """Abbreviation at a sentence end: keep its period and re-read the period as a token."""
    return [t], len(t) - 1


def _acronym_follower(t: str) -> tuple[list[str], int]:
    """Acronym before a likely sentence start ("U.S. The"): CoreNLP 3.4.1 keeps the period
    and adds one for multi-letter acronyms, but splits it off a single letter ("C. The" ->
    "C" "."). Observed behaviour of the Java tokenizer, reproduced as is."""
    if len(t) == 2:
        return [t[0]], 1
    return [t], len(t) - 1


def _hyphens(t: str) -> tuple[list[str], int]:
    return (["--"] if 3 <= len(t) <= 4 else [t]), len(t)


def _quote(t: str) -> tuple[list[str], int]:
    return (["''"] if t in {'"', "&quot;", "''", "\u0094", "\u201d"} else ["``"]), len(t)


def _apos_token(t: str) -> tuple[list[str], int]:
    """REDAUX/SREDAUX ("'s", "n't"): the quote character is normalised to ASCII."""
    return [re.sub(r"&apos;|[\u0092\u2019`\u0091\u2018\u201B]", "'", t)], len(t)


def _parens(t: str) -> str:
    return t.replace("(", "-LRB-").replace(")", "-RRB-")  # only parentheses are normalised


def _smiley(t: str) -> tuple[list[str], int]:
    return [_parens(t)], len(t)


def _phone(t: str) -> tuple[list[str], int]:
    return [_parens(t).replace(" ", "\u00a0")], len(t)


_QUOTE_MAP = {"`": "`", "\u0091": "`", "\u2018": "`", "\u201b": "`", "\u0092": "'", "\u2019": "'",
              "\u0093": "``", "\u201c": "``", "\u0094": "''", "\u201d": "''"}  # fmt: skip


def _quote_run(t: str) -> tuple[list[str], int]:
    """A run of curly quotes / backticks is one token, each character mapped to LaTeX form."""
    return ["".join(_QUOTE_MAP[c] for c in t)], len(t)


# (pattern for the token, trailing context or None, action) in the grammar's order.
_RULES: list[tuple[str, str | None, Action]] = [
    (_SGML, None, _nbsp),
    (r"(?i:&(?:MD|mdash|ndash);)|[\u0096\u0097\u2013\u2014\u2015]", None, _const("--")),
    (r"(?i:&amp;)", None, _const("&")),
    (r"(?i:&(?:HT|TL|UR|LR|QC|QL|QR|odq|cdq|#[0-9]+);)", None, _keep),
    # "cannot" -> "can" "not", "gonna" -> "gon" "na" (PTB splits assimilations)
    (r"(?i:" + "|".join(_ASSIMILATIONS) + ")", None, lambda t: ([t[:3]], 3)),
    (WORD, rf"{APOS}(?:[msdMSD]|(?i:re|ve|ll))", _keep),
    (r"[A-Za-z]*[A-MO-Za-mo-z]\u00AD*",  # ASCII only in 3.4.1 (observed)
     rf"[nN]{APOSETC}[tT]", _keep),
    (WORD, None, _keep),
    (APOWORD, None, _keep),
    (r"y" + APOS, LET, _keep),
    (rf"{APOS}[tT]", r"(?i:is)", _keep),  # "'tis" -> "'t" "is"
    (FULLURL, None, _keep),
    (LIKELYURL, None, _keep),
    (EMAIL, None, _keep),
    (rf"@[a-zA-Z_][a-zA-Z_0-9]*|#{LET}+", None, _keep),
    (rf"{APOS}(?:[msdMSD]|(?i:re|ve|ll))", r"[^A-Za-z]", _apos_token),
    (rf"[nN]{APOSETC}[tT]", r"[^A-Za-z]", _apos_token),
    (rf"{DIG}{{1,2}}[\-/]{DIG}{{1,2}}[\-/]{DIG}{{2,4}}", None, _keep),
    (rf"[\-+]?(?:{NUM})", None, _keep),
    (r"[\u207A\u207B\u208A\u208B]?(?:[\u2070\u00B9\u00B2\u00B3\u2074-\u2079]+|[\u2080-\u2089]+)",
     None, _keep),
    (rf"(?:{DIG}{{1,4}}[- \u00A0])?{DIG}{{1,4}}(?:\\?/|\u2044){DIG}{{1,4}}", None, _nbsp),
    ("[" + "".join(_FRAC2) + "]", None, lambda t: ([_FRAC2[t]], 1)),
    (r"-(?i:RRB|LRB|RCB|LCB|RSB|LSB)-|(?i:C\.D\.s|pro-|anti-|S(?:&|&amp;)P-500|S(?:&|&amp;)Ls"
     r"|Cap'n|c'est)", None, _keep),
    (r"(?i:Yahoo!|E!|Gee!)", None, _keep),
    (THING3, None, _keep),
    (r"[A-Z]*\$|#", None, _keep),
    (r"[\u00A2\u00A3\u00A4\u00A5\u0080\u20A0\u20AC\u060B\u0E3F\u20A4\uFFE0\uFFE1\uFFE5\uFFE6]",
     None, lambda t: ([_CURRENCY.get(t, t)], 1)),
    (ACRONYM, rf"{SPACENL}+(?:{FOLLOWER}|{_SGML}){SPACENL}", _acronym_follower),
    (ABBREV3, rf"{SPACENL}?{DIG}", _keep),
    (r"(?i:pt[ey]|co)\.", rf"{SPACE}(?i:ltd|lim)", _keep),
    (ABBREV1, SENTEND, _dup_period),
    (ABBREV1, r"[\s\S][\s\S]", _keep),
    (ABBREV1, None, _dup_period),
    (ABBREV2, None, _keep),
    (rf"{ABBREV4}\.", SPACE, _keep),
    (ACRONYM, None, _keep),
    (rf"{APOS}[0-9][0-9]", SPACENL, _keep),
    (r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?", None, _keep),
    (
        r"[^\W_]+(?:[-~.!_/#][^\W_]+)*\.(?i:3gp|avi|bat|bmp|bz2|class|cgi|com|cpp|css|csv|c|dat"
        r"|dll|docx|doc|exe|gif|gz|html|htm|h|jar|java|jpeg|jpg|mov|mp3|pdf|php|pl|png|ppt|ps"
        r"|py|sql|tar|txt|wav|xml|zip|wmv|wma)",
        rf"(?:{SPACENL}|[.?!,])",
        _keep,
    ),
    (rf"(?:{WORD})\.", INSENTP, _keep),
    (PHONE, None, _phone),
    (DBLQUOT, r"[A-Za-z0-9$]", _const("``")),
    (DBLQUOT, None, _quote),
    (r"<<|>>", None, _keep),
    (r"&lt;|<", None, _const("<")),
    (r"&gt;|>", None, _const(">")),
    (SMILEY, r"[^A-Za-z]", _smiley),
    (r"\{", None, _const("-LCB-")),
    (r"\}", None, _const("-RCB-")),
    (r"\[", None, _const("-LSB-")),
    (r"\]", None, _const("-RSB-")),
    (r"\(", None, _const("-LRB-")),
    (r"\)", None, _const("-RRB-")),
    (r"-+", None, _hyphens),
    (LDOTS, None, _const("...")),
    (r"\*+", None, _keep),
    (INSENTP, None, _keep),
    (r"[?!]+", None, _keep),
    (r"[.\u00BF\u00A1\u037E\u0589\u061F\u06D4\u0700-\u0702\u07FA\u3002]", None, _keep),
    (r"=", None, _keep),
    (r"/", None, _keep),
    (rf"(?:{HTHING})\.", INSENTP, _keep),
    (HTHING, rf"[^{_ALPHA}\d.+]", _keep),
    (HTHING, None, _keep),
    (r"[A-Z]+(?:(?:[+&]|&amp;)[A-Z]+)+", None, _keep),
    (r"[A-Z]+(?:(?:[+&]|&amp;)[A-Z]+)+\.", INSENTP, _keep),
    (rf"(?:{THING})\.", INSENTP, _keep),
    (THING, None, _keep),
    (r"[`\u0091-\u0094\u2018\u2019\u201B\u201C\u201D]{2,}", None, _quote_run),
    (r"'", r"[A-Za-z][^ \t\n\r\u00A0]", _const("`")),
    (r"`|[\u0091\u2018\u201B]|&lsquo;", None, _const("`")),
    (r"['\u0092\u2019]|&apos;|&rsquo;", None, _const("'")),
]


class _Rule:
    __slots__ = ("regex", "action", "parsed")

    def __init__(self, token: str, ctx: str | None, action: Action) -> None:
        pat = f"(?P<t>{token})" + (f"(?:{ctx})" if ctx else "")
        self.regex = re.compile(pat)
        self.parsed = _parser.parse(pat)
        self.action = action


_COMPILED = [_Rule(t, c, a) for t, c, a in _RULES]
_SKIP = re.compile(r"(?:[ \t\u00A0\u2000-\u200A\u3000\u200B\u200E\u200F\uFEFF\x00\x7f])+")
_NEWLINE_RE = re.compile(NEWLINE)
# Fast path: a plain ASCII word or integer followed by a space, newline or end of text
# cannot be extended by any rule, so it is a token on its own.
_FAST = re.compile(r"[A-Za-z]+(?=[ \n]|$)|[0-9]+(?=[ \n][^0-9]|\n|$)")
# Faster still: a run of plain ASCII words each followed by spaces is that many tokens.
_FAST_RUN = re.compile(r"(?:[A-Za-z]+ +)+")
# A word before sentence punctuation and a space is a token unless it is an abbreviation
# (which may keep the period); the punctuation mark before a space is a token too.
_FAST_WORD_PUNCT = re.compile(r"[A-Za-z]+(?=[.,;:](?:[ \n]|$))")
_FAST_PUNCT = re.compile(r"[,;:](?= )|\.(?= [^.]|\n|$)")
_ABBREV_ANY = re.compile(rf"(?:{ABBREV1}|{ABBREV2}|{ABBREV3}|{ABBREV4}\.|{ACRONYM}|(?i:pt[ey]|co)\.)")


@lru_cache(maxsize=65536)
def _plain_word(word: str) -> bool:
    return word.lower() not in _ASSIMILATIONS and _ABBREV_ANY.fullmatch(word + ".") is None


@lru_cache(maxsize=8192)
def _rules_for(ch: str) -> tuple[_Rule, ...]:
    """The rules whose match can start with ``ch``; trying only those keeps the scanner
    fast. Decided from each rule's parsed regex (see ``_can_start``)."""
    return tuple(r for r in _COMPILED if _can_start(r.parsed, ch, 0)[0])


_CLASS_CACHE: dict[int, tuple[Any, re.Pattern[str]]] = {}
_CATEGORY_TEXT = {"CATEGORY_DIGIT": r"\d", "CATEGORY_NOT_DIGIT": r"\D", "CATEGORY_SPACE": r"\s",
                  "CATEGORY_NOT_SPACE": r"\S", "CATEGORY_WORD": r"\w", "CATEGORY_NOT_WORD": r"\W"}  # fmt: skip


def _in_class(items: list, ch: str, ignorecase: bool) -> bool:
    """Whether ``ch`` is in a parsed character class (rebuilt as a regex, cached)."""
    hit = _CLASS_CACHE.get(id(items))
    if hit is None or hit[0] is not items:
        parts, negate = [], ""
        for op, av in items:
            if op is _c.NEGATE:
                negate = "^"
            elif op is _c.LITERAL:
                parts.append(re.escape(chr(av)))
            elif op is _c.RANGE:
                parts.append(f"{re.escape(chr(av[0]))}-{re.escape(chr(av[1]))}")
            elif op is _c.CATEGORY:
                parts.append(_CATEGORY_TEXT[str(av)])
        hit = (items, re.compile(f"[{negate}{''.join(parts)}]"))
        _CLASS_CACHE[id(items)] = hit
    chars = {ch, ch.lower(), ch.upper()} if ignorecase else {ch}
    return any(hit[1].match(c) for c in chars)


def _can_start(seq: Any, ch: str, flags: int) -> tuple[bool, bool]:
    """(can a match of the parsed pattern ``seq`` start with ``ch``, can it be empty)."""
    ignorecase = bool(flags & re.IGNORECASE)
    for op, av in seq:
        if op is _c.LITERAL:
            c = chr(av)
            return (ch == c or (ignorecase and ch.lower() == c.lower())), False
        if op is _c.NOT_LITERAL:
            return ch != chr(av), False
        if op is _c.ANY:
            return ch != "\n", False
        if op is _c.IN:
            return _in_class(av, ch, ignorecase), False
        if op is _c.SUBPATTERN:
            _, add, delete, sub = av
            hit, empty = _can_start(sub, ch, (flags | add) & ~delete)
        elif op is _c.BRANCH:
            results = [_can_start(b, ch, flags) for b in av[1]]
            hit, empty = any(r[0] for r in results), any(r[1] for r in results)
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
            lo, _, sub = av
            hit, empty = _can_start(sub, ch, flags)
            empty = empty or lo == 0
        elif op is _c.AT:
            continue
        else:  # anything unexpected: assume it can start here (only costs speed)
            return True, False
        if hit:
            return True, empty
        if not empty:
            return False, False
    return False, True


def _scan(text: str) -> list[str]:
    """Tokens of ``text`` in order, with ``_NL`` for each line break (as -preserveLines)."""
    out: list[str] = []
    pos, n = 0, len(text)
    fast, skip, nl, run = _FAST.match, _SKIP.match, _NEWLINE_RE.match, _FAST_RUN.match
    word_punct, punct = _FAST_WORD_PUNCT.match, _FAST_PUNCT.match
    while pos < n:
        m = word_punct(text, pos)
        if m and _plain_word(m.group()):
            out.append(m.group())
            pos = m.end()
            continue
        m = punct(text, pos)
        if m:
            out.append(m.group())
            pos = m.end()
            continue
        m = run(text, pos)
        if m:
            words = m.group().split()
            if not any(w.lower() in _ASSIMILATIONS for w in words):
                out.extend(words)
                pos = m.end()
                continue
        m = skip(text, pos)
        if m:
            pos = m.end()
            continue
        m = nl(text, pos)
        if m:
            out.append(_NL)
            pos = m.end()
            continue
        m = fast(text, pos)
        if m and m.group().lower() not in _ASSIMILATIONS:
            out.append(m.group())
            pos = m.end()
            continue
        best_len, best = -1, None
        for rule in _rules_for(text[pos]):
            m = rule.regex.match(text, pos)
            if m and m.end() - pos > best_len:
                best_len, best = m.end() - pos, (rule, m.group("t"))
        if best is None:
            out.append(text[pos])  # a symbol no rule names (MISCSYMBOL): one token
            pos += 1
            continue
        rule, tok = best
        toks, consumed = rule.action(tok)
        out.extend(toks)
        pos += max(consumed, 1)
    return out


def ptb_tokenize_lines(captions: Sequence[str]) -> list[str]:
    """Tokenise captions exactly as pycocoevalcap's ``PTBTokenizer`` does for a list of
    captions written in this order: lower-cased, PTB-tokenised, punctuation removed, tokens
    joined by single spaces. The result of caption *i* can depend on caption *i+1* (see
    module docstring), so pass the captions in the order the reference tool would."""
    text = "\n".join(c.replace("\n", " ") for c in captions)
    lines: list[list[str]] = [[]]
    for tok in _scan(text):
        if tok == _NL:
            lines.append([])
        else:
            lines[-1].append(tok.lower())
    while len(lines) < len(captions):  # trailing empty captions
        lines.append([])
    return [" ".join(t for t in toks if t not in PUNCTUATIONS) for toks in lines[: len(captions)]]


def ptb_tokenize(text: str) -> str:
    """Tokenise one caption on its own (as the last line of a file)."""
    return ptb_tokenize_lines([text])[0]


if __name__ == "__main__":  # debugging aid: tokenise stdin lines
    for line in ptb_tokenize_lines(sys.stdin.read().split("\n")):
        print(line)
