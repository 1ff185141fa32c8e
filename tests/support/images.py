"""Images for test sites and assertions on them (Pillow)."""

from __future__ import annotations

import io

from PIL import Image


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid PNG of one colour."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), rgb).save(out, format="PNG")
    return out.getvalue()


def image_size(data: bytes, kind: str = "PNG") -> tuple[int, int]:
    """Width and height of an encoded image of that kind, which must decode whole."""
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == kind
        image.load()
        return image.size
