"""What the CLI prints, on a terminal and off one (CI logs, ``| tee``, files).

Progress bars redraw themselves with carriage returns and cursor escapes: on a terminal
that is a live bar, in a log it is a wall of ``^M`` and ``^[[A``. So bars show only when
stderr is a terminal and ``-q`` was not given; that covers our own bars (tqdm) and the
libraries' (transformers' "Loading weights", huggingface_hub's downloads). Off a terminal
rich output is not wrapped to 80 columns either, so a long path stays on one line and can
be copied.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable
from typing import Any, TextIO

from rich.console import Console


def is_terminal(stream: TextIO | None = None) -> bool:
    stream = stream or sys.stderr
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def configure_progress(quiet: bool = False) -> bool:
    """Whether progress bars should show; when not, the libraries' bars are switched off
    too (before they are imported, through the environment, or directly after)."""
    show = not quiet and is_terminal(sys.stderr)
    if not show:
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
        if "huggingface_hub" in sys.modules:
            from huggingface_hub.utils import disable_progress_bars

            disable_progress_bars()
        if "transformers" in sys.modules:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
    return show


def make_console(**kwargs: Any) -> Console:
    """A rich console that, off a terminal, never wraps a line (paths stay whole)."""
    stream = sys.stderr if kwargs.get("stderr") else sys.stdout
    kwargs.setdefault("soft_wrap", not is_terminal(stream))
    return Console(**kwargs)


_OS_HINTS = {
    errno.EACCES: "check its permissions or choose another path",
    errno.EPERM: "check its permissions or choose another path",
    errno.EROFS: "the file system is read-only; choose another path",
    errno.ENOSPC: "the disk is full; free space or choose another path",
    errno.ENOTDIR: "a file stands where a folder is expected; choose another path",
    errno.EISDIR: "a folder stands where a file is expected; choose another path",
    errno.EEXIST: "something is already there; choose another path",
    errno.ENOENT: "check the path",
}


def os_error_line(e: OSError) -> str:
    """One line for a failed read or write: the path, what the system said, what to do
    (issue 22: an unreadable benchmark folder or a read-only output folder is a user's
    problem to fix, not a traceback)."""
    where = e.filename if e.filename is not None else ""
    if e.filename2 is not None:
        where = f"{where} -> {e.filename2}"
    what = e.strerror or type(e).__name__
    hint = _OS_HINTS.get(e.errno or -1)
    return f"{where + ': ' if where else ''}{what}" + (f"; {hint}" if hint else "")


def run_cli(invoke: Callable[[], Any], *, interrupted: str | None = None) -> int:
    """Run a click/typer command and turn every way it can end into an exit code: a
    ``UserError`` or a failed read or write (``OSError``) prints one line (exit 2), a
    usage error prints the usage line and the
    message as click does in standalone mode, Ctrl-C exits 130; never a traceback."""
    import typer

    from lingshu.core.errors import UserError

    try:
        invoke()
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except OSError as e:  # a file or folder the command could not read or write
        print(f"error: {os_error_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if interrupted:
            print(interrupted, file=sys.stderr)
        return 130
    except typer.Exit as e:
        return e.exit_code
    except typer.Abort:
        return 1
    except typer.TyperException as e:
        show = getattr(e, "show", None)
        if show is not None:
            show()
        else:
            print(f"error: {e.format_message()}", file=sys.stderr)
        return e.exit_code
    return 0
