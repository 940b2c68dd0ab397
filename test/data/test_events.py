"""EventSimulator: threshold crossings, timing, polarity and the refractory period."""

import numpy as np
import pytest

from sata_ros.data.events import EventSimulator, LOG_EPS, log_intensity


def _one_pixel(value: float) -> np.ndarray:
    return np.full((1, 1), value)


def test_ramp_up_gives_on_events_at_crossing_times():
    sim = EventSimulator(1, 1, contrast_threshold=0.25, refractory_us=0)
    sim.reset(_one_pixel(0.0), t_us=1000)
    ev = sim.step(_one_pixel(0.6), t_us=1600)
    # Crossings at levels 0.25 and 0.5 of a linear 0 -> 0.6 ramp over 600 us: at 250 and 500 us.
    assert ev['t'].tolist() == [1250, 1500]
    assert ev['p'].tolist() == [1, 1]
    assert ev['x'].tolist() == [0, 0] and ev['y'].tolist() == [0, 0]
    # The reference moved to 0.5, so 0.1 more does not fire, and 0.15 more does (at 0.75).
    assert len(sim.step(_one_pixel(0.7), t_us=1700)) == 0
    again = sim.step(_one_pixel(0.8), t_us=1800)
    assert again['t'].tolist() == [1750] and again['p'].tolist() == [1]


def test_darkening_gives_off_events():
    sim = EventSimulator(1, 2, contrast_threshold=0.2, refractory_us=0)
    sim.reset(np.zeros((1, 2)), 0)
    ev = sim.step(np.array([[-0.45, 0.0]]), 100)
    assert ev['p'].tolist() == [0, 0] and ev['x'].tolist() == [0, 0]
    assert ev['t'].tolist() == [44, 89]  # levels -0.2, -0.4 of a 0 -> -0.45 ramp


def test_refractory_period_drops_crossings_and_they_stay_lost():
    sim = EventSimulator(1, 1, contrast_threshold=0.1, refractory_us=300)
    sim.reset(_one_pixel(0.0), 0)
    ev = sim.step(_one_pixel(0.35), 100)  # 3 crossings within 100 us: only the first fires
    assert ev['t'].tolist() == [29]
    assert len(sim.step(_one_pixel(0.35), 200)) == 0
    later = sim.step(_one_pixel(0.46), 1000)  # past the refractory period: fires again
    # Level 0.4 on the 0.35 -> 0.46 line from t=200 to t=1000: 200 + 800 * 0.05 / 0.11.
    assert later['t'].tolist() == [564] and later['p'].tolist() == [1]


def test_no_change_no_events_and_time_must_advance():
    sim = EventSimulator(4, 5)
    img = np.random.default_rng(0).random((4, 5))
    assert len(sim.step(img, 0)) == 0  # first sample only initialises
    assert len(sim.step(img, 10)) == 0
    with pytest.raises(ValueError, match='forward in time'):
        sim.step(img, 10)


def test_events_are_sorted_by_time():
    sim = EventSimulator(8, 8, contrast_threshold=0.1, refractory_us=0)
    rng = np.random.default_rng(1)
    sim.reset(np.zeros((8, 8)), 0)
    ev = sim.step(rng.uniform(-1, 1, (8, 8)), 1000)
    assert len(ev) > 64
    assert np.all(np.diff(ev['t']) >= 0)


def test_background_activity_is_seeded_and_bounded_in_time():
    def run(seed):
        sim = EventSimulator(20, 30, noise_rate_hz=50.0, rng=np.random.default_rng(seed))
        sim.reset(np.zeros((20, 30)), 0)
        return sim.step(np.zeros((20, 30)), 100_000)

    a, b, c = run(3), run(3), run(4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    # 600 px * 50 Hz * 0.1 s = 3000 expected events.
    assert 2700 < len(a) < 3300
    assert a['t'].min() >= 1 and a['t'].max() <= 100_000


def test_invalid_settings_are_rejected():
    with pytest.raises(ValueError, match='contrast_threshold'):
        EventSimulator(2, 2, contrast_threshold=0)
    with pytest.raises(ValueError, match='needs an rng'):
        EventSimulator(2, 2, noise_rate_hz=1.0)


def test_log_intensity_clamps_darkness():
    out = log_intensity(np.array([0.0, LOG_EPS, 1.0]))
    assert out.tolist() == [np.log(LOG_EPS), np.log(LOG_EPS), 0.0]
