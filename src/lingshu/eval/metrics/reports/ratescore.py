"""RaTEScore (Zhao et al., EMNLP 2024): entity-aware similarity of two radiology reports.

1. Each report is split into sentences; a token-classification model
   (``Angelakeke/RaTE-NER-Deberta``) tags medical entities with BIO labels of five types
   (ABNORMALITY, NON-ABNORMALITY, DISEASE, NON-DISEASE, ANATOMY).
2. Every entity string is embedded by a synonym-aware encoder
   (``FremyCompany/BioLORD-2023-C``): the last hidden state at the first token, entity
   strings truncated to 30 tokens.
3. For each entity on one side, its most similar entity (cosine) on the other side; the
   similarity is weighted by a learned type-pair affinity and multiplied by a negation
   penalty when the two types disagree on presence (e.g. DISEASE vs NON-DISEASE):
   ``sum(sim * w * neg) / sum(w)``, once from the reference side and once from the
   candidate side; RaTEScore is their harmonic mean, 0.5 when either report has no entity.

Why our own code rather than the ``RaTEScore`` package: it imports medspaCy at import time,
whose spaCy 3.7 / PyRuSH chain pins numpy < 2 and cannot be installed beside our pinned
stack; it also always puts models on CUDA when asked for a GPU and drops a report that
yields no sentence, shifting every later pair (we keep pairs aligned and score such a pair
0.5). The entity decoding, the affinity matrices, the negation pairs and the arithmetic
below reproduce the reference's. One difference is documented: sentences are split by the
rule in ``split_sentences`` (line breaks, and ``.``/``?``/``!`` followed by white space,
except after common abbreviations) instead of medspaCy's PyRuSH rules; on radiology
reports the two agree except on unusual punctuation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lingshu.eval.metrics.reports.base import (
    REPORT_METRICS,
    MetricResult,
    MetricUnavailable,
    ReportContext,
    load_pretrained,
)
from lingshu.eval.metrics.reports.config import ReportMetricsConfig

TYPES = ("ABNORMALITY", "NON-ABNORMALITY", "DISEASE", "NON-DISEASE", "ANATOMY")

# The reference's pre-searched type-pair weights ("long" is its default), keyed
# (type on the scoring side, type of the best match on the other side), and the negation
# penalty. Numbers from the RaTEScore release (scorer.py DEFAULT_MATRIX_LONG / _SHORT).
_LONG = {
    "abnormality": (0.4276119164393705, 0.5431049700217344, 0.0034478181112993847, 0.27005425386213877, 0.6240929990607657),
    "non-abnormality": (0.16546764653692908, 0.0009357166071730684, 0.719397354576018, 0.0927333564267591, 0.018670610691852826),
    "disease": (0.8396510075734789, 0.9820689020512646, 0.8460555030578727, 0.3789136708096537, 0.9950209388542061),
    "non-disease": (0.7759420231214385, 0.03860183811876373, 0.10073046076318157, 0.34065681486566446, 0.1839139293714062),
    "anatomy": (0.7487824274337533, 0.02097055139911715, 0.4592143222158069, 0.00013736314126696204, 0.2856134859160784),
}  # fmt: skip
_SHORT = {
    "abnormality": (0.4070293318365468, 0.9479148658006686, 0.28342529466226446, 0.23875064111146294, 0.6952639610605605),
    "non-abnormality": (0.1712744286898638, 0.0007887930317199857, 0.00045065329822896076, 0.8555432840895761, 0.4485149671497294),
    "disease": (0.8840397619834857, 0.6962283914800402, 0.19018958438059513, 0.943727057946997, 0.9637659445696822),
    "non-disease": (0.9555801066212176, 0.05650711141169969, 0.6072996585919443, 0.3214769399791204, 0.13122106162635216),
    "anatomy": (0.5829759950441763, 0.794672584951181, 0.0006059634829551632, 0.27982942400798977, 0.7709590751917746),
}  # fmt: skip
_NEG_WEIGHT = {"long": 0.8716553966489615, "short": 0.3611577852354489}

NEGATION_PAIRS = frozenset(
    {
        ("NON-DISEASE", "DISEASE"), ("NON-ABNORMALITY", "ABNORMALITY"),
        ("DISEASE", "NON-DISEASE"), ("ABNORMALITY", "NON-ABNORMALITY"),
        ("NON-DISEASE", "ABNORMALITY"), ("NON-ABNORMALITY", "DISEASE"),
        ("DISEASE", "NON-ABNORMALITY"), ("ABNORMALITY", "NON-DISEASE"),
    }
)  # fmt: skip
"""Type pairs that disagree on presence: their similarity is multiplied by the penalty."""


@dataclass(frozen=True)
class Affinity:
    """Type-pair weights and the negation penalty."""

    weights: dict[tuple[str, str], float]
    neg_weight: float

    @classmethod
    def named(cls, name: str) -> Affinity:
        if name not in _NEG_WEIGHT:
            raise ValueError(f"affinity {name!r}: expected 'long' or 'short'")
        table = _LONG if name == "long" else _SHORT
        weights = {
            (a.upper(), b): row[k] for a, row in table.items() for k, b in enumerate(TYPES)
        }
        return cls(weights, _NEG_WEIGHT[name])


# ---- sentences and entities ---------------------------------------------------------------

# Only words that never end a sentence: "3 cm." or "no." often do in reports.
_ABBREVIATIONS = frozenset({"dr", "mr", "mrs", "ms", "vs", "approx", "e.g", "i.e", "fig"})
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")


def split_sentences(text: str) -> list[str]:
    """Sentences of a report: split at line breaks and at ``.?!`` followed by white space
    (not after an abbreviation such as "approx."); sentences with no word or shorter than
    3 characters are dropped, as the reference drops them."""
    out = []
    for line in re.split(r"\n+", text):
        pieces = _SENTENCE_END.split(line)
        current = ""
        for piece in pieces:
            current = f"{current} {piece}" if current else piece
            last_word = current.rstrip(".?!").rsplit(" ", 1)[-1].lower()
            if last_word in _ABBREVIATIONS and current.endswith("."):
                continue
            out.append(current)
            current = ""
        if current:
            out.append(current)
    return [s.strip() for s in out if s.strip().split() and len(s.strip()) >= 3]


def entity_spans(tokens: Sequence[str], labels: Sequence[str]) -> list[tuple[int, int, str]]:
    """(first token, last token, type) of each entity in BIO-tagged ``tokens``, decoded as
    the reference decodes them: an entity opens at ``B-``, extends over ``I-`` and closes
    at the token before the next ``B-`` or ``O``; [CLS]/[SEP] are skipped; the label after
    a token decides whether it closes an entity; an entity still open at the end runs to
    the token before the last."""
    spans: list[tuple[int, int, str]] = []
    start: int | None = None
    end: int | None = None
    kind: str | None = None
    for i, (token, label) in enumerate(zip(tokens, labels[: len(tokens)], strict=False)):
        if token in ("[CLS]", "[SEP]") or label == "O" or i >= len(labels) - 1:
            continue
        nxt = labels[i + 1]
        if label.startswith("B-"):
            if nxt.startswith("I-"):
                start, kind = i, label[2:]
            elif nxt.startswith("B-"):
                spans.append((i, i, label[2:]))
                start, end, kind = i, i, label[2:]
            elif nxt.startswith("O"):
                spans.append((i, i, label[2:]))
                start = end = kind = None
        elif label.startswith("I-"):
            if nxt.startswith("B-"):
                end = i
                if start is not None:
                    spans.append((start, end, kind or ""))
                start, kind = i, label[2:]
            elif nxt.startswith("O"):
                end = i
                if start is not None:
                    spans.append((start, end, kind or ""))
                start = end = kind = None
    if start is not None and end is None:
        spans.append((start, len(tokens) - 2, kind or ""))
    return spans


def tag_entities(
    texts: Sequence[str], tokenizer: Any, model: Any, *, batch_size: int, device: str
) -> list[list[tuple[str, str]]]:
    """(entity text, type) of each report, sentence by sentence through the NER model."""
    import torch

    sentences: list[str] = []
    owner: list[int] = []
    for k, text in enumerate(texts):
        for sentence in split_sentences(text):
            sentences.append(sentence)
            owner.append(k)
    id2label = model.config.id2label
    out: list[list[tuple[str, str]]] = [[] for _ in texts]
    for s in range(0, len(sentences), batch_size):
        batch = sentences[s : s + batch_size]
        enc = tokenizer(batch, max_length=512, padding=True, truncation=True, return_tensors="pt")
        with torch.no_grad():
            logits = model(**enc.to(device)).logits
        predicted = logits.argmax(dim=2).tolist()
        for j, row in enumerate(predicted):
            n = int(enc["attention_mask"][j].sum())
            ids = enc["input_ids"][j][:n].tolist()
            tokens = tokenizer.convert_ids_to_tokens(ids)
            labels = [id2label[x] for x in row]
            for first, last, kind in entity_spans(tokens, labels):
                text = tokenizer.convert_tokens_to_string(tokens[first : last + 1])
                out[owner[s + j]].append((text, kind))
    return out


def embed_entities(entities: Sequence[str], tokenizer: Any, model: Any, device: str) -> Any:
    """First-token last-layer embeddings of entity strings (at most 30 tokens each)."""
    import torch

    if not entities:
        return torch.zeros((0, 0))
    enc = tokenizer(list(entities), truncation=True, padding=True, return_tensors="pt", max_length=30)
    with torch.no_grad():
        return model(**enc.to(device)).last_hidden_state[:, 0, :].float().cpu()


# ---- scoring ------------------------------------------------------------------------------


def directional_score(
    source: Any, target: Any, source_types: Sequence[str], target_types: Sequence[str],
    affinity: Affinity,
) -> float:  # fmt: skip
    """Each source entity against its most similar target entity:
    ``sum(cos * w(source type, matched type) * negation) / sum(w)``; 0 when all w are 0."""
    import torch
    import torch.nn.functional as F

    a = F.normalize(source, p=2, dim=1)
    b = F.normalize(target, p=2, dim=1)
    best_sim, best = torch.topk(a @ b.T, 1, dim=1)
    num = den = 0.0
    for k, (sim, j) in enumerate(zip(best_sim[:, 0].tolist(), best[:, 0].tolist(), strict=True)):
        pair = (source_types[k], target_types[j])
        w = affinity.weights[pair]
        num += sim * w * (affinity.neg_weight if pair in NEGATION_PAIRS else 1.0)
        den += w
    return num / den if den != 0 else 0.0


def pair_score(reference: tuple[Any, list[str]], candidate: tuple[Any, list[str]], affinity: Affinity) -> float:
    """RaTEScore of one pair from (embeddings, types) of each side."""
    ref_emb, ref_types = reference
    cand_emb, cand_types = candidate
    if len(ref_types) == 0 or len(cand_types) == 0:
        return 0.5
    p = directional_score(ref_emb, cand_emb, ref_types, cand_types, affinity)
    r = directional_score(cand_emb, ref_emb, cand_types, ref_types, affinity)
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


class RaTEScoreMetric:
    description = 'RaTEScore: entity-level similarity of medical terms (local weights).'
    keys = ("ratescore",)

    def compute(self, ctx: ReportContext) -> MetricResult:
        from transformers import AutoModel, AutoModelForTokenClassification, AutoTokenizer

        cfg = ReportMetricsConfig.coerce(ctx.config)
        ner_at, emb_at = cfg.weight("ratescore"), cfg.weight("ratescore_embedder")
        ner_what, emb_what = "RaTEScore NER model", "RaTEScore entity encoder"
        ner_tok = load_pretrained(AutoTokenizer, ner_at, "ratescore", ner_what)
        ner = load_pretrained(AutoModelForTokenClassification, ner_at, "ratescore", ner_what)
        emb_tok = load_pretrained(AutoTokenizer, emb_at, "ratescore_embedder", emb_what)
        emb = load_pretrained(AutoModel, emb_at, "ratescore_embedder", emb_what)
        ner, emb = ner.to(cfg.device).eval(), emb.to(cfg.device).eval()
        labels = {str(v) for v in ner.config.id2label.values()}
        if not any(label[2:] in TYPES for label in labels if label[:2] in ("B-", "I-")):
            raise MetricUnavailable(
                f"RaTEScore: {ner_at} is not a RaTE NER model (labels {sorted(labels)[:4]}...); "
                "set weights.ratescore to Angelakeke/RaTE-NER-Deberta"
            )
        affinity = Affinity.named(cfg.ratescore_affinity)
        refs = tag_entities(ctx.references, ner_tok, ner, batch_size=cfg.batch_size, device=cfg.device)
        cands = tag_entities(ctx.predictions, ner_tok, ner, batch_size=cfg.batch_size, device=cfg.device)

        def side(entities: list[tuple[str, str]]) -> tuple[Any, list[str]]:
            return embed_entities([e for e, _ in entities], emb_tok, emb, cfg.device), [t for _, t in entities]

        per = [pair_score(side(r), side(c), affinity) for r, c in zip(refs, cands, strict=True)]
        return MetricResult(
            {"ratescore": per}, {"ratescore": float(np.mean(per))}, ci_method={"ratescore": "mean"}
        )


REPORT_METRICS.add("ratescore", RaTEScoreMetric())
