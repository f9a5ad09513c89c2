"""The SFT data of a stage, held as a length index: rows are read, images decoded and
processed only when a batch needs them (in DataLoader workers, ``loader``).

Issue 19: the eager loader (``sft.load_sft_data``) decoded every image on every rank before
step 1 and kept fp32 pixels in memory, about 8.5 MiB per sample at the paper's pixel limit.
Here a stage holds, per sample, its file, its row locator (a byte offset), its token length
and its assistant-token count: four numbers, whatever the images. The numbers come from one
pass over the rows (``lengths``: text through the chat template and tokenizer, images from
their headers), cached on disk per data file under a key made of the file's content hash,
the tokenizer, the image processor, the pixel limits and the conversation style; a changed
byte of the file (same size, same modification time or not) makes a new key.

The samples, their order and the exclusions are those of ``load_sft_data`` on the same
mixture: rows mixed by ``mix`` with the same seeded draws, then rows that cannot be used
skipped with the same reasons, line numbers and ids. Two reasons can only be seen when
the image is really decoded: a file whose header reads but whose pixels do not, and an
image that changed on disk after its length was indexed. Such a sample is replaced in its
batch by a one-token sample without targets, with a warning naming it (``loader``).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lingshu.core.errors import UserError
from lingshu.train.config.data_paths import expand_entries
from lingshu.train.data.file_index import FileIndex
from lingshu.train.data.sft import BadSample, Encoded, Exclusions, encode, mix_split, normalise
from lingshu.train.data.sources import RowFile, kind_of

log = logging.getLogger(__name__)

INDEX_VERSION = 1
"""Part of every cache key: raise it when the way lengths are computed changes."""


@dataclass(frozen=True)
class SampleMeta:
    """What the training loop reads of a sample without encoding it."""

    length: int
    n_label_tokens: int


def fingerprint(processor: Any, min_pixels: int, max_pixels: int) -> str:
    """What the lengths depend on besides the file: tokenizer, chat template, image processor."""
    from lingshu.core.hashing import sha256_obj

    tok = processor.tokenizer
    backend = getattr(tok, "backend_tokenizer", None)
    ip = getattr(processor, "image_processor", None)
    return sha256_obj({
        "version": INDEX_VERSION,
        "tokenizer": backend.to_str() if backend is not None else repr(tok.get_vocab()),
        "template": getattr(processor, "chat_template", None) or getattr(tok, "chat_template", None),
        "image_processor": ip.to_dict() if ip is not None else None,
        "pixels": [min_pixels, max_pixels],
    })


def cached_indexes(files: list[tuple[Path, str]], counter: Any, prints: str, cache_dir: Path | None,
                   processes: int = 1) -> list[FileIndex | Exception]:
    """Each ``(path, style)`` file's index: from ``cache_dir`` (keyed by its content hash and
    ``prints``) when there, else built (by ``processes`` processes together, ``index_pool``)
    and written atomically. A file that cannot be read gives its error in its place."""
    from lingshu.core.hashing import sha256_file, sha256_text
    from lingshu.core.io import atomic_write_bytes
    from lingshu.train.data.index_pool import READ_ERRORS, build_indexes

    out: list[Any] = [None] * len(files)
    targets: dict[int, Path | None] = {}
    for k, (path, style) in enumerate(files):
        if cache_dir is None:
            targets[k] = None
            continue
        try:
            key = sha256_text(f"{sha256_file(path)}:{style}:{prints}")[:32]
        except READ_ERRORS as e:
            out[k] = e
            continue
        target = targets[k] = Path(cache_dir) / f"{Path(path).stem}-{key}.npz"
        if target.is_file():
            try:
                out[k] = FileIndex.from_file(target)
                del targets[k]
            except (OSError, ValueError, KeyError) as e:  # a damaged cache is rebuilt
                log.warning("length index %s unreadable (%s); rebuilding it", target, e)
    todo = sorted(targets)
    for k, got in zip(todo, build_indexes([files[k] for k in todo], counter, processes)):
        out[k] = got
        if isinstance(got, FileIndex) and targets[k] is not None:
            targets[k].parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(targets[k], got.to_bytes())
    return out


class LazySFTData:
    """A stage's samples as a length index. ``len`` and ``data[i]`` (a :class:`SampleMeta`)
    read the index; ``encoded(i)`` reads the row and encodes it (images decoded)."""

    def __init__(self, files: list[tuple[RowFile, FileIndex, str]], src: np.ndarray, row: np.ndarray,
                 processor: Any, *, max_length: int, min_pixels: int, max_pixels: int) -> None:
        self.files, self.src, self.row = files, src, row
        self.lengths = np.concatenate([f[1].lengths for f in files])[self._flat()] if len(src) else src
        self.labels = np.concatenate([f[1].labels for f in files])[self._flat()] if len(src) else src
        self.processor = processor
        self.max_length, self.min_pixels, self.max_pixels = max_length, min_pixels, max_pixels

    def _flat(self) -> np.ndarray:
        starts = np.cumsum([0] + [len(f[1].lengths) for f in self.files[:-1]])
        return starts[self.src] + self.row

    def __len__(self) -> int:
        return len(self.src)

    def __getitem__(self, i: int) -> SampleMeta:
        return SampleMeta(int(self.lengths[i]), int(self.labels[i]))

    def where(self, i: int) -> str:
        """``file:line`` of sample ``i``, for messages."""
        rows, index, _ = self.files[int(self.src[i])]
        return f"{rows.path}:{int(index.lines[int(self.row[i])])}"

    def encoded(self, i: int, keep_images: bool = False) -> Encoded:
        """Sample ``i`` encoded as the eager loader encodes it; raises :class:`BadSample`
        when it cannot be (pixels that do not decode, an image changed since indexing)."""
        rows, index, style = self.files[int(self.src[i])]
        locator = int(index.locators[int(self.row[i])])
        row = rows.read(locator)
        if isinstance(row, BadSample):  # the file changed under a running stage
            raise BadSample("changed", f"{self.where(i)}: row no longer reads ({row.detail})")
        conv = normalise(row, rows.path.parent, style, rows.resolver(locator))
        enc = encode(self.processor, conv, max_length=self.max_length,
                     min_pixels=self.min_pixels, max_pixels=self.max_pixels, keep_images=keep_images)
        want = (int(self.lengths[i]), int(self.labels[i]))
        if (enc.length, enc.n_label_tokens) != want:
            raise BadSample("changed", f"{self.where(i)}: encodes to {enc.length} tokens "
                            f"({enc.n_label_tokens} assistant), the length index says {want[0]} ({want[1]}); "
                            "an image changed after the index was built")
        return enc

    def as_encoded(self, keep_images: bool = False) -> Sequence[Encoded]:
        """The samples as a sequence of :class:`Encoded`, each encoded when read (for the
        embedding-alignment phase, which reads every image sample)."""
        return _EncodedView(self, keep_images)


class _EncodedView(Sequence):
    def __init__(self, data: LazySFTData, keep_images: bool) -> None:
        self.data, self.keep = data, keep_images

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        tok = self.data.processor.tokenizer
        return encoded_or_placeholder(self.data, i, tok.pad_token_id if tok.pad_token_id is not None
                                      else tok.eos_token_id, self.keep)


def encoded_or_placeholder(samples: Any, i: int, pad_id: int, keep_images: bool = False) -> Encoded:
    """Sample ``i`` encoded; one that fails only now (pixels that do not decode, an image
    changed since indexing) becomes a one-token sample without image or target, with a
    warning, so its batch keeps its shape (its tokens stay in the step's denominator: that
    step is slightly smaller)."""
    from lingshu.train.data.sft import placeholder

    try:
        return samples.encoded(i, keep_images=keep_images)
    except BadSample as e:
        log.warning("sample %s skipped at load time (%s): %s", getattr(samples, "where", str)(i),
                    e.reason, e.detail)
        return placeholder(pad_id)


class EagerSamples(list):
    """Already-encoded samples (``load_sft_data``) behind the lazy data's interface: the
    reference the lazy path is tested and benchmarked against."""

    def encoded(self, i: int, keep_images: bool = False) -> Encoded:
        return self[i]

    def as_encoded(self, keep_images: bool = False) -> Sequence[Encoded]:
        return self

    @property
    def lengths(self) -> np.ndarray:
        return np.array([s.length for s in self], dtype=np.int64)


def mixed_rows(n: int, ratio: float, rng: random.Random) -> np.ndarray:
    """Row numbers ``sft.mix`` selects from ``n`` rows, with the same draws from ``rng``."""
    whole, k = mix_split(n, ratio)
    parts = [np.tile(np.arange(n, dtype=np.int64), whole)]
    if ratio > whole:
        parts.append(np.array(sorted(rng.sample(range(n), k)), dtype=np.int64))
    return np.concatenate(parts)


def open_sft_data(sources: list[Any], processor: Any, *, max_length: int, min_pixels: int, max_pixels: int,
                  seed: int, cache_dir: Path | None = None, processes: int = 1) -> tuple[LazySFTData, Exclusions]:
    """The stage's mixture as a :class:`LazySFTData` and its exclusions, equal to what
    ``load_sft_data`` returns for the same arguments (without decoding an image). A folder
    or pattern entry reads as its files listed by hand (``config/data_paths``). The length
    pass of the files not cached yet runs in ``processes`` processes (1: in this one)."""
    from lingshu.train.data.lengths import LengthCounter

    counter = LengthCounter(processor, min_pixels, max_pixels)
    prints = fingerprint(processor, min_pixels, max_pixels) if cache_dir is not None else ""
    rng = random.Random(seed)
    entries = expand_entries(sources)
    unique = list(dict.fromkeys((Path(src.path), src.format) for src in entries))
    indexes = dict(zip(unique, cached_indexes(unique, counter, prints, cache_dir, processes)))
    files, srcs, rows = [], [], []
    excl = Exclusions()
    for k, src in enumerate(entries):
        index = indexes[(Path(src.path), src.format)]
        if isinstance(index, Exception):  # pyarrow's ArrowInvalid is a ValueError
            why = str(index).splitlines()[-1].strip(" -") if str(index).strip() else type(index).__name__
            raise UserError(f"{src.path}: cannot read it as {kind_of(Path(src.path))} data ({why}); "
                            "check the file, or give it the suffix of its format (.jsonl, .parquet, .tar)")
        rf = RowFile(Path(src.path))
        files.append((rf, index, src.format))
        sel = mixed_rows(len(index.lengths), src.ratio, rng)
        length, labels = index.lengths[sel], index.labels[sel]
        ok = (length >= 0) & (length <= max_length) & (labels > 0)
        for r in sel[~ok].tolist():
            excl.add(str(src.path), int(index.lines[r]), *_exclusion(rf, index, r, max_length))
        srcs.append(np.full(int(ok.sum()), k, dtype=np.int32))
        rows.append(sel[ok])
    src_all = np.concatenate(srcs) if srcs else np.zeros(0, np.int32)
    row_all = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    data = LazySFTData(files, src_all, row_all, processor, max_length=max_length, min_pixels=min_pixels,
                       max_pixels=max_pixels)
    return data, excl


def _exclusion(rows: RowFile, index: FileIndex, r: int, max_length: int) -> tuple[Any, BadSample]:
    """(row id, reason) of an unusable row, with ``encode``'s wording for the two reasons
    that depend on the stage (``max_length``) rather than the row alone."""
    if r in index.bad:
        reason, detail, rid = index.bad[r]
        return rid, BadSample(reason, detail)
    row = rows.read(int(index.locators[r]))
    rid = row.get("id") if isinstance(row, dict) else None
    n = int(index.lengths[r])
    if n > max_length:
        return rid, BadSample("too_long", f"{n} tokens > max_length {max_length}")
    return rid, BadSample("no_assistant", "no assistant tokens after templating")
