"""Curation ops, registered by name in ``OPS`` (``lingshu data ops`` lists them)."""

from lingshu.data.curate.ops import (  # noqa: F401  (importing registers)
    decontam,
    deid,
    image,
    image_dedup,
    modality,
    synth,
    text,
)
from lingshu.data.curate.ops.base import OPS, GlobalOp, MapOp, Op, OpParams, describe_ops

__all__ = ["OPS", "GlobalOp", "MapOp", "Op", "OpParams", "describe_ops"]
