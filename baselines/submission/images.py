"""One submitted image file → ``[H, W, 3]`` uint8 RGB at the zoo's size, or a one-line reason why not.

The policy (docs/submit-images.md, "What images are accepted"):

* **formats**: PNG, JPEG, WebP, judged by content; the extension must name the format it holds. One frame.
* **limits**: at most ``MAX_IMAGE_BYTES`` per file and ``MAX_PIXELS`` pixels (read from the header before any
  pixel is decoded: a decompression bomb is refused without being expanded). A truncated or damaged file is
  refused (Pillow's ``LOAD_TRUNCATED_IMAGES`` is held off while decoding).
* **modes**: 8-bit RGB as is; grey (``L``, ``1``) and palette (``P``) images are converted to RGB (lossless);
  an alpha channel that is opaque everywhere is dropped; transparent pixels, CMYK (Pillow's conversion ignores
  colour profiles), 16-bit (Pillow silently drops the low byte) and other modes are refused. An EXIF
  orientation is applied; embedded colour profiles are ignored (sRGB is assumed).
* **size**: another size than the zoo's is centre-cropped to the zoo's aspect ratio and resized with Pillow's
  Lanczos filter (``RESAMPLE``); ``strict_size`` refuses it instead.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from emobench.errors import EmobenchError

MAX_PIXELS = 4096 * 4096          # per image, from the header: larger is refused as a decompression bomb
MAX_IMAGE_BYTES = 64 * 2 ** 20    # per file
RESAMPLE = "lanczos"              # the named filter that resizes another size to the zoo's
FORMATS = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP"}   # extension → the format it must hold
_CONVERTED = {"L", "1", "P"}      # converted to RGB without loss
_ALPHA = {"RGBA", "LA", "PA", "RGBa", "La"}


@dataclass(frozen=True)
class Decoded:
    pixels: np.ndarray                 # [H, W, 3] uint8 at the zoo's size
    converted: str | None = None       # e.g. "P→RGB", "RGBA (opaque)→RGB", "EXIF orientation"
    resized_from: tuple[int, int] | None = None   # (width, height) before the Lanczos resize


def size_text(n: float) -> str:
    """``1536`` → ``"1.5 KiB"``: sizes in one-line errors."""
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


class BadImage(EmobenchError):
    """One submitted file cannot be used; ``str`` is one line naming it."""


def decode(data: bytes, name: str, size: tuple[int, int], strict_size: bool = False) -> Decoded:
    """``data`` (the bytes of file ``name``) as RGB uint8 of ``size`` = (height, width), under the policy above."""
    ext = name.rsplit(".", 1)[-1].lower()
    if len(data) > MAX_IMAGE_BYTES:
        raise BadImage(f"{name} is {size_text(len(data))}, over the {size_text(MAX_IMAGE_BYTES)} limit per image",
                       "submit the image at the zoo's size, or compressed")
    im = _open(data, name, ext)
    notes = []
    if getattr(im, "n_frames", 1) > 1:
        raise BadImage(f"{name} is animated ({im.n_frames} frames)", "submit one still image per cell")
    if im.format == "PNG" and len(data) > 24 and data[24] == 16:   # IHDR bit depth: Pillow would drop the low byte
        raise BadImage(f"{name} has 16 bits per channel", "save it with 8 bits per channel (e.g. PIL mode RGB)")
    _load(im, name)
    if im.getexif().get(0x0112, 1) not in (1, None):   # EXIF Orientation: show it as a viewer would
        im = ImageOps.exif_transpose(im)
        notes.append("EXIF orientation")
    im = _to_rgb(im, name, notes)
    h, w = size
    resized = None
    if im.size != (w, h):
        if strict_size:
            raise BadImage(f"{name} is {im.size[0]}x{im.size[1]}, the zoo's images are {w}x{h} (strict_size)",
                           f"resize it to {w}x{h} yourself, or drop strict_size to let emobench resize it ({RESAMPLE})")
        resized = im.size
        im = ImageOps.fit(im, (w, h), method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))
    pixels = np.asarray(im, dtype=np.uint8)
    return Decoded(pixels.copy(), "; ".join(notes) or None, resized)


def _open(data: bytes, name: str, ext: str) -> Image.Image:
    want = FORMATS.get(ext)
    if want is None:
        raise BadImage(f"{name} is not a .png, .jpg, .jpeg or .webp file", "convert it to PNG")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=sorted(set(FORMATS.values())))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadImage(f"{name} declares more than {MAX_PIXELS} pixels (a decompression bomb?)",
                       "submit the image at the zoo's size") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise BadImage(f"{name} is not a PNG, JPEG or WebP image (or its header is damaged)",
                       "re-save it as PNG") from None
    if im.format != want:
        raise BadImage(f"{name} holds a {im.format} image, not {want}",
                       f"rename it to .{next(e for e, f in FORMATS.items() if f == im.format)}")
    if im.size[0] * im.size[1] > MAX_PIXELS or min(im.size) < 1:
        raise BadImage(f"{name} is {im.size[0]}x{im.size[1]}: over the {MAX_PIXELS}-pixel limit (a decompression "
                       "bomb?)" if min(im.size) >= 1 else f"{name} has no pixels", "submit the image at the zoo's size")
    return im


def _load(im: Image.Image, name: str) -> None:
    """Decode every pixel; a truncated file is an error even where a library turned Pillow's tolerance on."""
    saved = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        im.load()
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as err:
        raise BadImage(f"{name} is truncated or damaged ({str(err).splitlines()[0] if str(err) else type(err).__name__})",
                       "re-save or re-download the image") from None
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _to_rgb(im: Image.Image, name: str, notes: list[str]) -> Image.Image:
    mode = im.mode
    if mode == "P" and "transparency" in im.info:
        im, mode = im.convert("RGBA"), "RGBA"
    if mode == "RGB":
        return im
    if mode in _CONVERTED:
        notes.append(f"{mode}→RGB")
        return im.convert("RGB")
    if mode in _ALPHA:
        alpha = np.asarray(im.getchannel("A" if "A" in im.getbands() else im.getbands()[-1]))
        if int(alpha.min()) < 255:
            raise BadImage(f"{name} has transparent pixels", "flatten it onto the background you intend and re-save as RGB")
        notes.append(f"{im.mode} (opaque)→RGB")
        return im.convert("RGB")
    if mode == "CMYK":
        raise BadImage(f"{name} is CMYK", "convert it to sRGB RGB with a colour-managed tool (Pillow's conversion "
                                          "ignores the colour profile)")
    if mode.startswith(("I", "F")):
        raise BadImage(f"{name} has {mode} pixels (16 or 32 bits)", "save it with 8 bits per channel (PIL mode RGB or L)")
    raise BadImage(f"{name} has colour mode {mode}", "save it as 8-bit RGB")
