"""What the CLI prints, on a terminal and off one (CI logs, ``| tee``, files).

Progress bars redraw themselves with carriage returns and cursor escapes: on a terminal
that is a live bar, in a log it is a wall of ``^M`` and ``^[[A``. So bars show only when
stderr is a terminal and ``-q`` was not given; that covers our own bars (tqdm) and the
libraries' (transformers' "Loading weights", huggingface_hub's downloads). Off a terminal
rich output is not wrapped to 80 columns either, so a long path stays on one line and can
be copied.
"""

from __future__ import annotations

import os
import sys
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
