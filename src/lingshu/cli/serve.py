"""``lingshu serve``: an OpenAI-compatible server (and, with ``--ui``, a chat page).

Loopback only unless ``--host`` says otherwise; the API key comes from ``--api-key`` or,
better (it stays out of the process list), the ``LINGSHU_API_KEY`` environment variable.
Run as ``python -m lingshu.cli.serve`` it works without the main command too.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import typer

from lingshu.cli.models import load_from_options, load_option
from lingshu.cli.output import run_cli
from lingshu.core.errors import UserError

DEFAULT_MAX_BODY_BYTES = 20 * 2**20
DEFAULT_MAX_IMAGE_PIXELS = 25_000_000  # 5000 x 5000: above any radiograph we expect


def serve(
    model: str = typer.Option(
        ..., "--model", "-m", help="Model directory, hub id or alias (e.g. smollm2-135m-instruct)."
    ),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to bind; the default accepts local clients only."
    ),
    port: int = typer.Option(8000, "--port", "-p", min=0, max=65535, help="TCP port."),
    api_key: str | None = typer.Option(
        None,
        "--api-key",
        envvar="LINGSHU_API_KEY",
        show_envvar=True,
        help="Require 'Authorization: Bearer KEY' on the API. Prefer the environment variable.",
    ),
    ui: bool = typer.Option(False, "--ui", help="Also serve the chat page at /."),
    allow_remote_images: bool = typer.Option(
        False,
        "--allow-remote-images",
        help="Fetch http(s) image URLs named in requests (off: data URIs only).",
    ),
    max_body_bytes: int = typer.Option(
        DEFAULT_MAX_BODY_BYTES,
        "--max-body-bytes",
        min=1024,
        help="Largest request body (413 above).",
    ),
    max_image_pixels: int = typer.Option(
        DEFAULT_MAX_IMAGE_PIXELS,
        "--max-image-pixels",
        min=1,
        help="Largest image, width x height, checked before decoding (413 above).",
    ),
    batch_size: int = typer.Option(
        8, "--batch-size", min=1, help="Requests generated together in one batch."
    ),
    served_model_name: str | None = typer.Option(
        None,
        "--served-model-name",
        help="The 'model' name clients send (default: the directory's name, or --model as given).",
    ),
    default_max_tokens: int = typer.Option(
        512, "--default-max-tokens", min=1, help="max_tokens when a request gives none."
    ),
    max_tokens_limit: int | None = typer.Option(
        None,
        "--max-tokens-limit",
        min=1,
        help="Largest max_tokens a request may ask for (400 above); default: the model's "
        "context length, at most 4096.",
    ),
    device: str = load_option("device"),
    dtype: str = load_option("dtype"),
    min_pixels: int | None = load_option("min_pixels"),
    max_pixels: int | None = load_option("max_pixels"),
    attn_implementation: str = load_option("attn_implementation"),
) -> None:
    """Serve a model over an OpenAI-compatible HTTP API (chat completions, streaming)."""
    import uvicorn

    from lingshu.serve.app import create_app
    from lingshu.inference import Engine
    from lingshu.serve.images import ImagePolicy
    from lingshu.serve.security import LOOPBACK_HOSTS, is_loopback
    from lingshu.serve.settings import ServerSettings

    sock = bind_socket(host, port)
    try:
        loaded = load_from_options(
            model, device=device, dtype=dtype, min_pixels=min_pixels, max_pixels=max_pixels,
            attn_implementation=attn_implementation,
        )  # fmt: skip
    except BaseException:
        sock.close()
        raise
    name = served_model_name or default_served_name(model)
    loopback = is_loopback(host)
    settings = ServerSettings(
        served_model_name=name,
        api_key=api_key or None,
        ui=ui,
        max_body_bytes=max_body_bytes,
        images=ImagePolicy(
            max_pixels=max_image_pixels, max_bytes=max_body_bytes, allow_remote=allow_remote_images
        ),
        allowed_hosts=tuple(sorted(LOOPBACK_HOSTS | {host})) if loopback else None,
        default_max_tokens=default_max_tokens,
        max_tokens_limit=max_tokens_limit,
    )
    if not loopback and not api_key:
        print(
            f"warning: serving on {host} without an API key: anyone who can reach this "
            "port can use the model; set LINGSHU_API_KEY",
            file=sys.stderr,
        )
    port = sock.getsockname()[1]  # the real one when --port 0 asked the system to choose
    engine = Engine(loaded, max_batch_size=batch_size)
    app = create_app(engine, settings)
    shown = f"[{host}]" if ":" in host else host
    print(
        f"serving {name!r} at http://{shown}:{port}/v1 "
        f"({'API key required' if api_key else 'no API key'})"
        + (f"; chat page at http://{shown}:{port}/" if ui else ""),
        file=sys.stderr,
        flush=True,
    )
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    try:
        server.run(sockets=[sock])
    finally:
        engine.close()
        sock.close()


def bind_socket(host: str, port: int) -> socket.socket:
    """The listening socket, bound before the model loads: a busy port fails at once, in one
    line, rather than after minutes of loading as a log record."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise UserError(
            f"cannot listen on {host}:{port} ({e.strerror}); choose another --port or --host"
        ) from None
    sock.set_inheritable(True)
    return sock


def default_served_name(model: str) -> str:
    path = Path(model).expanduser()
    return path.resolve().name if path.is_dir() else model


def _main() -> int:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(serve)
    return run_cli(lambda: app(standalone_mode=False))


if __name__ == "__main__":
    sys.exit(_main())
