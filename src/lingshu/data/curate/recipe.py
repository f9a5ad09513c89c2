"""The typed curation recipe (YAML): inputs, ops in order, output, mixtures.

Everything is validated when the file is loaded (``lingshu.core.config``): unknown
top-level keys, unknown op names and unknown or mistyped op parameters raise a one-line
``UserError`` naming the op's position, so a broken recipe fails before any record is
read. Relative paths resolve against the recipe file's folder, those given in ``key=value``
overrides against the current folder. Overrides (``lingshu data run --recipe demo
output.dir=runs/x ops.2.threshold=4``) apply to the YAML before validation; an op is
addressed by its position in ``ops``.

Shipped recipes live in ``lingshu/data/curate/recipes/`` and are named without their
folder (``lingshu data recipes`` lists them). Example::

    inputs:
      - {name: vqa-rad, path: data/vqa.jsonl, format: jsonl, license: CC0-1.0}
    ops:
      - {op: image_decodable}
      - {op: image_min_side, min_side: 64}
      - {op: image_dedup, threshold: 0, scope: dataset}
    output: {dir: out/curated, shard_size: 1000}
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from lingshu.core.config import StrictModel, apply_overrides, read_yaml, validate
from lingshu.core.errors import UserError
from lingshu.core.hashing import stable_json
from lingshu.core.recipes import ShippedRecipes
from lingshu.core.registry import unknown_name_message
from lingshu.data.curate.ops.base import OPS, Op
from lingshu.data.curate.paths import output_dir, output_work_dir
from lingshu.data.curate.readers import READERS

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"
"""The shipped curation recipes (``lingshu data recipes``)."""

PATH_KEYS = ("inputs.*.path", "inputs.*.image_root", "output.dir", "output.work_dir",
             "ops.*.data_dir", "ops.*.params.data_dir")
"""The paths resolved against the recipe's folder: given as overrides, they are relative to
the current folder instead (``lingshu.core.config.apply_overrides``)."""



class InputSpec(StrictModel):
    name: str = Field(description="source name: kept in every record, used for priorities")
    path: str = Field(description="file or folder (data dir for format=benchmark); a local "
                      "path or any fsspec URL (s3://, gs://, file:// ...), copied into the "
                      "run's work folder before reading")
    format: str = Field("auto", description="auto (guessed from the path) or a reader's name "
                        "(`lingshu data readers`)")
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

    @field_validator("path", mode="before")
    @classmethod
    def _path_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, Path) else v

    @field_validator("format")
    @classmethod
    def _known_format(cls, v: str) -> str:
        if v != "auto" and v not in READERS:
            raise ValueError(unknown_name_message("input format", v, ["auto", *READERS]))
        return v


class OutputSpec(StrictModel):
    dir: Path | str = Field(description="a local path or file:// URL, or an fsspec URL "
                            "(s3://, gs:// ...: needs work_dir and the protocol's driver)")
    work_dir: Path | None = Field(None, description="the work folder (intermediate files, "
                                  "done-marks): a local path or file:// URL every node "
                                  "mounts; default OUT/.work, required when dir is a URL")
    shard_size: int = Field(1000, ge=1)
    images: Literal["copy", "reference"] = "copy"
    plots: bool = True

    _dir = field_validator("dir", mode="before")(output_dir)
    _work = field_validator("work_dir", mode="before")(output_work_dir)

    @model_validator(mode="after")
    def _work_for_url(self) -> OutputSpec:
        # no local default is right on a cluster: each node would get its own folder
        if isinstance(self.dir, str) and self.work_dir is None:
            raise ValueError(f"output.dir is a URL ({self.dir}): set output.work_dir to a "
                             "folder every node mounts (intermediate files and resume)")
        return self


class MixtureSpec(StrictModel):
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


class OpSpec(StrictModel):
    op: str
    params: dict[str, Any] = Field(default_factory=dict)


class Recipe(StrictModel):
    name: str = "curation"
    description: str = Field("", description="one line for `lingshu data recipes`")
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
                msg = "unknown parameter" if err["type"] == "extra_forbidden" else err["msg"]
                raise UserError(
                    f"recipe op #{i} ({spec.op}): parameter {where}: {msg}; "
                    f"see `lingshu data ops {spec.op}` for its parameters"
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

    def output_location(self) -> str:
        """``output.dir`` as the writers take it (``out_store``): a URL as given, a local
        folder resolved against the recipe's folder."""
        d = self.output.dir
        return d if isinstance(d, str) else str(self.resolve(d))

    def work_folder(self) -> Path:
        """The run's work folder: ``output.work_dir``, else ``OUT/.work``."""
        if self.output.work_dir is not None:
            return self.resolve(self.output.work_dir)
        return self.resolve(Path(self.output.dir)) / ".work"

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
    """A recipe from its YAML mapping; relative paths resolve against ``base_dir``."""
    if not isinstance(data, dict):
        raise UserError(f"{where}: expected a YAML mapping with inputs, ops and output")
    data = dict(data)
    data["ops"] = [_flatten_op(i, raw) for i, raw in enumerate(data.get("ops") or [])]
    data["base_dir"] = base_dir
    recipe = validate(Recipe, data, where=where)
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


CURATION_RECIPES = ShippedRecipes("curation", RECIPES_DIR, "lingshu data recipes")


def shipped_recipes() -> dict[str, Path]:
    """Name (file stem) -> file of every curation recipe shipped with the package."""
    return CURATION_RECIPES.names()


def resolve_recipe(name_or_path: str | Path) -> Path:
    """A recipe file path as given, or a shipped recipe's name (``demo``)."""
    return CURATION_RECIPES.resolve(name_or_path)


def load_recipe(path: str | Path, overrides: Iterable[str] = ()) -> Recipe:
    """Read, override (``key.path=value`` items) and validate a recipe file or shipped name."""
    path = resolve_recipe(path)
    data = apply_overrides(read_yaml(path, what="curation recipe"), overrides,
                           example="output.dir=runs/curated", paths=PATH_KEYS)
    return parse_recipe(data, path.parent.resolve(), where=str(path))
