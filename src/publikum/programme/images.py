"""Checks of uploaded programme images: type and size verified by Pillow, not by the name."""

from __future__ import annotations

import warnings
from typing import IO, Any

from PIL import Image, UnidentifiedImageError

from publikum.core.errors import ValidationFailed

MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000
IMAGE_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


def image_check(upload: IO[bytes] | Any, *, field: str = "image") -> str:
    """Raise ValidationFailed unless `upload` is a JPEG, PNG or WebP image of at most 5 MB;
    return the file extension that matches its real format. Leaves the file at position 0."""
    size = getattr(upload, "size", None)
    if size is None:
        upload.seek(0, 2)
        size = upload.tell()
    if size > MAX_IMAGE_BYTES:
        raise ValidationFailed(
            f"The image is {size / 1024 / 1024:.1f} MB; at most 5 MB, please.",
            fields={field: ["larger than 5 MB"]},
        )
    upload.seek(0)
    try:
        with warnings.catch_warnings():
            # A decompression bomb is refused below by its pixel count, not as a warning.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(upload) as image:
                kind = image.format or ""
                width, height = image.size
                image.verify()
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
    ) as exc:
        raise ValidationFailed(
            "The file is not an image we can read. Please upload a JPEG, PNG or WebP file.",
            fields={field: ["not a JPEG, PNG or WebP image"]},
        ) from exc
    finally:
        upload.seek(0)
    if kind not in IMAGE_FORMATS:
        raise ValidationFailed(
            f"Images in the format {kind or 'unknown'} are not accepted; "
            "please upload a JPEG, PNG or WebP file.",
            fields={field: ["not a JPEG, PNG or WebP image"]},
        )
    if width * height > MAX_IMAGE_PIXELS:
        raise ValidationFailed(
            f"The image has {width} × {height} pixels; please upload a smaller one.",
            fields={field: ["too many pixels"]},
        )
    return IMAGE_FORMATS[kind]
