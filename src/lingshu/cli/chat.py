"""``lingshu chat``: ask a model about images from the terminal, answers streamed.

With a question it answers once and exits; without one it opens a conversation that keeps
its history, where lines starting with ``/`` are commands (``/help`` lists them). The
conversation saved by ``/save`` uses the evaluation kit's message format (image parts hold
file paths), so it can be replayed through any backend.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from lingshu.cli.models import load_from_options, load_option
from lingshu.core.errors import UserError

HELP = """commands:
  /image FILE   attach an image (PNG, JPEG, DICOM, ...) to your next question
  /reset        forget the conversation and attached images
  /save FILE    write the conversation as JSON
  /help         show this help
  /quit         leave (also /exit or Ctrl-D)"""


@dataclass
class Conversation:
    """The turns so far and the images waiting for the next question."""

    system: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    pending_images: list[str] = field(default_factory=list)

    def user_turn(self, question: str) -> dict[str, Any]:
        from lingshu.inference import user_message

        return user_message(question, self.pending_images)

    def prompt_for(self, turn: dict[str, Any]) -> list[dict[str, Any]]:
        head = [{"role": "system", "content": self.system}] if self.system else []
        return head + self.messages + [turn]

    def record(self, turn: dict[str, Any], answer: str) -> None:
        self.messages += [turn, {"role": "assistant", "content": answer}]
        self.pending_images = []

    def reset(self) -> None:
        self.messages = []
        self.pending_images = []

    def to_json(self, model: str) -> dict[str, Any]:
        head = [{"role": "system", "content": self.system}] if self.system else []
        return {"model": model, "messages": head + self.messages}


def chat(
    question: str | None = typer.Argument(
        None, help="Ask once and exit; leave out for a conversation."
    ),
    model: str = typer.Option(..., "--model", "-m", help="Model directory, hub id or alias."),
    image: list[Path] = typer.Option(
        [], "--image", "-i", help="Image for the (first) question; repeat for several."
    ),
    system: str | None = typer.Option(None, "--system", help="A system prompt."),
    max_tokens: int = typer.Option(512, "--max-tokens", min=1, help="Longest answer, in tokens."),
    temperature: float = typer.Option(
        0.0, "--temperature", min=0.0, max=2.0, help="0 = greedy (reproducible)."
    ),
    top_p: float = typer.Option(
        1.0, "--top-p", min=0.0, max=1.0, help="Nucleus sampling mass (with temperature > 0)."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Random seed for sampling."),
    device: str = load_option("device"),
    dtype: str = load_option("dtype"),
    min_pixels: int | None = load_option("min_pixels"),
    max_pixels: int | None = load_option("max_pixels"),
    attn_implementation: str = load_option("attn_implementation"),
) -> None:
    """Chat with a model in the terminal; answers stream as they are generated."""
    from lingshu.inference import Engine

    conv = Conversation(system=system)
    for path in image:
        conv.pending_images.append(_checked_image(path))
    params = _params(max_tokens, temperature, top_p, seed)
    loaded = load_from_options(
        model, device=device, dtype=dtype, min_pixels=min_pixels, max_pixels=max_pixels,
        attn_implementation=attn_implementation,
    )  # fmt: skip
    with Engine(loaded, max_batch_size=1, batch_wait_s=0.0) as engine:
        if question is not None:
            _ask(engine, conv, question, params)
            return
        _interactive(engine, conv, params, model)


def _params(max_tokens: int, temperature: float, top_p: float, seed: int | None) -> Any:
    """The options as the one ``GenerationParams`` (``--top-p 0`` means greedy, no
    ``--seed`` a fresh random one); a value out of range is one line naming its flag."""
    from pydantic import ValidationError

    from lingshu.inference import GenerationParams

    try:
        return GenerationParams.from_client(
            max_new_tokens=max_tokens, temperature=temperature, top_p=top_p, seed=seed
        )
    except ValidationError as e:
        err = e.errors()[0]
        flag = {"max_new_tokens": "max-tokens"}.get(str(err["loc"][0]), str(err["loc"][0]))
        raise UserError(f"--{flag.replace('_', '-')}: {err['msg']}") from None


def _checked_image(path: Path) -> str:
    """Decode once now so that a bad file is reported at once, by name; keep the path."""
    from lingshu.core.errors import SampleError
    from lingshu.models.images import load_image

    try:
        load_image(path)
    except SampleError as e:
        raise UserError(str(e)) from None
    return str(Path(path).expanduser().resolve())


def _ask(engine: Any, conv: Conversation, question: str, params: Any) -> str:
    """Stream one answer to stdout and record the turn; errors become ``UserError``."""
    from lingshu.core.errors import SampleError
    from lingshu.inference import GenerationError, PromptError

    turn = conv.user_turn(question)
    try:
        handle = engine.submit(conv.prompt_for(turn), params)
    except (PromptError, SampleError) as e:
        raise UserError(str(e)) from None
    pieces: list[str] = []
    try:
        for piece in handle.stream():
            pieces.append(piece)
            sys.stdout.write(piece)
            sys.stdout.flush()
    except GenerationError as e:
        raise UserError(f"generation failed: {e}") from None
    except KeyboardInterrupt:
        handle.cancel()
        sys.stdout.write("\n")
        raise
    sys.stdout.write("\n")
    sys.stdout.flush()
    answer = handle.result().text
    conv.record(turn, answer)
    return answer


def _interactive(engine: Any, conv: Conversation, params: Any, model: str) -> None:
    from lingshu.core.io import atomic_write_json

    print(f"chatting with {model}; /help lists commands, /quit leaves", file=sys.stderr)
    while True:
        try:
            line = input("you> ").strip()
        except EOFError:
            print()
            return
        except KeyboardInterrupt:
            print()
            return
        if not line:
            continue
        if not line.startswith("/"):
            sys.stdout.write("lingshu> ")
            sys.stdout.flush()
            try:
                _ask(engine, conv, line, params)
            except UserError as e:
                print(f"error: {e}")
            except KeyboardInterrupt:
                print("(answer interrupted; the question was not kept)")
            continue
        command, _, arg = line.partition(" ")
        arg = arg.strip()
        if command in ("/quit", "/exit"):
            return
        if command == "/help":
            print(HELP)
        elif command == "/reset":
            conv.reset()
            print("conversation cleared")
        elif command == "/image":
            if not arg:
                print("usage: /image FILE")
                continue
            try:
                conv.pending_images.append(_checked_image(Path(arg)))
            except UserError as e:
                print(f"error: {e}")
                continue
            print(f"attached {Path(arg).name}; it goes with your next question")
        elif command == "/save":
            if not arg:
                print("usage: /save FILE")
                continue
            target = Path(arg).expanduser()
            try:
                atomic_write_json(target, conv.to_json(model))
            except OSError as e:
                print(f"error: cannot write {target}: {e.strerror}")
                continue
            print(f"saved {len(conv.messages)} messages to {target}")
        else:
            print(f"unknown command {command}; /help lists the commands")
