"""The typed curation recipe (YAML): inputs, ops in order, output, mixtures.

Everything is validated when the file is loaded: unknown top-level keys, unknown op names
and unknown or mistyped op parameters raise a one-line ``UserError`` naming the op's
position, so a broken recipe fails before any record is read. Relative paths resolve
against the recipe file's folder.

Example (more in recipes/curation/)::

    inputs:
      - {name: vqa-rad, path: data/vqa.jsonl, format: jsonl, license: CC0-1.0}
    ops:
      - {op: image_decodable}
      - {op: image_min_side, min_side: 64}
      - {op: image_dedup, threshold: 0, scope: dataset}
    output: {dir: out/curated, shard_size: 1000}
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lingshu.core.errors import UserError
from lingshu.core.hashing import stable_json
from lingshu.data.curate.ops.base import OPS, Op

Format = Literal[
    "auto", "jsonl", "json", "csv", "parquet", "hf_disk", "webdataset", "image_folder",
    "dicom_folder", "benchmark",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InputSpec(_Strict):
    name: str = Field(description="source name: kept in every record, used for priorities")
    path: Path = Field(description="file or folder (data dir for format=benchmark)")
    format: Format = "auto"
    dataset: str | None = Field(None, description="dedup scope name (default: name)")
    task: str = Field("vqa", description="caption | vqa | dialogue | text | exam ...")
    license: str = "as given by the source; not stated"
    priority: int = Field(100, description="lower = more reliable (kept on duplicates)")
    limit: int | None = Field(None, description="read at most this many records")
    # CSV / parquet / HF columns
    question_field: str = "question"
    answer_field: str = "answer"
    image_field: str = "image"
    image_root: Path | None = Field(None, description="folder relative image paths are in")
    benchmark: str | None = Field(None, description="format=benchmark: registry name")
    split: str | None = None


class OutputSpec(_Strict):
    dir: Path
    shard_size: int = Field(1000, ge=1)
    images: Literal["copy", "reference"] = "copy"
    plots: bool = True


class MixtureSpec(_Strict):
    sources: dict[str, Annotated[float, Field(ge=0, allow_inf_nan=False)]] = Field(
        description="source name -> ratio (normalised; 0 leaves a source out)"
    )
    size: int | None = Field(
        None, ge=1, description="total records (default: largest possible)"
    )
    seed: int = 0

    @model_validator(mode="after")
    def _some_source(self) -> MixtureSpec:
        # all-zero ratios would divide by zero when the mixture is drawn
        if not any(r > 0 for r in self.sources.values()):
            raise ValueError("sources: at least one ratio must be above 0")
        return self


class OpSpec(_Strict):
    op: str
    params: dict[str, Any] = Field(default_factory=dict)


class Recipe(_Strict):
    name: str = "curation"
    inputs: list[InputSpec]
    ops: list[OpSpec] = Field(default_factory=list)
    output: OutputSpec
    mixtures: dict[str, MixtureSpec] = Field(default_factory=dict)
    base_dir: Path = Path(".")

    def build_ops(self) -> list[Op]:
        """Instantiate every op (parameters validated); no heavy state is loaded."""
        import lingshu.data.curate.ops  # noqa: F401  (registers)

        ops: list[Op] = []
        seen: dict[str, int] = {}
        for i, spec in enumerate(self.ops, 1):
            cls = OPS.get(spec.op)
            try:
                params = cls.Params(**spec.params)
            except ValidationError as e:
                err = e.errors()[0]
                where = ".".join(str(x) for x in err["loc"]) or "(params)"
                raise UserError(
                    f"recipe op #{i} ({spec.op}): parameter {where}: {err['msg']}; "
                    f"see `lingshu data ops` for its parameters"
                ) from None
            seen[spec.op] = seen.get(spec.op, 0) + 1
            label = spec.op if seen[spec.op] == 1 else f"{spec.op}#{seen[spec.op]}"
            op = cls(params, label=label, context=self)
            why = op.check_recipe(ops)
            if why:
                raise UserError(f"recipe op #{i} ({spec.op}): {why}")
            ops.append(op)
        return ops

    def fingerprint(self) -> str:
        return stable_json(self.model_dump(mode="json"))

    def resolve(self, p: Path | None) -> Path | None:
        if p is None:
            return None
        p = Path(p).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)


def _flatten_op(i: int, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or "op" not in raw:
        raise UserError(f"recipe ops[{i}]: expected a mapping with an 'op' key, got {raw!r}")
    raw = dict(raw)
    name = raw.pop("op")
    params = raw.pop("params", {}) or {}
    params.update(raw)
    return {"op": name, "params": params}


def parse_recipe(data: dict[str, Any], base_dir: Path, where: str = "recipe") -> Recipe:
    if not isinstance(data, dict):
        raise UserError(f"{where}: expected a YAML mapping with inputs, ops and output")
    data = dict(data)
    data["ops"] = [_flatten_op(i, raw) for i, raw in enumerate(data.get("ops") or [])]
    data["base_dir"] = base_dir
    try:
        recipe = Recipe(**data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise UserError(f"{where}: {loc}: {err['msg']}") from None
    recipe.build_ops()  # fail on unknown ops / parameters now, before any work
    names = [s.name for s in recipe.inputs]
    if len(set(names)) != len(names):
        raise UserError(f"{where}: input names must be unique, got {names}")
    for stage, mix in recipe.mixtures.items():
        unknown = sorted(set(mix.sources) - set(names))
        if unknown:
            raise UserError(
                f"{where}: mixtures.{stage}: unknown sources {unknown}; inputs are {names}"
            )
    return recipe


def load_recipe(path: Path) -> Recipe:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: recipe file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise UserError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    return parse_recipe(data, path.parent.resolve(), where=str(path))
