"""view_image: show an image from the workspace to a model that accepts images, or describe it in text."""

from __future__ import annotations

import base64
import io

from PIL import Image, UnidentifiedImageError

from alphalab.models.base import ImagePart
from alphalab.tools.base import ToolContext, ToolError, ToolResult, tool
from alphalab.tools.files import resolve_in_workspace

# providers reject big images; plots rarely need more than this to be read
MAX_SIDE_PX = 1568


@tool
def view_image(ctx: ToolContext, path: str) -> ToolResult:
    """Look at an image in the workspace (a plot you made, a figure). PNG, JPEG, GIF or WebP.

    Args:
        path: the image file, relative to the workspace.
    """
    target = resolve_in_workspace(ctx, path)
    if not target.is_file():
        raise ToolError(f"{path!r} does not exist")
    try:
        with Image.open(target) as img:
            img.load()
            size, fmt = img.size, img.format
            model = getattr(ctx.agent, "model", None)
            if not getattr(model, "supports_images", False):
                return ToolResult(text=(
                    f"{path}: {fmt} image, {size[0]}x{size[1]} px, {target.stat().st_size} bytes. "
                    "This model cannot view images: inspect the data behind the figure instead "
                    "(e.g. print summary statistics with shell_exec)."
                ))
            if max(size) > MAX_SIDE_PX or fmt not in ("PNG", "JPEG"):
                img = img.convert("RGB") if img.mode not in ("RGB", "RGBA", "L") else img
                img.thumbnail((MAX_SIDE_PX, MAX_SIDE_PX))
                buf = io.BytesIO()
                img.save(buf, format="PNG")
                data, media = buf.getvalue(), "image/png"
            else:
                data, media = target.read_bytes(), f"image/{fmt.lower()}"
    except UnidentifiedImageError:
        raise ToolError(f"{path!r} is not an image this tool can read") from None
    return ToolResult(
        text=f"{path}: {fmt} image, {size[0]}x{size[1]} px (attached)",
        images=[ImagePart(media_type=media, data_b64=base64.b64encode(data).decode())],
    )
