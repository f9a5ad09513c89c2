"""PNG plots of a run's summary: counts per op, modality distribution, token-length and
image-size histograms (matplotlib, Agg backend: no display needed). Into a local folder
(atomic renames) or a URL (each PNG one object, ``out_store``)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from lingshu.data.curate import out_store
from lingshu.data.curate.paths import is_url


def write_plots(summary: dict[str, Any], out: Path | str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    url = is_url(out)
    if not url:
        Path(out).mkdir(parents=True, exist_ok=True)
    written = []

    def save(fig, name: str) -> None:  # noqa: ANN001
        path = out_store.join(str(out), name)
        fig.tight_layout()
        if url:
            buf = io.BytesIO()
            fig.savefig(buf, dpi=80, format="png")
            out_store.write_bytes(path, buf.getvalue())
        else:
            tmp = Path(out) / f".{name}.tmp.png"
            fig.savefig(tmp, dpi=80)
            tmp.replace(path)
        plt.close(fig)
        written.append(path)

    def bars(data: dict[str, int], title: str, name: str) -> None:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        keys = list(data) or ["(none)"]
        ax.barh(keys, [data.get(k, 0) for k in keys])
        ax.set_title(title)
        save(fig, name)

    ops = {"kept": summary["kept"], **summary["excluded_by_op"]}
    bars(ops, "records kept / excluded per op", "counts_per_op.png")
    bars(summary["modality"], "modality distribution (kept)", "modality.png")
    for key, title, name in (("token_lengths", "token length (Qwen2.5 vocabulary)",
                              "token_lengths.png"),
                             ("image_sides", "image size (shorter side, px)",
                              "image_sizes.png")):
        fig, ax = plt.subplots(figsize=(6, 3.5))
        counted = summary[key] or {"0": 0}  # value -> records
        ax.hist([int(v) for v in counted], weights=list(counted.values()), bins=40)
        ax.set_title(title)
        save(fig, name)
    return written
