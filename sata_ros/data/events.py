"""
Event-camera simulation from log-intensity changes between sub-frame renderings.

A DVS pixel fires when its log intensity has moved by the contrast threshold C since its last
event: ON (p = 1) when brighter, OFF (p = 0) when darker. This simulator follows that model on a
sequence of sub-frame intensity images: between two samples it emits one event per threshold
crossing, at the time the (linearly interpolated) log intensity crosses the level, and then
suppresses a pixel for a refractory period after each event. Crossings that fall inside the
refractory period are lost, as on a real sensor. Optional background-activity noise adds
spurious events at a per-pixel rate.
"""

from typing import Optional

import numpy as np

from sata_ros.data.sequence import EVENT_DTYPE

# Intensities are clamped below by this before the log, as the photoreceptor's dark current
# does: it keeps black pixels from producing floods of events from tiny absolute changes.
LOG_EPS = 1e-2


def log_intensity(luma: np.ndarray) -> np.ndarray:
    """Return log(max(luma, LOG_EPS)) as float64; `luma` is linear intensity in [0, 1]."""
    return np.log(np.maximum(luma.astype(np.float64), LOG_EPS))


class EventSimulator:
    """
    Per-pixel DVS state over one stream.

    Args:
        height, width: sensor size in pixels.
        contrast_threshold: log-intensity step C per event (typical sensors 0.15 - 0.5).
        refractory_us: microseconds a pixel stays silent after firing.
        noise_rate_hz: background-activity events per pixel per second (0 = none).
        rng: generator for noise events; required when noise_rate_hz > 0.

    """

    def __init__(self, height: int, width: int, contrast_threshold: float = 0.25,
                 refractory_us: int = 500, noise_rate_hz: float = 0.0,
                 rng: Optional[np.random.Generator] = None) -> None:
        if contrast_threshold <= 0:
            raise ValueError(f'contrast_threshold must be > 0, got {contrast_threshold}')
        if refractory_us < 0:
            raise ValueError(f'refractory_us must be >= 0, got {refractory_us}')
        if noise_rate_hz > 0 and rng is None:
            raise ValueError('noise_rate_hz > 0 needs an rng')
        self.shape = (height, width)
        self.threshold = float(contrast_threshold)
        self.refractory_us = int(refractory_us)
        self.noise_rate_hz = float(noise_rate_hz)
        self._rng = rng
        self._ref: Optional[np.ndarray] = None  # log intensity at each pixel's last event
        self._prev: Optional[np.ndarray] = None  # log intensity of the previous sample
        self._prev_t = 0
        self._last_fire = np.full(self.shape, np.iinfo(np.int64).min // 2, np.int64)

    def reset(self, log_img: np.ndarray, t_us: int) -> None:
        """Start from `log_img` (H x W float64 log intensity) at time `t_us`, with no events."""
        self._ref = log_img.copy()
        self._prev = log_img.copy()
        self._prev_t = int(t_us)

    def step(self, log_img: np.ndarray, t_us: int) -> np.ndarray:
        """
        Advance to the sample `log_img` taken at `t_us`; return the events in (prev, t_us].

        Returns:
            EVENT_DTYPE array sorted by time (ties by y, then x); t in microseconds.

        """
        if self._ref is None:
            self.reset(log_img, t_us)
            return np.zeros(0, EVENT_DTYPE)
        t0, t1 = self._prev_t, int(t_us)
        if t1 <= t0:
            raise ValueError(f'event samples must move forward in time: {t1} <= {t0} us')
        diff = log_img - self._ref
        n_cross = np.floor(np.abs(diff) / self.threshold).astype(np.int64)
        ys, xs = np.nonzero(n_cross)
        chunks = [self._crossing_events(ys, xs, n_cross[ys, xs], log_img, t0, t1)]
        if self.noise_rate_hz > 0:
            chunks.append(self._noise_events(t0, t1))
        self._prev = log_img.copy()
        self._prev_t = t1
        events = np.concatenate(chunks)
        return events[np.lexsort((events['x'], events['y'], events['t']))]

    def _crossing_events(self, ys: np.ndarray, xs: np.ndarray, counts: np.ndarray,
                         log_img: np.ndarray, t0: int, t1: int) -> np.ndarray:
        """Emit one event per threshold crossing at the pixels (ys, xs)."""
        if len(ys) == 0:
            return np.zeros(0, EVENT_DTYPE)
        ref = self._ref[ys, xs]
        start = self._prev[ys, xs]
        sign = np.sign(log_img[ys, xs] - ref)
        # Crossing k (1-based) of a pixel is at level ref + k*C*sign; its time is where the
        # straight line from the previous sample to this one reaches that level.
        pix = np.repeat(np.arange(len(ys)), counts)
        k = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + 1
        level = ref[pix] + k * self.threshold * sign[pix]
        span = log_img[ys, xs][pix] - start[pix]
        with np.errstate(divide='ignore', invalid='ignore'):
            frac = np.where(span != 0, (level - start[pix]) / span, 1.0)
        frac = np.clip(frac, 0.0, 1.0)
        t = t0 + np.maximum(1, np.round(frac * (t1 - t0))).astype(np.int64)
        t = np.minimum(t, t1)
        # Every crossing moves the reference, fired or not: a crossing swallowed by the
        # refractory period is lost, as on the sensor.
        self._ref[ys, xs] = ref + counts * self.threshold * sign
        keep = self._apply_refractory(ys[pix], xs[pix], k, t)
        out = np.zeros(int(keep.sum()), EVENT_DTYPE)
        out['x'], out['y'] = xs[pix][keep], ys[pix][keep]
        out['t'] = t[keep]
        out['p'] = (sign[pix][keep] > 0).astype(np.uint8)
        return out

    def _apply_refractory(self, ys: np.ndarray, xs: np.ndarray, k: np.ndarray,
                          t: np.ndarray) -> np.ndarray:
        """
        Return a keep-mask over candidate events and record the kept ones' times.

        `k` is each candidate's 1-based crossing index within its pixel; a pixel's crossings
        are in time order, so handling the k-th crossings of all pixels at once, for
        k = 1, 2, ..., respects each pixel's own event sequence.
        """
        keep = np.zeros(len(t), bool)
        last = self._last_fire
        for kk in range(1, int(k.max(initial=0)) + 1):
            sel = np.flatnonzero(k == kk)
            y, x = ys[sel], xs[sel]
            ok = t[sel] - last[y, x] >= self.refractory_us
            last[y[ok], x[ok]] = t[sel][ok]
            keep[sel[ok]] = True
        return keep

    def _noise_events(self, t0: int, t1: int) -> np.ndarray:
        """Background activity: Poisson events at random pixels, times and polarities."""
        h, w = self.shape
        n = self._rng.poisson(self.noise_rate_hz * h * w * (t1 - t0) * 1e-6)
        out = np.zeros(n, EVENT_DTYPE)
        out['x'] = self._rng.integers(0, w, n)
        out['y'] = self._rng.integers(0, h, n)
        out['t'] = self._rng.integers(t0 + 1, t1 + 1, n)
        out['p'] = self._rng.integers(0, 2, n)
        return out
