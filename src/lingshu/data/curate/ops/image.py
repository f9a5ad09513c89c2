"""Image checks: decodable (truncated/corrupt caught), decompression-bomb guard, minimum
side, perceptual hash (its two definitions: ``phash.py``). Each writes its measurements
to ``stats[<op>]``."""

from __future__ import annotations

import warnings
from typing import Any

from pydantic import Field, field_validator

from lingshu.data.curate.ops.base import MapOp, OpParams, register_op
from lingshu.data.curate.ops.phash import (
    ALGORITHM_HELP,
    PhashAlgorithm,
    definition,
    only_64_bit,
    phash_hex,
)
from lingshu.data.curate.record import Record


def open_checked(path: str, max_pixels: int):  # noqa: ANN201
    """Open and fully decode an image; raise ValueError with the reason otherwise.

    The pixel count is read from the header before decoding, so a decompression bomb is
    refused without allocating its pixels (PIL's own guard only warns below 2x its limit).
    """
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(path)
            w, h = img.size
            if w * h > max_pixels:
                raise ValueError(f"decompression bomb guard: {w}x{h} > {max_pixels} pixels")
            img.load()  # decodes every byte: truncated files fail here
            return img
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ValueError(f"decompression bomb guard: {e}") from None
    except (OSError, SyntaxError, Image.UnidentifiedImageError) as e:
        raise ValueError(f"not decodable: {type(e).__name__}: {e}") from None


class DecodableParams(OpParams):
    max_pixels: int = Field(
        89_478_485, ge=1,
        description="refuse images above this many pixels before decoding "
        "(PIL's MAX_IMAGE_PIXELS; a 1024^3 bomb PNG is a few kB)",
    )


@register_op("image_decodable")
class ImageDecodable(MapOp):
    summary = "drop samples whose images do not fully decode or exceed max_pixels"
    Params = DecodableParams

    def process(self, rec: Record) -> Record | dict[str, Any]:
        sizes = []
        for p in rec.images():
            try:
                img = open_checked(p, self.params.max_pixels)
            except ValueError as e:
                return self.exclude(rec, str(e), image=p)
            except FileNotFoundError:
                return self.exclude(rec, "missing image", image=p)
            sizes.append(list(img.size))
            img.close()
        rec.stats[self.name] = {"sizes": sizes}
        return rec


class MinSideParams(OpParams):
    # BRIEF §3 (paper §2): images with a side < 64 px are dropped.
    min_side: int = Field(64, ge=1, description="drop images whose shorter side is below this")


@register_op("image_min_side")
class ImageMinSide(MapOp):
    summary = "drop samples with an image whose shorter side < min_side (paper: 64 px)"
    Params = MinSideParams

    def process(self, rec: Record) -> Record | dict[str, Any]:
        from PIL import Image

        sizes = rec.stats.get("image_decodable", {}).get("sizes")
        if sizes is None:
            sizes = []
            for p in rec.images():
                try:
                    with Image.open(p) as im:
                        sizes.append(list(im.size))
                except OSError as e:
                    return self.exclude(rec, f"not decodable: {e}", image=p)
        for p, (w, h) in zip(rec.images(), sizes, strict=False):
            if min(w, h) < self.params.min_side:
                return self.exclude(rec, f"image side {min(w, h)} < {self.params.min_side}",
                                    image=p, width=w, height=h)
        rec.stats[self.name] = {"min_side": min((min(s) for s in sizes), default=None)}
        return rec


class PhashParams(OpParams):
    hash_size: int = Field(8, ge=4, le=16, description="pHash size (8 -> 64 bits)")
    algorithm: PhashAlgorithm = Field("imagehash", description=ALGORITHM_HELP)

    _64_bit = field_validator("algorithm")(only_64_bit)


@register_op("image_phash")
class ImagePhash(MapOp):
    summary = ("store each image's perceptual hash in stats (algorithm: imagehash.phash, "
               "or imagededup's PHash definition)")
    Params = PhashParams

    def process(self, rec: Record) -> Record | dict[str, Any]:
        p = self.params
        try:
            hashes = [phash_hex(x, p.hash_size, p.algorithm) for x in rec.images()]
        except OSError as e:
            return self.exclude(rec, f"not decodable: {e}")
        rec.stats[self.name] = {**definition(p.algorithm, p.hash_size), "hashes": hashes}
        return rec
