"""The typed pipeline recipe: raw sources -> curation -> stage data -> stages -> evaluation.

One YAML file names every input of a whole run. Its ``curation`` and ``training`` entries
name a curation recipe (``lingshu data run`` format) and a training recipe (``lingshu
train`` format) instead of repeating them, so the same curation and stage settings run alone
or inside the pipeline; both are loaded and validated with the pipeline recipe, and the
loaded recipe holds them typed (the data area's curation ``Recipe``, the training area's
``Recipe``). The pipeline fills in what joins them: the curation recipe's inputs are the raw
step's files and its output folder is the run's; a ``decontaminate`` op without
``data_dir`` checks the evaluation's benchmarks; each training stage's ``data`` becomes the
stage data the pipeline built for it, and the stages train with the pipeline's ``seed``.

Every model forbids unknown keys. Relative paths resolve against the recipe's folder, except
the data paths (``raw.manifest``, ``raw.text``, ``evaluation.data_dir``) when ``data_root``
is set: those resolve against it. Relative paths given as ``key=value`` overrides (and
``output_dir``, ``data_root``, ``final_model`` always) resolve against the current folder.
Shipped recipes (``src/lingshu/pipeline/recipes/``) are found by name: ``lingshu pipeline
--recipe nano``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from lingshu.core.config import StrictModel, apply_overrides, read_yaml, validate
from lingshu.core.errors import UserError
from lingshu.core.recipes import ShippedRecipes
from lingshu.data import Recipe as CurationRecipe
from lingshu.data import parse_recipe
from lingshu.models.loading import DType
from lingshu.train import EvalSettings, load_recipe
from lingshu.train import shipped_recipes as shipped_training_recipes
from lingshu.train import Recipe as TrainingRecipe

Part = Literal["caption", "mcq", "text"]
RECIPES_DIR = Path(__file__).resolve().parent / "recipes"
#: The paths resolved against the recipe's folder (or data_root); given as overrides, they
#: are relative to the current folder (``lingshu.core.config.apply_overrides``).
PATH_KEYS = ("raw.manifest", "raw.text.*", "evaluation.data_dir", "curation", "training")


class RawSources(StrictModel):
    """The raw data: labelled images (a manifest) and text-only conversations."""

    manifest: Path = Field(description="JSONL, one image per row: id, source, path (or package + "
                           "file), organ, modality, group, split, license (data/demo/images.jsonl)")
    text: list[Path] = Field(default_factory=list, description="JSONL files of text-only "
                             "conversations (Qwen-messages rows) mixed into the stages")
    limit_per_source: int | None = Field(None, ge=1, description="first N images of each source "
                                         "(reduced runs: tests, CI)")
    include_heldout: bool = Field(True, description="hand held-out images to curation too, as a "
                                  "user's raw data would hold them: decontamination must remove them")


class StageData(StrictModel):
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


class Evaluation(EvalSettings):
    """The evaluation after each stage (and of the base model), through the evaluation kit:
    the shared checkpoint-evaluation settings with the pipeline's defaults (short answers,
    the strict profile, on the CPU)."""

    batch_size: int = Field(16, ge=1, description="hf backend batch size")
    max_new_tokens: int = Field(16, ge=1, description="answer tokens")
    profile: str | None = Field("strict", description="prompt/scoring profile")
    device: str | None = Field("cpu", description="hf backend device")
    dtype: DType | None = Field(
        "auto", description="weights' dtype for evaluation (auto: bfloat16 where the CPU or GPU "
        "computes in it, else float32, as training's precision auto); bfloat16 evaluates a "
        "bf16-trained model as trained")
    bootstrap_resamples: int | None = Field(1000, ge=100, description="bootstrap resamples for CIs")
    baseline: bool = Field(True, description="evaluate the base model before training")


class Gate(StrictModel):
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


class PipelineRecipe(StrictModel):
    name: str = Field(description="pipeline name")
    description: str = Field("", description="what this pipeline builds")
    output_dir: Path = Field(description="run directory (relative: against the current folder)")
    seed: int = Field(0, description="seed of the stage-data order and the training stages")
    data_root: Path | None = Field(None, description="folder that raw.manifest, raw.text and "
                                   "evaluation.data_dir resolve against (relative: against the "
                                   "current folder); default: the recipe's folder")
    raw: RawSources
    curation: CurationRecipe = Field(description="curation recipe file (ops, optional mixtures); "
                                     "its inputs and output are filled in by the pipeline")
    training: TrainingRecipe = Field(description="training recipe file or shipped name (base "
                                     "model, stages); each stage's data is replaced by the stage "
                                     "data below")
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
        # a gate on a benchmark the pipeline never evaluates could only fail at the very end,
        # after hours of training: check it before anything starts (issue 22)
        from lingshu.core.registry import did_you_mean

        evaluated = [b.name for b in self.evaluation.benchmarks]
        for i, gate in enumerate(self.gates):
            if gate.benchmark is not None and gate.benchmark not in evaluated:
                guess = did_you_mean(gate.benchmark, evaluated)
                hint = f"did you mean {guess!r}? " if guess else ""
                raise ValueError(f"gates.{i}.benchmark: {gate.benchmark!r} is not evaluated; "
                                 f"{hint}evaluation.benchmarks: {', '.join(evaluated)}")
        return self

    @property
    def final_dir(self) -> Path:
        return self.final_model or (self.output_dir / "final")


# The demo recipe lived under the training recipes before it moved here; its old path still
# names it, so commands written for it keep working.
PIPELINE_RECIPES = ShippedRecipes("pipeline", RECIPES_DIR, "lingshu pipeline recipes",
                                  aliases={"recipes/nano/pipeline": "nano", "nano/pipeline": "nano"})


def shipped_recipes() -> dict[str, Path]:
    """Name -> path of every pipeline recipe shipped with the package."""
    return PIPELINE_RECIPES.names()


def resolve_recipe_path(name_or_path: str | Path) -> Path:
    """A file path, or the name of a shipped pipeline recipe (``nano``)."""
    return PIPELINE_RECIPES.resolve(name_or_path)


def _resolve(p: Path, base: Path) -> Path:
    p = Path(p).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


def load_pipeline_recipe(path: str | Path, overrides: list[str] | None = None) -> PipelineRecipe:
    """Read a pipeline recipe (a file or a shipped name), apply ``key.sub=value`` overrides,
    load its curation and training recipes and validate everything; every problem is one
    ``UserError`` line naming the file and the key."""
    path = resolve_recipe_path(path)
    written = read_yaml(path, what="pipeline recipe")
    data = apply_overrides(written, overrides or [], example="raw.limit_per_source=8",
                           paths=PATH_KEYS)
    base = path.parent.resolve()
    if isinstance(data.get("curation"), str):
        data["curation"] = _load_curation(_resolve(Path(data["curation"]), base), path)
    if isinstance(data.get("training"), str):
        extra = data.get("training_overrides") or []
        if not isinstance(extra, list):
            raise UserError(f"{path}: training_overrides: expected a list of key=value items")
        file = _resolve(Path(data["training"]), base)
        name = file.name  # a shipped name (lingshu-7b), made absolute if given as an override
        if (not file.is_file() and name in shipped_training_recipes()
                and file.parent in (base, Path.cwd().resolve())):
            file = shipped_training_recipes()[name]
        # the overrides written in this file: their paths against its folder, like its own
        in_file = extra == written.get("training_overrides")
        data["training"] = _load_training(file, extra, path, base if in_file else None)
    recipe = validate(PipelineRecipe, data, where=str(path))
    _resolve_data_paths(recipe, path, base)
    return _join(recipe, path)


_RELATIVE = "(relative: against the recipe's folder; on the command line, the current folder)"


def _load_curation(file: Path, where: Path) -> CurationRecipe:
    """The curation recipe, typed; ``inputs`` and ``output.dir`` are the pipeline's."""
    if not file.is_file():
        raise UserError(f"{where}: curation: file {file} does not exist; fix the path "
                        + _RELATIVE)
    data = read_yaml(file, what="curation recipe")
    if data.get("inputs"):
        raise UserError(f"{file}: inputs are set by the pipeline (its raw step); remove "
                        "them from the curation recipe used in a pipeline")
    output = {"dir": ".", **(data.get("output") or {})}  # the run's step folder, at run time
    return parse_recipe({**data, "inputs": [], "output": output}, file.parent.resolve(), where=str(file))


def _load_training(file: Path, overrides: list[str], where: Path,
                   override_base: Path | None) -> TrainingRecipe:
    """The training recipe, typed; its data files are not required (the pipeline writes them)."""
    if not file.is_file():
        raise UserError(f"{where}: training: file {file} does not exist; fix the path "
                        + _RELATIVE)
    return load_recipe(file, overrides, check_files=False, override_base=override_base)


def _resolve_data_paths(recipe: PipelineRecipe, path: Path, base: Path) -> None:
    if recipe.data_root is not None:
        root = recipe.data_root.expanduser().absolute()
        if not root.is_dir():
            raise UserError(f"{path}: data_root: folder {root} does not exist; run from the "
                            "folder it is relative to (the repository root for the shipped "
                            "recipes) or set data_root=FOLDER")
        recipe.data_root = base = root
    recipe.raw.manifest = _resolve(recipe.raw.manifest, base)
    recipe.raw.text = [_resolve(p, base) for p in recipe.raw.text]
    recipe.evaluation.data_dir = _resolve(recipe.evaluation.data_dir, base)
    for label, p in (("raw.manifest", recipe.raw.manifest),
                     *((f"raw.text.{i}", t) for i, t in enumerate(recipe.raw.text))):
        if not p.is_file():
            raise UserError(f"{path}: {label}: file {p} does not exist; fix the path "
                            + _RELATIVE.replace("folder;", "folder or data_root;"))
    if not recipe.evaluation.data_dir.is_dir():
        raise UserError(f"{path}: evaluation.data_dir: folder {recipe.evaluation.data_dir} "
                        "does not exist")


def _join(recipe: PipelineRecipe, path: Path) -> PipelineRecipe:
    """What the pipeline fills in between the sub-recipes (see the module docstring)."""
    names = [s.name for s in recipe.training.stages]
    missing = [n for n in names if n not in recipe.stage_data]
    unknown = [n for n in recipe.stage_data if n not in names]
    if missing or unknown:
        raise UserError(f"{path}: stage_data must name each training stage exactly "
                        f"(stages: {names}; missing: {missing}; unknown: {unknown})")
    # the pipeline evaluates every stage with its own settings, not the stage's eval:
    stages = [s.model_copy(update={"eval": None}) if getattr(s, "eval", None) is not None else s
              for s in recipe.training.stages]
    recipe.training = recipe.training.model_copy(update={"seed": recipe.seed, "stages": stages})
    ops = []
    for op in recipe.curation.ops:
        if op.op == "decontaminate" and "data_dir" not in op.params:
            op = op.model_copy(update={"params": {**op.params,
                                                  "data_dir": str(recipe.evaluation.data_dir)}})
        ops.append(op)
    recipe.curation = recipe.curation.model_copy(update={"ops": ops})
    return recipe
