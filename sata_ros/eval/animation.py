"""
The report's overlay animation: every frame's RGB image with predicted and true boxes, as a GIF.

`write_animation(items, path)` takes the `animation` items of an evaluation result (one per
frame: `frame`, `pred` and `gt` boxes as [id, x, y, w, h], `rgb`) and writes an animated GIF
with Pillow: ground truth in green, each predicted box in its target id's colour with the id
written above it, the frame index in the corner. Frames are scaled up by an integer factor so
small synthetic scenes stay legible.
"""

import pathlib
from typing import Any, Union

import numpy as np
from PIL import Image, ImageDraw

GT_RGB = (44, 160, 44)
# Distinct colours for predicted ids (id modulo the palette length).
PALETTE = ((255, 127, 14), (31, 119, 180), (214, 39, 40), (148, 103, 189), (227, 119, 194),
           (188, 189, 34), (23, 190, 207), (140, 86, 75))


def render_frame(item: dict[str, Any], scale: int = 2) -> Image.Image:
    """Return one frame of the animation (RGB, `scale` x the image size)."""
    rgb = np.asarray(item['rgb'], np.uint8)
    image = Image.fromarray(rgb).resize((rgb.shape[1] * scale, rgb.shape[0] * scale),
                                        Image.NEAREST)
    draw = ImageDraw.Draw(image)
    for _, x, y, w, h in item['gt']:
        draw.rectangle(_corners(x, y, w, h, scale), outline=GT_RGB, width=1)
    for target_id, x, y, w, h in item['pred']:
        colour = PALETTE[int(target_id) % len(PALETTE)]
        draw.rectangle(_corners(x, y, w, h, scale), outline=colour, width=2)
        draw.text((x * scale + 2, max(y * scale - 11, 0)), str(int(target_id)), fill=colour)
    draw.text((3, 2), f'frame {item["frame"]}', fill=(255, 255, 255))
    return image


def _corners(x: float, y: float, w: float, h: float, scale: int) -> list[float]:
    """
    Return [x0, y0, x1, y1] of an (x, y, w, h) pixel box, scaled.

    A box under a pixel wide or high (a degenerate detection) becomes a line or a point: PIL
    refuses a rectangle whose far corner comes before its near one.
    """
    x0, y0 = x * scale, y * scale
    return [x0, y0, max(x0, (x + w) * scale - 1), max(y0, (y + h) * scale - 1)]


def write_animation(items: list[dict[str, Any]], path: Union[str, pathlib.Path],
                    fps: float = 10.0, scale: int = 2) -> pathlib.Path:
    """
    Write the items as an animated GIF that loops forever.

    Args:
        items: per-frame overlay items (an evaluation result's `animation`), in order.
        path: the .gif file to write.
        fps: playback rate, frames per second.
        scale: integer upscaling of each image.

    Raises:
        ValueError: no items, or fps / scale not positive.

    """
    if not items:
        raise ValueError('no frames to animate')
    if fps <= 0 or scale < 1:
        raise ValueError(f'need fps > 0 and scale >= 1, got fps {fps}, scale {scale}')
    frames = [render_frame(item, scale) for item in items]
    path = pathlib.Path(path)
    frames[0].save(path, save_all=True, append_images=frames[1:], loop=0,
                   duration=int(round(1000.0 / fps)))
    return path


__all__ = ['render_frame', 'write_animation']
