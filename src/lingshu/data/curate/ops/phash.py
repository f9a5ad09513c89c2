"""Perceptual hash (pHash) of an image file, under one of two named definitions.

Both follow the DCT pHash (Zauner 2010): shrink the image to 32x32 grey pixels, take the
2-D DCT-II, keep the 8x8 lowest frequencies, and set a bit where a coefficient is at or
above their median. The two libraries people dedup with differ in three details, so the
same file gets hashes a few bits apart, and duplicate sets at distance 0 differ:

==================  ===================================  ==================================
                    ``imagehash`` (default)              ``imagededup``
==================  ===================================  ==================================
order               grey (``L``) first, then resize      non-RGB -> RGBA -> RGB, resize the
                    to 32x32 (LANCZOS)                   RGB image to 32x32 (LANCZOS), then
                                                         grey (``L``), as uint8
median over         all 64 kept coefficients             the 63 without the DC term
bit set when        coefficient ``>`` median             coefficient ``>=`` median
==================  ===================================  ==================================

``imagehash`` is ``imagehash.phash`` itself (the default: the library this dedup was built on).
``imagededup`` is a reimplementation, from those facts, of imagededup 0.3.3's
``PHash.encode_image`` (``methods/hashing.py``, ``utils/image_utils.py``) on PIL and
scipy, for users who move from imagededup and need the same duplicate sets; a golden
test checks it bit for bit against the library. It is defined for 64-bit hashes only,
as in imagededup. Unlike imagededup it hashes any file PIL decodes (imagededup returns no
hash for formats outside its list, e.g. ICO).

Both return the hash as imagehash's hex string (bits row-major, most significant
first, ``hash_size**2 / 4`` digits): ``int(h, 16)`` is what the dedup and
decontamination indexes take, and for 64 bits it is also imagededup's own string.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from PIL import Image

    from lingshu.data.curate.record import Record

PhashAlgorithm = Literal["imagehash", "imagededup"]
ALGORITHM_HELP = ("pHash definition: imagehash (imagehash.phash) or imagededup (imagededup's "
                  "PHash: its duplicate sets; hash_size 8 only); one definition per recipe, "
                  "see docs/curation.md")


def _imagehash(im: Image.Image, hash_size: int) -> str:
    import imagehash

    return str(imagehash.phash(im, hash_size=hash_size))


def _imagededup(im: Image.Image, hash_size: int) -> str:
    import numpy as np
    from PIL import Image
    from scipy.fft import dct

    side = hash_size * 4  # 32 for 64 bits, imagededup's target_size
    if im.mode == "L":
        # Same pixels, a third of the work: L -> RGB copies v to R = G = B, PIL resizes
        # each band with the same fixed-point kernel, and RGB -> L of (v, v, v) gives v
        # back (weights 19595 + 38470 + 7471 = 2**16). The golden test covers L images.
        grey = im.resize((side, side), Image.LANCZOS)
    else:
        if im.mode != "RGB":
            im = im.convert("RGBA").convert("RGB")  # alpha dropped, as imagededup does
        grey = im.resize((side, side), Image.LANCZOS).convert("L")
    # uint8 -> float64, then the 1-D DCT-II over axis 0, then axis 1: the order and
    # precision scipy.fftpack.dct(dct(a, axis=0), axis=1) uses, so ties round alike.
    pixels = np.asarray(grey, dtype=np.float64)
    low = dct(dct(pixels, axis=0), axis=1)[:hash_size, :hash_size].ravel()
    bits = low >= np.median(low[1:])
    return _to_hex(bits)


def _to_hex(bits) -> str:  # noqa: ANN001 - flat boolean array
    value = int("".join("1" if b else "0" for b in bits), 2)
    return f"{value:0{(len(bits) + 3) // 4}x}"


_DEFINITIONS: dict[str, Callable[[Image.Image, int], str]] = {
    "imagehash": _imagehash,
    "imagededup": _imagededup,
}


def phash_hex(path: str, hash_size: int = 8, algorithm: PhashAlgorithm = "imagehash") -> str:
    """The pHash of the image at ``path`` as a hex string (``OSError`` if not decodable)."""
    from PIL import Image

    with Image.open(path) as im:
        return _DEFINITIONS[algorithm](im, hash_size)


def only_64_bit(algorithm: str, info) -> str:  # noqa: ANN001 - pydantic ValidationInfo
    """Field validator of ``algorithm`` (declared after ``hash_size``): imagededup's pHash
    exists at 64 bits only, another size would match none of its hashes."""
    size = info.data.get("hash_size", 8)
    if algorithm == "imagededup" and size != 8:
        raise ValueError(f"imagededup is defined for hash_size 8 only (its 64-bit PHash), "
                         f"got hash_size {size}")
    return algorithm


def definition(algorithm: str, hash_size: int) -> dict[str, object]:
    """What ``image_phash`` stores next to its hashes, and what its consumers compare."""
    return {"algorithm": algorithm, "hash_size": hash_size}


def stored_hashes(rec: Record, algorithm: str, hash_size: int, who: str,
                  param: str = "algorithm") -> list[str] | None:
    """The hashes ``image_phash`` stored on ``rec`` if it ran, else None.

    Hashes of another definition are an error, not a silent recomputation: a recipe that
    sets ``algorithm: imagededup`` on one op and not on the next almost certainly wanted
    one definition throughout (recipes are checked when loaded; this catches the rest).
    """
    st = rec.stats.get("image_phash")
    if not isinstance(st, dict):
        return None
    want = definition(algorithm, hash_size)
    if {k: st.get(k) for k in want} != want:
        from lingshu.core.errors import UserError

        raise UserError(
            f"{who}: parameter {param}={algorithm!r} (hash_size {hash_size}) but record "
            f"{rec.id} holds image_phash hashes with algorithm={st.get('algorithm')!r} "
            f"(hash_size {st.get('hash_size')}); set the same algorithm on both ops"
        )
    return list(st["hashes"])


def recipe_mismatch(earlier: list, algorithm: str, hash_size: int | None,
                    param: str = "algorithm") -> str | None:
    """Why hashes stored by the last ``image_phash`` in ``earlier`` do not fit, else None.

    ``hash_size`` None: the consumer only reuses stored hashes of its own size (64 bits,
    decontamination) and hashes again otherwise, so only the algorithm must agree.
    """
    found = [(i, o) for i, o in enumerate(earlier, 1) if o.name == "image_phash"]
    if not found:
        return None
    i, o = found[-1]
    theirs = o.params
    if theirs.algorithm != algorithm:
        return (f"parameter {param}={algorithm!r} differs from op #{i} (image_phash) "
                f"algorithm={theirs.algorithm!r}: the stored hashes follow another pHash "
                f"definition; set the same algorithm on both")
    if hash_size is not None and theirs.hash_size != hash_size:
        return (f"parameter hash_size={hash_size} differs from op #{i} (image_phash) "
                f"hash_size={theirs.hash_size}; set the same hash_size on both")
    return None
