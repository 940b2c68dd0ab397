"""
Deterministic synthetic multi-modal scenes with exact ground truth.

A static camera looks at a textured background plane; textured objects (ellipses, boxes, stars)
move in front of it with independent motion, change scale as they approach and recede, rotate,
occlude each other, leave the view and come back; look-alike distractors copy a target's shape,
texture and temperature. The illumination drifts and dims. Every modality is rendered from the
same world state:

- RGB (rgb8) with sensor noise;
- depth registered to RGB (16UC1 millimetres or 32FC1 metres), with holes at occlusion edges,
  dropout patches and beyond the maximum range;
- thermal as 16-bit radiometric counts (kelvin x 100, Lepton TLinear style) from per-object
  temperatures, at its own lower resolution and frame rate, rendered at its own capture times;
- events simulated from log-intensity changes between sub-frame renderings (events.py);
- ground truth per object: id, label, visible box and mask, full (amodal) box and mask,
  visibility.

Same config, same output: every random draw comes from generators seeded by (seed, purpose,
frame), so a frame does not depend on how many random numbers an earlier frame used.
"""

from dataclasses import asdict, dataclass, field
from typing import Iterator, Optional

import numpy as np

from sata_ros.data.events import EventSimulator, log_intensity
from sata_ros.data.sequence import Camera, EVENT_DTYPE, Frame, ObjectTruth, Sequence
from sata_ros.data.textures import background, Pattern, value_noise

# Class name -> (shape, half extents (a, b) in units of the object's scale, temperature in C).
CLASSES = {
    'person': ('ellipse', (0.45, 1.0), 34.0),
    'car': ('rect', (1.0, 0.55), 45.0),
    'ball': ('ellipse', (0.8, 0.8), 22.0),
    'box': ('rect', (0.75, 0.75), 21.0),
    'drone': ('star', (1.0, 1.0), 40.0),
}
RGB_FRAME_ID = 'sata_synth/rgb_optical_frame'
THERMAL_FRAME_ID = 'sata_synth/thermal_optical_frame'
MODALITIES = ('rgb', 'depth', 'thermal', 'events')
# Random streams: each purpose has its own seed sequence (see _rng).
_WORLD, _RGB_NOISE, _DEPTH_NOISE, _THERMAL_NOISE, _EVENT_NOISE, _STATIC = range(6)


@dataclass(frozen=True)
class SceneConfig:
    """Everything that defines a synthetic scene; equal configs give identical scenes."""

    seed: int = 0
    num_frames: int = 60
    width: int = 320  # RGB / depth / event pixels
    height: int = 240
    fps: float = 30.0  # RGB frame rate, Hz
    num_objects: int = 4  # tracked objects, ids 1..num_objects
    num_distractors: int = 1  # look-alikes of object 1, ids after the objects
    modalities: tuple[str, ...] = MODALITIES  # subset of MODALITIES; 'rgb' is always rendered
    depth_encoding: str = '16UC1'  # '16UC1' (uint16 mm, 0 = no return) or '32FC1' (float m)
    depth_max_m: float = 6.0  # farther surfaces give no return
    thermal_width: int = 0  # 0 = width // 2
    thermal_height: int = 0  # 0 = height // 2
    thermal_fps: float = 0.0  # 0 = fps / 2
    event_threshold: float = 0.25  # log-intensity contrast threshold
    event_refractory_us: int = 500
    event_substeps: int = 6  # renderings per frame interval for the event simulator
    event_noise_hz: float = 0.05  # background-activity events per pixel per second
    illumination_change: bool = True  # global drift plus a dimming step half-way
    sensor_noise: bool = True  # RGB, depth and thermal noise; event background activity
    # RGB camera exposure: 1 = normal; small values (e.g. 0.05) render a dark scene in which
    # the RGB camera sees little while depth, thermal and events are unaffected (their sensors
    # do not depend on visible light), for measuring what an auxiliary modality adds.
    rgb_exposure: float = 1.0
    start_ns: int = 1_700_000_000_000_000_000  # stamp of frame 0

    def __post_init__(self) -> None:
        """Reject settings that cannot render, naming the field and the accepted values."""
        checks = [
            (self.num_frames >= 1, f'num_frames must be >= 1, got {self.num_frames}'),
            (self.width >= 16 and self.height >= 16,
             f'image size must be at least 16x16, got {self.width}x{self.height}'),
            (self.fps > 0, f'fps must be > 0, got {self.fps}'),
            (1 <= self.num_objects <= 50, f'num_objects must be 1..50, got {self.num_objects}'),
            (0 <= self.num_distractors <= 10,
             f'num_distractors must be 0..10, got {self.num_distractors}'),
            (set(self.modalities) <= set(MODALITIES),
             f'modalities must be a subset of {MODALITIES}, got {self.modalities}'),
            (self.depth_encoding in ('16UC1', '32FC1'),
             f"depth_encoding must be '16UC1' or '32FC1', got {self.depth_encoding!r}"),
            (self.thermal_width >= 0 and self.thermal_height >= 0 and self.thermal_fps >= 0,
             'thermal_width, thermal_height and thermal_fps must be >= 0 (0 = default)'),
            (self.event_substeps >= 1, f'event_substeps must be >= 1, got {self.event_substeps}'),
            (0 < self.rgb_exposure <= 1,
             f'rgb_exposure must be in (0, 1], got {self.rgb_exposure}'),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def thermal_size(self) -> tuple[int, int]:
        """(width, height) of the thermal camera."""
        return (self.thermal_width or max(8, self.width // 2),
                self.thermal_height or max(8, self.height // 2))

    @property
    def thermal_rate(self) -> float:
        """Thermal frame rate, Hz."""
        return self.thermal_fps or self.fps / 2.0


@dataclass(frozen=True)
class ObjectSpec:
    """One object's appearance and motion; its pose is a closed-form function of time."""

    target_id: int
    label: str
    shape: str  # 'ellipse', 'rect' or 'star'
    half: tuple[float, float]  # half extents in units of scale
    scale_px: float  # pixels per unit at depth z0
    z0: float  # metres
    z_amp: float  # relative depth oscillation
    z_period: float  # seconds
    z_phase: float
    start: tuple[float, float]  # centre at t = 0, pixels
    velocity: tuple[float, float]  # pixels per second
    bounds: tuple[float, float, float, float]  # centre reflects inside x_lo, x_hi, y_lo, y_hi
    theta0: float  # radians
    omega: float  # radians per second
    pattern: Pattern
    temperature_c: float
    distractor_of: Optional[int] = None

    def pose(self, t: float) -> tuple[float, float, float, float, float]:
        """Return (cx, cy, scale, theta, z) at time t seconds; scale in pixels per unit."""
        x_lo, x_hi, y_lo, y_hi = self.bounds
        cx = _reflect(self.start[0] + self.velocity[0] * t, x_lo, x_hi)
        cy = _reflect(self.start[1] + self.velocity[1] * t, y_lo, y_hi)
        z = self.z0 * (1.0 + self.z_amp * np.sin(2 * np.pi * t / self.z_period + self.z_phase))
        return cx, cy, self.scale_px * self.z0 / z, self.theta0 + self.omega * t, z

    def radius(self) -> float:
        """Bounding radius in units of scale."""
        return float(np.hypot(*self.half)) if self.shape == 'rect' else max(self.half)

    def inside(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Return whether object-local points (u, v) (units of scale) lie on the object."""
        a, b = self.half
        if self.shape == 'ellipse':
            return (u / a) ** 2 + (v / b) ** 2 <= 1.0
        if self.shape == 'rect':
            return (np.abs(u) <= a) & (np.abs(v) <= b)
        r = np.hypot(u, v)
        return r <= a * (0.62 + 0.38 * np.cos(5 * np.arctan2(v, u)))


def _reflect(x: float, lo: float, hi: float) -> float:
    """Fold x into [lo, hi] as a point bouncing between the two walls (a triangle wave)."""
    span = hi - lo
    if span <= 0:
        return lo
    m = (x - lo) % (2 * span)
    return lo + (m if m <= span else 2 * span - m)


def _rng(seed: int, purpose: int, index: int = 0) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, purpose, index])))


def make_objects(cfg: SceneConfig) -> list[ObjectSpec]:
    """
    Draw the scene's objects from the seed.

    Roles make the hard cases happen in short clips: object 1 moves slowly mid-frame; object 2
    is the nearest and sweeps across it horizontally (mutual occlusion); object 3 starts at the
    right edge heading out and bounces back (leaves and re-enters the view); the rest wander;
    distractors copy object 1's class, shape, texture and temperature.
    """
    rng = _rng(cfg.seed, _WORLD)
    w, h = cfg.width, cfg.height
    unit = 0.09 * min(w, h) * 1.6  # pixels per unit of a mid-depth object
    labels = list(CLASSES)
    specs = []
    for i in range(cfg.num_objects + cfg.num_distractors):
        target_id = i + 1
        copy_of = specs[0] if i >= cfg.num_objects else None
        label = copy_of.label if copy_of else labels[int(rng.integers(len(labels)))]
        shape, half, temp = CLASSES[label]
        pattern = copy_of.pattern if copy_of else Pattern.random(rng)
        role = i if i < cfg.num_objects else -1
        z0 = 0.9 if role == 1 else float(rng.uniform(1.3, 2.3))
        scale = unit * float(rng.uniform(0.8, 1.2)) * 1.6 / z0
        r = scale * max(half) * 1.3
        speed = float(rng.uniform(0.25, 0.45)) * w
        if role == 0:
            start, vel = (w * 0.5, h * 0.5), (speed * 0.15, speed * 0.1)
            bounds = (w * 0.35, w * 0.65, h * 0.4, h * 0.6)
        elif role == 1:
            start = (r, h * 0.5)
            vel = (speed * 1.6, float(rng.uniform(-0.05, 0.05)) * h)
            bounds = (r, w - r, h * 0.4, h * 0.6)
        elif role == 2:
            start, vel = (w - r * 0.5, h * float(rng.uniform(0.3, 0.7))), (speed * 1.5, 0.0)
            bounds = (r, w + 2.5 * r, r, h - r)
        else:
            start = (float(rng.uniform(r, w - r)), float(rng.uniform(r, h - r)))
            angle = float(rng.uniform(0, 2 * np.pi))
            vel = (speed * np.cos(angle), speed * np.sin(angle))
            bounds = (r, w - r, r, h - r)
        specs.append(ObjectSpec(
            target_id=target_id, label=label, shape=shape, half=half, scale_px=scale, z0=z0,
            z_amp=float(rng.uniform(0.1, 0.3)), z_period=float(rng.uniform(1.5, 4.0)),
            z_phase=float(rng.uniform(0, 2 * np.pi)), start=start, velocity=vel,
            bounds=bounds, theta0=float(rng.uniform(0, 2 * np.pi)),
            omega=float(rng.uniform(-1.5, 1.5)), pattern=pattern,
            temperature_c=temp + float(rng.uniform(-1.5, 1.5)),
            distractor_of=copy_of.target_id if copy_of else None))
    return specs


@dataclass
class _Layer:
    """One object rendered at one instant."""

    spec: ObjectSpec
    z: float
    full_mask: np.ndarray  # H x W bool, clipped to the image
    color: np.ndarray  # N x 3 linear RGB of the full_mask pixels, row-major order
    area_px: int  # pixel count of the whole object, out-of-image parts included
    full_box: tuple[float, float, float, float]


@dataclass
class WorldState:
    """The scene rendered at one instant, before sensor effects."""

    rgb: np.ndarray  # H x W x 3 float64 linear RGB in [0, 1], illumination applied
    ids: np.ndarray  # H x W int32: id of the visible object, 0 = background
    z: np.ndarray  # H x W float64 metres
    temperature: np.ndarray  # H x W float64 degrees Celsius
    layers: list[_Layer] = field(default_factory=list)


class SceneRenderer:
    """Renders the world of a SceneConfig at any time t (seconds since frame 0)."""

    def __init__(self, cfg: SceneConfig) -> None:
        self.cfg = cfg
        self.objects = make_objects(cfg)
        rng = _rng(cfg.seed, _STATIC)
        h, w = cfg.height, cfg.width
        self._background = background(rng, h, w)
        rows = np.arange(h, dtype=np.float64)[:, None]
        # A floor-like plane: far at the top of the image, near at the bottom.
        self._bg_z = np.broadcast_to(2.5 + 4.1 * (1.0 - rows / (h - 1)), (h, w)).copy()
        self._bg_temp = 18.5 + 3.0 * value_noise(rng, h, w, max(4, w // 5))
        # Surfaces that return no depth (dark, specular): fixed patches of the background.
        self.dropout = value_noise(rng, h, w, max(4, w // 10)) > 0.9
        self._light_phase = float(rng.uniform(0, 2 * np.pi))
        yy, xx = np.mgrid[0:h, 0:w]
        self._pix_x, self._pix_y = xx + 0.5, yy + 0.5  # pixel centres

    def illumination(self, t: float) -> np.ndarray:
        """Return the H x W multiplicative light level at time t."""
        cfg = self.cfg
        if not cfg.illumination_change:
            return np.ones((cfg.height, cfg.width))
        duration = cfg.num_frames / cfg.fps
        gain = 1.0 + 0.12 * np.sin(2 * np.pi * t / 2.5 + self._light_phase)
        if t >= duration / 2:
            gain *= 0.8  # a light switched off half-way
        slope = 0.15 * np.sin(2 * np.pi * t / 4.0)
        return gain * (1.0 + slope * (self._pix_x / cfg.width - 0.5))

    def _layer(self, spec: ObjectSpec, t: float) -> _Layer:
        cfg = self.cfg
        cx, cy, scale, theta, z = spec.pose(t)
        reach = spec.radius() * scale + 1.0
        x0, x1 = int(np.floor(cx - reach)), int(np.ceil(cx + reach))
        y0, y1 = int(np.floor(cy - reach)), int(np.ceil(cy + reach))
        # Sample the object on its own pixel lattice, beyond the image borders too, so its
        # full area and box are exact whether or not it is in view.
        gy, gx = np.mgrid[y0:y1 + 1, x0:x1 + 1]
        dx, dy = gx + 0.5 - cx, gy + 0.5 - cy
        c, s = np.cos(theta), np.sin(theta)
        u, v = (c * dx + s * dy) / scale, (-s * dx + c * dy) / scale
        inside = spec.inside(u, v)
        rows, cols = np.nonzero(inside)
        if len(rows):
            full_box = (float(x0 + cols.min()), float(y0 + rows.min()),
                        float(cols.max() - cols.min() + 1), float(rows.max() - rows.min() + 1))
        else:
            full_box = (0.0, 0.0, 0.0, 0.0)
        full = np.zeros((cfg.height, cfg.width), bool)
        iy0, iy1 = max(y0, 0), min(y1 + 1, cfg.height)
        ix0, ix1 = max(x0, 0), min(x1 + 1, cfg.width)
        if iy0 < iy1 and ix0 < ix1:
            sub = inside[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0]
            full[iy0:iy1, ix0:ix1] = sub
            uu = u[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0][sub]
            vv = v[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0][sub]
            color = spec.pattern.shade(uu, vv)
        else:
            color = np.zeros((0, 3))
        return _Layer(spec, z, full, color, int(inside.sum()), full_box)

    def render(self, t: float) -> WorldState:
        """Render the clean world at time t (seconds since frame 0)."""
        rgb = self._background.copy()
        ids = np.zeros(rgb.shape[:2], np.int32)
        z = self._bg_z.copy()
        temp = self._bg_temp.copy()
        layers = [self._layer(spec, t) for spec in self.objects]
        # Painter's algorithm, far to near: nearer objects occlude farther ones.
        for layer in sorted(layers, key=lambda lay: -lay.z):
            m = layer.full_mask
            rgb[m] = layer.color
            ids[m] = layer.spec.target_id
            z[m] = layer.z
            # A mild vertical gradient: warmer top (head, engine) than bottom.
            rows = np.nonzero(m)[0]
            temp[m] = layer.spec.temperature_c + 1.5 * (0.5 - rows / self.cfg.height)
        rgb = np.clip(rgb * self.illumination(t)[..., None], 0.0, 1.0)
        return WorldState(rgb, ids, z, temp, layers)


def luma(rgb_linear: np.ndarray) -> np.ndarray:
    """Return Rec. 709 luminance (H x W float) of linear RGB (H x W x 3)."""
    return rgb_linear @ np.array([0.2126, 0.7152, 0.0722])


def ground_truth(state: WorldState) -> list[ObjectTruth]:
    """Return the exact per-object ground truth of a rendered world state."""
    truths = []
    for layer in state.layers:
        visible = state.ids == layer.spec.target_id
        rows, cols = np.nonzero(visible)
        if len(rows):
            box = (float(cols.min()), float(rows.min()), float(cols.max() - cols.min() + 1),
                   float(rows.max() - rows.min() + 1))
        else:
            box = (0.0, 0.0, 0.0, 0.0)
        truths.append(ObjectTruth(
            target_id=layer.spec.target_id, label=layer.spec.label, box=box,
            visibility=len(rows) / layer.area_px if layer.area_px else 0.0,
            full_box=layer.full_box, mask=visible, full_mask=layer.full_mask))
    return truths


def rgb8(state: WorldState, rng: Optional[np.random.Generator],
         exposure: float = 1.0) -> np.ndarray:
    """
    Return the rgb8 image (H x W x 3 uint8): gamma 2.2, plus read noise when rng is given.

    `exposure` scales the linear light before the gamma curve (a darker scene; the read noise
    stays the same, so a dark image also has a lower signal-to-noise ratio).
    """
    img = 255.0 * (exposure * state.rgb) ** (1 / 2.2)
    if rng is not None:
        img = img + rng.normal(0.0, 2.0, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def depth_image(state: WorldState, cfg: SceneConfig, dropout: np.ndarray,
                rng: Optional[np.random.Generator]) -> np.ndarray:
    """
    Return depth registered to RGB, with the holes a structured-light sensor has.

    16UC1: uint16 millimetres, 0 = no return. 32FC1: float32 metres, NaN = no return,
    +inf = beyond depth_max_m (REP 117). Holes: the occlusion shadow a projector offset to the
    left casts on the far side of every depth edge (3 px), fixed dropout patches of the
    background, and everything beyond depth_max_m.
    """
    z = state.z.copy()
    if rng is not None:
        z = z + rng.normal(0.0, 1.0, z.shape) * (0.001 + 0.0015 * z * z)
    shadow = np.zeros(z.shape, bool)
    for d in (1, 2, 3):
        shadow[:, d:] |= state.z[:, d:] - state.z[:, :-d] > 0.25
    no_return = shadow | (dropout & (state.ids == 0))
    too_far = state.z > cfg.depth_max_m
    if cfg.depth_encoding == '16UC1':
        out = np.clip(np.round(z * 1000.0), 1, 65535).astype(np.uint16)
        out[no_return | too_far] = 0
        return out
    out = z.astype(np.float32)
    out[no_return] = np.nan
    out[too_far] = np.inf  # out of range wins: no sensor sees that far
    return out


def thermal_counts(state: WorldState, size: tuple[int, int],
                   rng: Optional[np.random.Generator]) -> np.ndarray:
    """
    Return the thermal image: uint16 counts = kelvin x 100 (scale 0.01, offset -273.15 to C).

    The temperature field is area-averaged onto the thermal camera's coarser grid (same field
    of view and optical centre as RGB), plus 50 mK of noise (a typical NETD).
    """
    tw, th = size
    h, w = state.temperature.shape
    # Area average: each thermal pixel covers a rectangle of RGB pixels (integral image).
    ys = np.round(np.linspace(0, h, th + 1)).astype(int)
    xs = np.round(np.linspace(0, w, tw + 1)).astype(int)
    integral = np.pad(state.temperature.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    total = (integral[ys[1:]][:, xs[1:]] - integral[ys[:-1]][:, xs[1:]]
             - integral[ys[1:]][:, xs[:-1]] + integral[ys[:-1]][:, xs[:-1]])
    area = np.diff(ys)[:, None] * np.diff(xs)[None, :]
    kelvin = total / area + 273.15
    if rng is not None:
        kelvin = kelvin + rng.normal(0.0, 0.05, kelvin.shape)
    return np.clip(np.round(kelvin * 100.0), 0, 65535).astype(np.uint16)


def thermal_tick(cfg: SceneConfig, index: int) -> Optional[float]:
    """
    Return the thermal capture time (s) for RGB frame `index`, or None if none falls in it.

    The thermal camera runs on its own clock (rate thermal_rate, phase 0.37 RGB periods); frame
    k gets the latest thermal capture in (t_{k-1}, t_k].
    """
    period, rate = 1.0 / cfg.fps, cfg.thermal_rate
    phase = 0.37 * period
    t_k, t_prev = index * period, (index - 1) * period
    j = np.floor((t_k - phase) * rate + 1e-9)
    if j < 0:
        return None
    tick = phase + j / rate
    return float(tick) if tick > t_prev + 1e-12 else None


def _frames(cfg: SceneConfig) -> Iterator[Frame]:
    renderer = SceneRenderer(cfg)
    period_s = 1.0 / cfg.fps
    mods = set(cfg.modalities)
    sim = None
    if 'events' in mods:
        noise = cfg.event_noise_hz if cfg.sensor_noise else 0.0
        sim = EventSimulator(cfg.height, cfg.width, cfg.event_threshold,
                             cfg.event_refractory_us, noise, _rng(cfg.seed, _EVENT_NOISE))
    for k in range(cfg.num_frames):
        t = k * period_s
        state = renderer.render(t)

        def noise(purpose: int, k: int = k) -> Optional[np.random.Generator]:
            return _rng(cfg.seed, purpose, k) if cfg.sensor_noise else None

        frame = Frame(index=k, stamp_ns=cfg.start_ns + round(t * 1e9),
                      rgb=rgb8(state, noise(_RGB_NOISE), cfg.rgb_exposure),
                      objects=ground_truth(state))
        if 'depth' in mods:
            frame.depth = depth_image(state, cfg, renderer.dropout, noise(_DEPTH_NOISE))
        if 'thermal' in mods:
            tick = thermal_tick(cfg, k)
            if tick is not None:
                th_state = state if abs(tick - t) < 1e-12 else renderer.render(tick)
                frame.thermal = thermal_counts(th_state, cfg.thermal_size, noise(_THERMAL_NOISE))
                frame.thermal_stamp_ns = cfg.start_ns + round(tick * 1e9)
        if sim is not None:
            frame.events = _frame_events(sim, renderer, state, k, period_s, cfg.event_substeps)
        yield frame


def _frame_events(sim: EventSimulator, renderer: SceneRenderer, state: WorldState, k: int,
                  period_s: float, substeps: int) -> np.ndarray:
    """Run the event simulator over frame k's interval; the last sample is the frame itself."""
    t_us = round(k * period_s * 1e6)
    if k == 0:
        sim.reset(log_intensity(luma(state.rgb)), t_us)
        return np.zeros(0, EVENT_DTYPE)
    chunks = []
    for j in range(1, substeps + 1):
        tj = (k - 1 + j / substeps) * period_s
        img = state.rgb if j == substeps else renderer.render(tj).rgb
        chunks.append(sim.step(log_intensity(luma(img)), round(tj * 1e6)))
    return np.concatenate(chunks)


def generate_scene(cfg: SceneConfig) -> Sequence:
    """Return the scene of `cfg` as a Sequence whose frames are rendered on demand."""
    objects = [{'target_id': o.target_id, 'label': o.label, 'shape': o.shape,
                'temperature_c': round(o.temperature_c, 3), 'distractor_of': o.distractor_of}
               for o in make_objects(cfg)]
    tw, th = cfg.thermal_size
    rgb_cam = Camera.default(cfg.width, cfg.height, RGB_FRAME_ID)
    thermal_cam = (Camera.default(tw, th, THERMAL_FRAME_ID) if 'thermal' in cfg.modalities
                   else None)
    return Sequence(
        name=f'synth_{cfg.seed}', rgb_camera=rgb_cam, thermal_camera=thermal_cam,
        modalities=tuple(m for m in MODALITIES if m == 'rgb' or m in cfg.modalities),
        num_frames=cfg.num_frames, start_ns=cfg.start_ns,
        frame_period_ns=round(1e9 / cfg.fps),
        metadata={'generator': 'sata_ros.data.scene', 'config': asdict(cfg),
                  'objects': objects, 'thermal_scale': 0.01, 'thermal_offset': -273.15,
                  'thermal_unit': 'celsius'},
        frames=lambda: _frames(cfg))
