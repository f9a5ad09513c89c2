"""PNG plots of a run's summary: counts per op, modality distribution, token-length and
image-size histograms (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_plots(summary: dict[str, Any], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    written = []

    def save(fig, name: str) -> None:  # noqa: ANN001
        path = out / name
        tmp = out / f".{name}.tmp.png"
        fig.tight_layout()
        fig.savefig(tmp, dpi=80)
        plt.close(fig)
        tmp.replace(path)
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
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(summary["token_lengths"] or [0], bins=40)
    ax.set_title("token length (Qwen2.5 vocabulary)")
    save(fig, "token_lengths.png")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    sides = [min(w, h) for w, h in summary["image_sizes"]] or [0]
    ax.hist(sides, bins=40)
    ax.set_title("image size (shorter side, px)")
    save(fig, "image_sizes.png")
    return written
