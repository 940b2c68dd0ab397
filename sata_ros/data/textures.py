"""
Procedural textures for synthetic scenes: smooth value noise and analytic object patterns.

Object patterns are functions of object-local coordinates, so a texture moves, rotates and
scales with its object and is exact at any resolution (no resampling of a stored bitmap).
"""

from dataclasses import dataclass

import numpy as np


def value_noise(rng: np.random.Generator, height: int, width: int, cell: int) -> np.ndarray:
    """
    Return smooth noise in [0, 1], shape (height, width), float64.

    A random grid with one value every `cell` pixels, bilinearly interpolated with a smoothstep
    weight, so the result is continuous with features about `cell` pixels wide.
    """
    gh, gw = height // cell + 2, width // cell + 2
    grid = rng.random((gh, gw))
    yy = np.arange(height) / cell
    xx = np.arange(width) / cell
    y0, x0 = yy.astype(int), xx.astype(int)
    fy, fx = yy - y0, xx - x0
    fy, fx = fy * fy * (3 - 2 * fy), fx * fx * (3 - 2 * fx)
    top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x0 + 1] * fx
    bottom = grid[y0 + 1][:, x0] * (1 - fx) + grid[y0 + 1][:, x0 + 1] * fx
    return top * (1 - fy)[:, None] + bottom * fy[:, None]


def background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """
    Return a textured background, H x W x 3 float64 linear RGB in [0.05, 0.95].

    Two octaves of value noise tint a random base colour, with a few soft vertical bands (walls,
    shelves) so the scene has edges that produce events under illumination change.
    """
    base = 0.25 + 0.5 * rng.random(3)
    tex = 0.6 * value_noise(rng, height, width, max(4, width // 6))
    tex += 0.4 * value_noise(rng, height, width, max(2, width // 24))
    bands = np.zeros(width)
    for _ in range(3):
        centre, half = rng.uniform(0, width), rng.uniform(width / 40, width / 12)
        bands += 0.25 * (np.abs(np.arange(width) - centre) < half)
    img = base[None, None, :] * (0.55 + 0.6 * tex[..., None]) + 0.15 * bands[None, :, None]
    return np.clip(img, 0.05, 0.95)


@dataclass(frozen=True)
class Pattern:
    """
    An analytic surface pattern: base colour modulated by stripes and a checker.

    Coordinates are object-local, in units of the object's half-size, so the pattern scales and
    rotates with the object.
    """

    color: tuple[float, float, float]  # linear RGB in [0, 1]
    stripe_freq: float  # stripes per half-size
    stripe_angle: float  # radians
    checker_freq: float  # checker cells per half-size (0 = none)
    contrast: float  # modulation depth in [0, 1)

    def shade(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Return the linear RGB colour at local coordinates (u, v); shape (..., 3)."""
        ca, sa = np.cos(self.stripe_angle), np.sin(self.stripe_angle)
        s = np.sin(2 * np.pi * self.stripe_freq * (ca * u + sa * v))
        mod = 1.0 + self.contrast * 0.6 * s
        if self.checker_freq > 0:
            cu = np.floor(u * self.checker_freq)
            cv = np.floor(v * self.checker_freq)
            mod = mod * (1.0 - self.contrast * 0.4 * ((cu + cv) % 2))
        return np.clip(np.asarray(self.color)[None, :] * mod[..., None], 0.0, 1.0)

    @staticmethod
    def random(rng: np.random.Generator) -> 'Pattern':
        """Draw a pattern with a saturated colour distinct from typical backgrounds."""
        hue = rng.random()
        color = tuple(float(0.15 + 0.8 * max(0.0, np.cos(2 * np.pi * (hue - off))))
                      for off in (0.0, 1 / 3, 2 / 3))
        return Pattern(color, float(rng.uniform(0.8, 2.5)), float(rng.uniform(0, np.pi)),
                       float(rng.choice([0.0, 1.0, 2.0])), float(rng.uniform(0.3, 0.7)))
