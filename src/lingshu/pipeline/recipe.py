"""The typed pipeline recipe: raw sources -> curation -> stage data -> stages -> evaluation.

One YAML file names every input of a whole run; it refers to a curation recipe
(``lingshu data run`` format) and a training recipe (``lingshu train`` format) instead of
repeating them, so the same curation and stage settings run alone or inside the pipeline.
The pipeline fills in what joins them: the curation recipe's inputs are the raw step's
files and its output folder is the run's; each training stage's ``data`` becomes the stage
data the pipeline built for it. Every model forbids unknown keys; relative paths resolve
against the recipe's folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lingshu.core.errors import UserError
from lingshu.models.loading import DType

Part = Literal["caption", "mcq", "text"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RawSources(_Strict):
    """The raw data: labelled images (a manifest) and text-only conversations."""

    manifest: Path = Field(description="JSONL, one image per row: id, source, path (or package + "
                           "file), organ, modality, group, split, license (data/demo/images.jsonl)")
    text: list[Path] = Field(default_factory=list, description="JSONL files of text-only "
                             "conversations (Qwen-messages rows) mixed into the stages")
    limit_per_source: int | None = Field(None, ge=1, description="first N images of each source "
                                         "(reduced runs: tests, CI)")
    include_heldout: bool = Field(True, description="hand held-out images to curation too, as a "
                                  "user's raw data would hold them: decontamination must remove them")


class StageData(_Strict):
    """What one training stage trains on, drawn from the curated records."""

    include: list[Part] = Field(min_length=1, description="caption: label captions; mcq: "
                                "template multiple choice; text: text-only conversations")
    format: Literal["sft", "rl"] = Field("sft", description="rl: GRPO rows with answer, options, "
                                         "question_type (CONTRACTS §2)")
    repeat: int = Field(1, ge=1, description="copies of each record (small data, more steps)")
    mcq_prompt: Literal["evaluation", "curation"] = Field(
        "evaluation", description="evaluation: multiple choice asked as the evaluation kit's "
        "strict profile asks it; curation: as the synthesis op wrote it")
    mcq_answer: Literal["letter_text", "letter", "text", "text_then_letter"] = Field(
        "letter_text", description="the target of an sft multiple-choice turn: letter_text "
        "'C. head', letter 'C', text 'head', text_then_letter 'head. Answer: C' (name what "
        "the image shows, then pick the letter: see stage_data.mcq_answer)")
    rl_prompt_share: float = Field(0.0, ge=0, le=1, description="share of sft multiple choice "
                                   "asked with the GRPO prompt and answered <answer>X</answer> (X: the letter, or "
                                   "the option's text when mcq_answer names the content first) "
                                   "(a cold start for GRPO's format reward)")


class EvalBenchmark(_Strict):
    name: str = Field(description="registered benchmark (`lingshu benchmarks list`)")
    split: str | None = Field(None, description="split (default: the benchmark's first)")
    limit: int | None = Field(None, ge=1, description="first N samples")


class Evaluation(_Strict):
    """The evaluation after each stage (and of the base model), through the evaluation kit."""

    data_dir: Path = Field(description="benchmark data folder (as `lingshu eval run --data-dir`)")
    benchmarks: list[EvalBenchmark] = Field(min_length=1, description="benchmarks, in order")
    baseline: bool = Field(True, description="evaluate the base model before training")
    batch_size: int = Field(16, ge=1, description="hf backend batch size")
    max_new_tokens: int = Field(16, ge=1, description="answer tokens")
    dtype: DType = Field(
        "auto", description="weights' dtype for evaluation (auto: bfloat16 where the CPU or GPU "
        "computes in it, else float32, as training's precision auto); bfloat16 evaluates a "
        "bf16-trained model as trained")
    min_pixels: int | None = Field(None, ge=1, description="image area after resizing (as trained)")
    max_pixels: int | None = Field(None, ge=1, description="image area after resizing (as trained)")
    bootstrap_resamples: int = Field(1000, ge=100, description="bootstrap resamples for CIs")


class Gate(_Strict):
    """What the final model must show (checked and reported, never eased; BRIEF/issue 12)."""

    benchmark: str | None = Field(None, description="benchmark the gate reads (omit for a "
                                  "training gate such as grpo_compliance_rises)")
    min_accuracy: float | None = Field(None, ge=0, le=1, description="final accuracy at least")
    max_invalid_rate: float | None = Field(None, ge=0, le=1, description="final invalid rate at most")
    beats_baseline: bool = Field(False, description="paired bootstrap 95% CI of final - baseline > 0")
    no_drop_beyond_ci: bool = Field(False, description="final >= baseline's CI low bound")
    grpo_compliance_rises: bool = Field(
        False, description="GRPO stage: share of sampled completions in the strict format, mean "
        "of its last quarter of steps > mean of its first quarter")

    @model_validator(mode="after")
    def _one_kind(self) -> Gate:
        reads_eval = any((self.min_accuracy is not None, self.max_invalid_rate is not None,
                          self.beats_baseline, self.no_drop_beyond_ci))
        if reads_eval and not self.benchmark:
            raise ValueError("a gate on accuracy or invalid rate names its benchmark")
        if not reads_eval and not self.grpo_compliance_rises:
            raise ValueError("a gate checks something: min_accuracy, max_invalid_rate, "
                             "beats_baseline, no_drop_beyond_ci or grpo_compliance_rises")
        return self


class PipelineRecipe(_Strict):
    name: str = Field(description="pipeline name")
    description: str = Field("", description="what this pipeline builds")
    output_dir: Path = Field(description="run directory (relative: against the current folder)")
    seed: int = Field(0, description="seed of the stage-data order and the training stages")
    raw: RawSources
    curation: Path = Field(description="curation recipe (ops, optional mixtures); its inputs "
                           "and output are filled in by the pipeline")
    training: Path = Field(description="training recipe (base model, stages); each stage's data "
                           "is replaced by the stage data below")
    training_overrides: list[str] = Field(default_factory=list, description="key=value "
                                          "overrides of the training recipe (as `lingshu train`)")
    stage_data: dict[str, StageData] = Field(description="training stage name -> its data")
    evaluation: Evaluation
    gates: list[Gate] = Field(default_factory=list, description="checks on the final model")
    final_model: Path | None = Field(None, description="where the final model goes "
                                     "(default: <output_dir>/final)")

    @model_validator(mode="after")
    def _check(self) -> PipelineRecipe:
        for name, sd in self.stage_data.items():
            if sd.format == "rl" and sd.include != ["mcq"]:
                raise ValueError(f"stage_data.{name}: rl rows come from multiple choice only: "
                                 "include: [mcq]")
        return self

    @property
    def final_dir(self) -> Path:
        return self.final_model or (self.output_dir / "final")


def _resolve(p: Path, base: Path) -> Path:
    p = Path(p).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


def load_pipeline_recipe(path: str | Path, overrides: list[str] | None = None) -> PipelineRecipe:
    """Read, override (``key.sub=value``) and validate; every problem is one ``UserError`` line."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: pipeline recipe not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise UserError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of pipeline keys at the top level")
    for item in overrides or []:
        _override(data, item)
    try:
        recipe = PipelineRecipe.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        if err["type"] == "missing":
            msg = "required key is missing"
        raise UserError(f"{path}: {loc}: {msg.removeprefix('Value error, ')}") from None
    base = path.parent.resolve()
    recipe.raw.manifest = _resolve(recipe.raw.manifest, base)
    recipe.raw.text = [_resolve(p, base) for p in recipe.raw.text]
    recipe.curation = _resolve(recipe.curation, base)
    recipe.training = _resolve(recipe.training, base)
    recipe.evaluation.data_dir = _resolve(recipe.evaluation.data_dir, base)
    for label, p in (("raw.manifest", recipe.raw.manifest), ("curation", recipe.curation),
                     ("training", recipe.training),
                     *((f"raw.text.{i}", t) for i, t in enumerate(recipe.raw.text))):
        if not p.is_file():
            raise UserError(f"{path}: {label}: file {p} does not exist; fix the path "
                            "(relative paths resolve against the recipe's folder)")
    if not recipe.evaluation.data_dir.is_dir():
        raise UserError(f"{path}: evaluation.data_dir: folder {recipe.evaluation.data_dir} "
                        "does not exist")
    return recipe


def _override(data: dict, item: str) -> None:
    if "=" not in item:
        raise UserError(f"override {item!r}: expected key=value, e.g. raw.limit_per_source=8")
    key, raw = item.split("=", 1)
    try:
        value: Any = yaml.safe_load(raw)
    except yaml.YAMLError:
        value = raw
    node: Any = data
    parts = key.strip().split(".")
    for p in parts[:-1]:
        if isinstance(node, list) and p.isdigit() and int(p) < len(node):
            node = node[int(p)]
        elif isinstance(node, dict):
            node = node.setdefault(p, {})
        else:
            raise UserError(f"override {key!r}: {p!r} is not a mapping key or list index here")
    if isinstance(node, list) and parts[-1].isdigit():
        node[int(parts[-1])] = value
    elif isinstance(node, dict):
        node[parts[-1]] = value
    else:
        raise UserError(f"override {key!r}: cannot set {parts[-1]!r}")
