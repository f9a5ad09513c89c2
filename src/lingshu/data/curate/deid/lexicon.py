"""Word lists from philter-lite (UCSF Philter, BSD-3-Clause): which capitalised words are
ordinary English or medical words, and which are given names or surnames.

Why a library's lists: a run of capitalised words is a name in "Zsófia Kovács reported"
and not in "Past Medical History:", "Community Acquired Pneumonia" or "Start Augmentin".
Philter ships a whitelist of about 195,000 English, medical and drug words that are not
names ("nonames") and lists of about 97,000 given names and 161,000 surnames, curated for
clinical notes; on the labelled corpus they removed every Title Case heading and drug name
while keeping the names (docs/curation.md). Loaded once per process (about 2 s, 70 MB).
"""

from __future__ import annotations

import importlib.util
import tomllib
from functools import lru_cache
from pathlib import Path


class LexiconError(RuntimeError):
    pass


@lru_cache(maxsize=1)
def load_lexicon() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(non-name words, given names, surnames), lower case. The file is read where pip put
    the package, without importing it (its import pulls in NLTK)."""
    spec = importlib.util.find_spec("philter_lite")
    path = Path(spec.submodule_search_locations[0]) / "filters" / "set.toml" if spec else None
    if path is None or not path.is_file():
        raise LexiconError("deidentify needs philter-lite's word lists: "
                           "pip install philter-lite==0.6.0 (requirements/base.txt)")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return (frozenset(data["nonames"]), frozenset(data["firstnames"]),
            frozenset(data["lastnames"]))


def is_common_word(word: str) -> bool:
    """An ordinary English / medical word that is not also a known given name or surname."""
    nonames, first, last = load_lexicon()
    w = word.lower()
    return w in nonames and w not in first and w not in last


def is_given_name_only(word: str) -> bool:
    """A known given name that is neither an ordinary word nor a surname ("Hamish", not
    "Graves" or "Will"): enough to call one capitalised word a name without a cue."""
    nonames, first, last = load_lexicon()
    w = word.lower()
    return w in first and w not in nonames and w not in last
