"""Clinical, model-based report metrics: SembScore (CheXbert), BERTScore, RadGraph-F1,
RadCliQ-v1 (RaTEScore and GREEN have modules of their own).

Their weights cannot be bundled (licences, size) and no hub is reachable on our machines,
so each metric loads what ``ReportMetricsConfig.weights`` names (a local path, or the
usual hub id when online) and, when that fails, raises ``MetricUnavailable`` with one line
saying which weights and how to provide them; the scoring run goes on without it.

- SembScore and BERTScore are computed here with torch/transformers, following the
  CXR-Report-Metric code (CheXbert [CLS] embedding cosine; BERTScore F1 of
  distilroberta-base layer 5 with baseline rescaling).
- RadGraph runs its model through the reference package (``radgraph``) pointed at the
  configured weights; the entity/relation F1 and their combination are computed here.
- RadCliQ-v1 combines BLEU-2, BERTScore, SembScore and RadGraph (see ``radcliq``).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lingshu.eval.metrics.reports import radcliq
from lingshu.eval.metrics.reports.base import (
    REPORT_METRICS,
    MetricResult,
    MetricUnavailable,
    ReportContext,
    load_pretrained,
)
from lingshu.eval.metrics.reports.config import ReportMetricsConfig

# bert_score's rescale_baseline/en/distilroberta-base.tsv, layer 5 (its default layer for
# distilroberta-base): (P, R, F).
BERTSCORE_LAYER = 5
BERTSCORE_BASELINE = (0.84732, 0.84759504, 0.8473319)


def _cfg(ctx: ReportContext) -> ReportMetricsConfig:
    return ctx.config if isinstance(ctx.config, ReportMetricsConfig) else ReportMetricsConfig.coerce(ctx.config)


# ---- SembScore (CheXbert) ------------------------------------------------------------


def chexbert_state_dict(path: str | Path) -> dict[str, Any]:
    """The BERT weights of a CheXbert checkpoint (``model_state_dict``, DataParallel
    ``module.`` prefix removed, classification heads dropped)."""
    import torch

    p = Path(path).expanduser()
    if not p.is_file():
        raise MetricUnavailable(
            f"SembScore needs the CheXbert checkpoint chexbert.pth: {p} not found; set weights.chexbert"
        )
    ckpt = torch.load(p, map_location="cpu", weights_only=True)
    state = ckpt.get("model_state_dict", ckpt) if isinstance(ckpt, dict) else ckpt
    out = {}
    for k, v in state.items():
        k = k[len("module.") :] if k.startswith("module.") else k
        if k.startswith("bert."):
            out[k[len("bert.") :]] = v
    if not out:
        raise MetricUnavailable(f"{p}: not a CheXbert checkpoint (no 'bert.' weights)")
    return out


def _bert_from_state(state: dict[str, Any]) -> Any:
    """A ``BertModel`` whose sizes are read off the weights (bert-base for real CheXbert)."""
    from transformers import BertConfig, BertModel

    vocab, hidden = state["embeddings.word_embeddings.weight"].shape
    layers = 1 + max(int(k.split(".")[2]) for k in state if k.startswith("encoder.layer."))
    config = BertConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=max(1, hidden // 64),
        intermediate_size=state["encoder.layer.0.intermediate.dense.weight"].shape[0],
        max_position_embeddings=state["embeddings.position_embeddings.weight"].shape[0],
        type_vocab_size=state["embeddings.token_type_embeddings.weight"].shape[0],
    )
    model = BertModel(config, add_pooling_layer=False)
    missing, _ = model.load_state_dict(state, strict=False)
    if [m for m in missing if "position_ids" not in m]:
        raise MetricUnavailable(f"CheXbert checkpoint lacks weights: {missing[:3]}")
    return model.eval()


def _chexbert_ids(tokenizer: Any, report: str, max_len: int = 512) -> list[int]:
    # CheXbert bert_tokenizer.tokenize: whitespace-normalised report, WordPiece, [CLS] ...
    # [SEP], truncated to 512; an empty report is just [CLS] [SEP].
    text = re.sub(r"\s+", " ", report.strip().replace("\n", " ")).strip()
    pieces = tokenizer.tokenize(text)
    ids = tokenizer.convert_tokens_to_ids(pieces)[: max_len - 2]
    return [tokenizer.cls_token_id, *ids, tokenizer.sep_token_id]


def chexbert_embeddings(model: Any, tokenizer: Any, reports: Sequence[str], batch_size: int = 16) -> np.ndarray:
    """CheXbert's report embedding: the last layer's hidden state at [CLS]."""
    import torch

    out = []
    for s in range(0, len(reports), batch_size):
        ids = [_chexbert_ids(tokenizer, r) for r in reports[s : s + batch_size]]
        width = max(len(x) for x in ids)
        pad = tokenizer.pad_token_id or 0
        input_ids = torch.tensor([x + [pad] * (width - len(x)) for x in ids])
        mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids])
        with torch.no_grad():
            hidden = model(input_ids=input_ids, attention_mask=mask).last_hidden_state
        out.append(hidden[:, 0, :].double().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0))


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity (CXR-Report-Metric ``add_semb_col``)."""
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


class SembScore:
    description = 'SembScore: cosine of CheXbert embeddings of prediction and reference (local weights).'
    keys = ("semb_score",)

    def compute(self, ctx: ReportContext) -> MetricResult:
        cfg = _cfg(ctx)
        where = cfg.weights.get("chexbert")
        if not where:
            raise MetricUnavailable(
                "SembScore needs CheXbert weights: download chexbert.pth (StanfordAIMI/RRG_scorers) "
                "and set weights.chexbert: /path/chexbert.pth"
            )
        from transformers import AutoTokenizer

        model = _bert_from_state(chexbert_state_dict(where))
        tok = load_pretrained(AutoTokenizer, cfg.weight("bert_tokenizer"), "bert_tokenizer", "SembScore tokenizer (bert-base-uncased)")
        pred = chexbert_embeddings(model, tok, ctx.predictions, cfg.batch_size)
        gold = chexbert_embeddings(model, tok, ctx.references, cfg.batch_size)
        per = cosine_rows(gold, pred)
        return MetricResult({"semb_score": per.tolist()}, {"semb_score": float(per.mean())}, ci_method={"semb_score": "mean"})


# ---- BERTScore --------------------------------------------------------------------------


def bertscore_f1(model: Any, tokenizer: Any, cands: Sequence[str], refs: Sequence[str],
                 layer: int = BERTSCORE_LAYER, baseline: tuple[float, float, float] | None = BERTSCORE_BASELINE,
                 batch_size: int = 16) -> np.ndarray:
    """BERTScore F1 (no idf) of each candidate against its reference, as bert_score computes
    it: layer ``layer`` token embeddings (L2-normalised), greedy cosine matching without
    [CLS]/[SEP], F = 2PR/(P+R), then (F - b) / (1 - b) with the baseline."""
    import torch

    def embed(texts: Sequence[str]) -> list[torch.Tensor]:
        out = []
        for s in range(0, len(texts), batch_size):
            # bert_score encodes RoBERTa-family text with add_prefix_space=True.
            prefix = " " if "roberta" in type(tokenizer).__name__.lower() else ""
            enc = tokenizer([prefix + t.strip() for t in texts[s : s + batch_size]], padding=True,
                            truncation=True, return_tensors="pt")
            with torch.no_grad():
                hs = model(**enc, output_hidden_states=True).hidden_states[layer]
            for row, m in zip(hs, enc["attention_mask"], strict=True):
                e = row[m.bool()][1:-1]  # drop [CLS]/<s> and [SEP]/</s>
                out.append(e / e.norm(dim=-1, keepdim=True).clamp_min(1e-12))
        return out

    ce, re_ = embed(cands), embed(refs)
    f = []
    for c, r in zip(ce, re_, strict=True):
        if len(c) == 0 or len(r) == 0:
            f.append(0.0)
            continue
        sim = c @ r.T
        p, rc = sim.max(dim=1).values.mean().item(), sim.max(dim=0).values.mean().item()
        f.append(2 * p * rc / (p + rc) if p + rc else 0.0)
    arr = np.asarray(f, dtype=np.float64)
    if baseline is not None:
        arr = (arr - baseline[2]) / (1 - baseline[2])
    return arr


class BertScore:
    description = 'BERTScore F1 (distilroberta-base layer 5, baseline-rescaled; local weights).'
    keys = ("bertscore",)

    def compute(self, ctx: ReportContext) -> MetricResult:
        cfg = _cfg(ctx)
        from transformers import AutoModel, AutoTokenizer

        where = cfg.weight("bertscore")
        tok = load_pretrained(AutoTokenizer, where, "bertscore", "BERTScore (distilroberta-base)")
        model = load_pretrained(AutoModel, where, "bertscore", "BERTScore (distilroberta-base)").eval()
        # CXR-Report-Metric collapses runs of spaces before scoring.
        cands = [re.sub(r" +", " ", p) for p in ctx.predictions]
        refs = [re.sub(r" +", " ", r) for r in ctx.references]
        per = bertscore_f1(model, tok, cands, refs, batch_size=cfg.batch_size)
        return MetricResult({"bertscore": per.tolist()}, {"bertscore": float(per.mean())}, ci_method={"bertscore": "mean"})


# ---- RadGraph-F1 ------------------------------------------------------------------------


def _f1(gold: set, pred: set) -> float:
    tp = len(gold & pred)
    p = tp / len(pred) if pred else 0.0
    r = tp / len(gold) if gold else 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def radgraph_f1(gold: dict, pred: dict) -> tuple[float, float, float]:
    """(entity F1, relation F1, their mean) of two RadGraph annotations: entities match on
    (tokens, label), relations on (source entity, target entity, relation type); the mean
    is CXR-Report-Metric's ``radgraph_combined``."""

    def entities(g: dict) -> dict[str, tuple]:
        return {k: (tuple(str(e["tokens"]).split()) if isinstance(e["tokens"], str) else tuple(e["tokens"]), e["label"])
                for k, e in (g.get("entities") or {}).items()}

    def relations(g: dict) -> set:
        ents = entities(g)
        return {(ents[k], ents[str(t)], rel) for k, e in (g.get("entities") or {}).items()
                for rel, t in e.get("relations", []) if str(t) in ents}

    e = _f1(set(entities(gold).values()), set(entities(pred).values()))
    r = _f1(relations(gold), relations(pred))
    return e, r, (e + r) / 2


class RadGraphF1:
    description = 'RadGraph F1 over clinical entities and relations (radgraph package, local weights).'
    keys = ("radgraph_f1", "radgraph_entity_f1", "radgraph_relation_f1")

    def compute(self, ctx: ReportContext) -> MetricResult:
        cfg = _cfg(ctx)
        if not cfg.weights.get("radgraph"):  # the package would otherwise download from the hub
            raise MetricUnavailable(
                "RadGraph-F1 needs its weights: set weights.radgraph to a folder holding radgraph/ "
                "(radgraph.tar.gz from StanfordAIMI/RRG_scorers, extracted) in --weights-config"
            )
        try:
            radgraph_pkg = importlib.import_module("radgraph")
        except ImportError:
            raise MetricUnavailable(
                "RadGraph-F1 needs the radgraph package and its weights: `pip install radgraph`, then set "
                "weights.radgraph: a folder holding radgraph/ (radgraph.tar.gz from StanfordAIMI/RRG_scorers, extracted)"
            ) from None
        try:
            model = radgraph_pkg.RadGraph(model_type="radgraph", model_cache_dir=cfg.weights.get("radgraph"))
            gold = model(list(ctx.references))
            pred = model(list(ctx.predictions))
        except Exception as e:
            raise MetricUnavailable(
                f"RadGraph-F1: the radgraph model could not run ({type(e).__name__}); set weights.radgraph "
                "to a folder holding radgraph/ (the extracted radgraph.tar.gz)"
            ) from None
        rows = [radgraph_f1(gold.get(str(i), {}), pred.get(str(i), {})) for i in range(len(ctx.predictions))]
        per = {k: [row[j] for row in rows] for j, k in enumerate(("radgraph_entity_f1", "radgraph_relation_f1", "radgraph_f1"))}
        return MetricResult(per, {k: float(np.mean(v)) for k, v in per.items()}, ci_method={k: "mean" for k in per})


# ---- RadCliQ-v1 -------------------------------------------------------------------------


class RadCliQV1:
    description = 'RadCliQ-v1: BLEU-2, BERTScore, SembScore and RadGraph combined (lower is better).'
    keys = ("radcliq_v1",)

    def compute(self, ctx: ReportContext) -> MetricResult:
        subs = {}
        for name, key in (("radgraph", "radgraph_f1"), ("bertscore", "bertscore"), ("semb_score", "semb_score")):
            try:
                subs[key] = ctx.result(name).per_sample[key]
            except MetricUnavailable as e:
                raise MetricUnavailable(f"RadCliQ-v1 needs {name}, which is unavailable: {e}") from None
        bleu2 = [radcliq.cxr_bleu2(p, r) for p, r in zip(ctx.predictions, ctx.references, strict=True)]
        per = radcliq.radcliq_v1(subs["radgraph_f1"], subs["bertscore"], subs["semb_score"], bleu2)
        return MetricResult(
            {"radcliq_v1": per.tolist(), "radcliq_bleu2": bleu2},
            {"radcliq_v1_inv": radcliq.inverse_mean(per)},
            ci_method={"radcliq_v1_inv": "inverse-mean", "radcliq_v1_inv:source": "radcliq_v1"},
        )


REPORT_METRICS.add("semb_score", SembScore())
REPORT_METRICS.add("bertscore", BertScore())
REPORT_METRICS.add("radgraph", RadGraphF1())
REPORT_METRICS.add("radcliq_v1", RadCliQV1())
