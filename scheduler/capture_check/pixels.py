"""Screenshot comparison and thumbnails (Pillow).

Two screenshots are compared pixel by pixel where they overlap: a pixel differs when one of
its colour channels differs by more than :data:`CHANNEL_TOLERANCE` (anti-aliasing and
colour rounding are not differences). Both are laid on the canvas of the larger width and
the larger height; every pixel of that canvas that only one of them covers differs, so a
page that grew or shrank (a missing image, an unstyled layout) counts by its area.
"""

from __future__ import annotations

import io

from PIL import Image, ImageChops

CHANNEL_TOLERANCE = 16  # of 255
THUMBNAIL_WIDTH = 320


def _open(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("RGB")


def pixel_difference(first: bytes, second: bytes,
                     tolerance: int = CHANNEL_TOLERANCE) -> float:
    """The share (0-1) of the common canvas's pixels that differ between two images."""
    a, b = _open(first), _open(second)
    width, height = max(a.width, b.width), max(a.height, b.height)
    if width * height == 0:
        return 0.0
    overlap = (0, 0, min(a.width, b.width), min(a.height, b.height))
    channels = ImageChops.difference(a.crop(overlap), b.crop(overlap)).split()
    worst = channels[0]
    for channel in channels[1:]:
        worst = ImageChops.lighter(worst, channel)
    differing = worst.point(lambda value: 255 if value > tolerance else 0).histogram()[255]
    uncovered = width * height - overlap[2] * overlap[3]
    return (differing + uncovered) / (width * height)


def thumbnail(png: bytes, width: int, height: int) -> bytes:
    """A PNG of the first ``width`` x ``height`` pixels of the image (a viewport's worth),
    scaled to :data:`THUMBNAIL_WIDTH` pixels wide."""
    image = _open(png).crop((0, 0, width, height))
    scaled = image.resize((THUMBNAIL_WIDTH, max(1, round(height * THUMBNAIL_WIDTH / width))),
                          Image.Resampling.LANCZOS)
    out = io.BytesIO()
    scaled.save(out, format="PNG", optimize=True)
    return out.getvalue()
