"""Lingshu: build, evaluate and serve medical multimodal language models."""

import logging as _logging

__version__ = "0.1.0"


class _DropDeepSpeedCpuNotice(_logging.Filter):
    """Drop DeepSpeed's "Setting accelerator to CPU" notice.

    Why: with deepspeed installed (ZeRO training, requirements/deepspeed.txt), transformers and
    accelerate import it on every model load, and on a machine without a GPU DeepSpeed then
    prints that notice to stdout through its own handler: into the JSON a command prints
    (``lingshu train run --dry-run --json``) and into every log. Choosing the CPU there is
    right; everything else DeepSpeed logs still shows.
    """

    def filter(self, record: _logging.LogRecord) -> bool:
        return "Setting accelerator to CPU" not in record.getMessage()


# the logger object DeepSpeed configures later under this name keeps the filter
_logging.getLogger("DeepSpeed").addFilter(_DropDeepSpeedCpuNotice())
