"""Where model-based report metrics find their weights (``--weights-config`` YAML).

Example::

    weights:
      chexbert: /models/chexbert.pth            # CheXbert checkpoint (SembScore)
      bert_tokenizer: /models/bert-base-uncased # tokenizer CheXbert was trained with
      bertscore: /models/distilroberta-base     # BERTScore model (RadCliQ-v1)
      radgraph: /models/radgraph-cache          # folder holding radgraph/ (radgraph package)
      ratescore: /models/RaTE-NER-Deberta       # RaTEScore NER model
      ratescore_embedder: /models/BioLORD-2023-C
      green: /models/GREEN-radllama2-7b         # GREEN judge model
      meteor_jar: /opt/meteor-1.5.jar           # default: the jar inside pycocoevalcap
    device: cpu
    batch_size: 16
    ratescore_affinity: long                    # RaTEScore type weights: long | short
    green_max_new_tokens: 2048                  # GREEN assessment length limit

A value may be a local path or a Hugging Face hub id. A hub id named here loads from the hub
(or its local cache); the usual ids used when nothing is named (``DEFAULT_WEIGHTS``) are
taken from the local Hugging Face cache only, never fetched, so that scoring without a
weights file answers at once, listing those metrics as unavailable, instead of waiting on
an unreachable hub. Unknown keys are errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from lingshu.core.config import StrictModel, read_yaml, validate
from lingshu.core.errors import UserError

# The ids the reference implementations download when nothing is configured.
DEFAULT_WEIGHTS: dict[str, str] = {
    "bert_tokenizer": "bert-base-uncased",
    "bertscore": "distilroberta-base",
    "ratescore": "Angelakeke/RaTE-NER-Deberta",
    "ratescore_embedder": "FremyCompany/BioLORD-2023-C",
    "green": "StanfordAIMI/GREEN-radllama2-7b",
}
WEIGHT_KEYS = ("chexbert", "bert_tokenizer", "bertscore", "radgraph", "ratescore",
               "ratescore_embedder", "green", "meteor_jar")  # fmt: skip


class ReportMetricsConfig(StrictModel):
    weights: dict[str, str] = Field(default_factory=dict, description="weights name -> path or hub id")
    device: str = Field("cpu", description="torch device for model-based metrics")
    batch_size: int = Field(16, ge=1, description="reports per forward pass")
    ratescore_affinity: Literal["long", "short"] = Field(
        "long", description="RaTEScore type-pair weights ('long' reports: the reference default)"
    )
    green_max_new_tokens: int = Field(
        2048, ge=1, description="GREEN assessment length limit (the reference's 2,048)"
    )

    def model_post_init(self, _: Any) -> None:
        unknown = sorted(set(self.weights) - set(WEIGHT_KEYS))
        if unknown:
            raise UserError(f"weights: unknown key(s) {unknown}; expected some of {list(WEIGHT_KEYS)}")

    def weight(self, key: str) -> str | None:
        """The configured location, else the usual hub id's folder in the local Hugging
        Face cache, else None (the metric then reports that it needs weights)."""
        configured = self.weights.get(key)
        if configured:
            return configured
        default = DEFAULT_WEIGHTS.get(key)
        return cached_snapshot(default) if default else None

    @classmethod
    def coerce(cls, config: Any) -> ReportMetricsConfig:
        if config is None:
            return cls()
        if isinstance(config, cls):
            return config
        if isinstance(config, (str, Path)):
            return load_config(Path(config))
        return validate(cls, config, where="report metrics config")


def cached_snapshot(repo_id: str) -> str | None:
    """The local folder of ``repo_id`` in the Hugging Face cache, without any network call
    (``local_files_only``), or None when it was never downloaded."""
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(repo_id, local_files_only=True)
    except Exception:  # noqa: BLE001 - not cached, or no huggingface_hub: both mean "absent"
        return None


def load_config(path: Path) -> ReportMetricsConfig:
    """``--weights-config`` / ``--report-weights``: YAML of ``ReportMetricsConfig`` fields."""
    data = read_yaml(path, what="report metrics config")
    return validate(ReportMetricsConfig, data, where=str(path))
