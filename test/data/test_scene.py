"""Synthetic scenes: determinism, exact ground truth, the hard cases, and each sensor model."""

import dataclasses

import numpy as np
import pytest

from sata_ros.data.events import log_intensity
from sata_ros.data.scene import (generate_scene, ground_truth, luma, SceneConfig,
                                 SceneRenderer, thermal_tick)
from sata_ros.data.sequence import Frame, hold_thermal, pair_thermal

SMALL = SceneConfig(seed=5, num_frames=8, width=64, height=48)
CLEAN = dataclasses.replace(SMALL, sensor_noise=False, illumination_change=False)


def _frames(cfg):
    return list(generate_scene(cfg))


def test_same_seed_same_frames_different_seed_different_scene():
    a, b = _frames(SMALL), _frames(SMALL)
    other = _frames(dataclasses.replace(SMALL, seed=6))
    for fa, fb in zip(a, b):
        assert np.array_equal(fa.rgb, fb.rgb) and np.array_equal(fa.depth, fb.depth)
        assert np.array_equal(fa.events, fb.events)
        assert (fa.thermal is None and fb.thermal is None) or np.array_equal(fa.thermal,
                                                                             fb.thermal)
        assert [o.box for o in fa.objects] == [o.box for o in fb.objects]
    assert not np.array_equal(a[0].rgb, other[0].rgb)
    assert [o.box for o in a[0].objects] != [o.box for o in other[0].objects]


def test_ground_truth_is_exactly_what_was_rendered():
    renderer = SceneRenderer(CLEAN)
    for t in (0.0, 0.1, 0.2):
        state = renderer.render(t)
        nearer_first = sorted(state.layers, key=lambda lay: lay.z)
        covered = np.zeros(state.ids.shape, bool)
        truth = {o.target_id: o for o in ground_truth(state)}
        for layer in nearer_first:
            obj = truth[layer.spec.target_id]
            expected_visible = layer.full_mask & ~covered
            covered |= layer.full_mask
            assert np.array_equal(obj.mask, expected_visible)
            assert np.array_equal(obj.full_mask, layer.full_mask)
            # The rendered colours in the visible mask are the object's own texture.
            colour = np.zeros(state.rgb.shape)
            colour[layer.full_mask] = layer.color
            assert np.allclose(state.rgb[obj.mask], colour[obj.mask])
            rows, cols = np.nonzero(obj.mask)
            if len(rows):
                assert obj.box == (cols.min(), rows.min(), cols.max() - cols.min() + 1,
                                   rows.max() - rows.min() + 1)
            else:
                assert obj.box == (0.0, 0.0, 0.0, 0.0)
            assert obj.visibility == pytest.approx(obj.mask.sum() / layer.area_px)
        # The background shows exactly where no object is.
        assert np.array_equal(state.ids == 0, ~covered)


def test_frame_instance_mask_matches_visible_masks():
    frame = _frames(SMALL)[3]
    labels = frame.instance_mask()
    for obj in frame.objects:
        assert np.array_equal(labels == obj.target_id, obj.mask)
        assert frame.find(obj.target_id) is obj
    assert frame.find(max(o.target_id for o in frame.objects) + 1) is None


def test_hard_cases_happen_occlusion_exit_reentry_scale_distractor():
    cfg = SceneConfig(seed=0, num_frames=45, width=96, height=72,
                      modalities=('rgb',), sensor_noise=False)
    frames = _frames(cfg)
    by_id = {i: [f.objects[i - 1] for f in frames] for i in range(1, 6)}
    # Object 1 is partly hidden by the nearer object 2 while fully inside the image.
    occluded = [o for o in by_id[1] if 0 < o.visibility < 0.9 and
                o.full_mask.sum() == round(o.mask.sum() / o.visibility)]
    assert occluded, 'object 1 is never occluded'
    # Object 3 leaves the view completely and comes back.
    vis3 = [o.visibility for o in by_id[3]]
    first_gone = next(i for i, v in enumerate(vis3) if v == 0.0)
    assert max(vis3[first_gone:]) > 0.5, 'object 3 never re-enters'
    # Apparent size changes as objects approach and recede.
    areas = [o.full_box[2] * o.full_box[3] for o in by_id[4]]
    assert max(areas) > 1.2 * min(areas)
    # Object 5 is a look-alike of object 1.
    spec = generate_scene(cfg).metadata['objects']
    assert spec[4]['distractor_of'] == 1 and spec[4]['label'] == spec[0]['label']
    renderer = SceneRenderer(cfg)
    assert renderer.objects[4].pattern == renderer.objects[0].pattern


def test_depth_16uc1_is_millimetres_with_holes():
    cfg = dataclasses.replace(CLEAN, depth_max_m=5.0)
    renderer = SceneRenderer(cfg)
    frame = _frames(cfg)[0]
    z = renderer.render(0.0).z
    depth = frame.depth
    assert depth.dtype == np.uint16 and depth.shape == (48, 64)
    valid = depth > 0
    assert np.array_equal(depth[valid], np.round(z[valid] * 1000).astype(np.uint16))
    assert np.all(depth[z > 5.0] == 0), 'beyond max range must be a hole'
    assert 0.02 < (~valid & (z <= 5.0)).mean() < 0.5, 'expected some holes in range'


def test_depth_32fc1_is_metres_with_nan_and_inf():
    cfg = dataclasses.replace(CLEAN, depth_encoding='32FC1', depth_max_m=5.0)
    z = SceneRenderer(cfg).render(0.0).z
    depth = _frames(cfg)[0].depth
    assert depth.dtype == np.float32
    assert np.all(np.isposinf(depth[z > 5.0]))
    finite = np.isfinite(depth)
    assert np.allclose(depth[finite], z[finite], atol=1e-6)
    assert np.isnan(depth).any()


def test_thermal_counts_rate_and_temperatures():
    cfg = dataclasses.replace(CLEAN, num_frames=10, modalities=('rgb', 'thermal'))
    frames = _frames(cfg)
    with_thermal = [f for f in frames if f.thermal is not None]
    assert len(with_thermal) == 5, 'thermal runs at half the RGB rate'
    period = 10**9 / cfg.fps
    for f in with_thermal:
        assert f.thermal.dtype == np.uint16 and f.thermal.shape == (24, 32)
        assert f.stamp_ns - period < f.thermal_stamp_ns <= f.stamp_ns
        assert f.thermal_stamp_ns != f.stamp_ns, 'thermal runs on its own clock'
    celsius = with_thermal[0].thermal.astype(float) * 0.01 - 273.15
    assert 17.0 < np.median(celsius) < 23.0, 'background near room temperature'
    hottest = max(SceneRenderer(cfg).objects, key=lambda o: o.temperature_c).temperature_c
    assert celsius.max() == pytest.approx(hottest, abs=1.0)


def test_thermal_ticks_fall_in_their_frame_interval():
    cfg = SceneConfig(fps=30.0, thermal_fps=9.0)
    ticks = [thermal_tick(cfg, k) for k in range(60)]
    got = [t for t in ticks if t is not None]
    assert len(got) == 18  # 9 Hz over 2 s
    for k, t in enumerate(ticks):
        if t is not None:
            assert (k - 1) / 30 < t <= k / 30


def test_events_only_where_intensity_changed():
    cfg = dataclasses.replace(CLEAN, num_frames=4, modalities=('rgb', 'events'))
    frames = _frames(cfg)
    renderer = SceneRenderer(cfg)
    assert len(frames[0].events) == 0
    for k in range(1, cfg.num_frames):
        times = [(k - 1 + j / cfg.event_substeps) / cfg.fps
                 for j in range(cfg.event_substeps + 1)]
        logs = [log_intensity(luma(renderer.render(t).rgb)) for t in times]
        changed = np.zeros(logs[0].shape, bool)
        for a, b in zip(logs, logs[1:]):
            changed |= a != b
        ev = frames[k].events
        assert len(ev) > 0
        assert changed[ev['y'], ev['x']].all(), 'an event fired where nothing changed'
        big = np.abs(logs[-1] - logs[0]) >= 2 * cfg.event_threshold
        fired = np.zeros(changed.shape, bool)
        fired[ev['y'], ev['x']] = True
        assert fired[big].all(), 'a large change produced no event'
        lo, hi = (k - 1) / cfg.fps * 1e6, k / cfg.fps * 1e6
        assert ev['t'].min() > lo and ev['t'].max() <= round(hi)


def test_config_rejects_bad_values_with_the_field_name():
    with pytest.raises(ValueError, match='num_frames'):
        SceneConfig(num_frames=0)
    with pytest.raises(ValueError, match="depth_encoding must be '16UC1' or '32FC1'"):
        SceneConfig(depth_encoding='16UC3')
    with pytest.raises(ValueError, match='modalities must be a subset'):
        SceneConfig(modalities=('rgb', 'lidar'))
    with pytest.raises(ValueError, match=r'rgb_exposure must be in \(0, 1\]'):
        SceneConfig(rgb_exposure=0.0)


def test_low_exposure_darkens_rgb_only():
    dark_cfg = dataclasses.replace(CLEAN, rgb_exposure=0.05)
    normal, dark = _frames(CLEAN), _frames(dark_cfg)
    for fn, fd in zip(normal, dark):
        # gamma 2.2: 0.05 of the light is about 0.26 of the pixel value.
        ratio = fd.rgb.mean() / fn.rgb.mean()
        assert 0.2 < ratio < 0.32
        assert np.array_equal(fn.depth, fd.depth) and np.array_equal(fn.events, fd.events)
        assert (fn.thermal is None) == (fd.thermal is None)
        assert fn.thermal is None or np.array_equal(fn.thermal, fd.thermal)
        assert [o.box for o in fn.objects] == [o.box for o in fd.objects]


def test_hold_thermal_fills_the_frames_between_thermal_ticks():
    frames = _frames(SMALL)
    held = list(hold_thermal(frames))
    assert any(f.thermal is None for f in frames)
    last = None
    for raw, out in zip(frames, held):
        if raw.thermal is not None:
            last = raw
            assert out is raw
        elif last is not None:
            assert out.thermal is last.thermal and out.thermal_stamp_ns == last.thermal_stamp_ns
            assert out.rgb is raw.rgb and out.stamp_ns == raw.stamp_ns


def test_pair_thermal_takes_the_nearest_image_within_the_tolerance_earlier_on_ties():
    rgb = np.zeros((2, 2, 3), np.uint8)
    images = {stamp: np.full((2, 2), stamp, np.uint16) for stamp in (95, 130, 300)}
    frames = [Frame(k, stamp, rgb) for k, stamp in enumerate((100, 112, 200, 330))]
    for frame in frames:  # each image rides on the frame it arrived before, as in a bag
        if frame.stamp_ns == 100:
            frame.thermal, frame.thermal_stamp_ns = images[95], 95
        if frame.stamp_ns == 200:
            frame.thermal, frame.thermal_stamp_ns = images[130], 130
        if frame.stamp_ns == 330:
            frame.thermal, frame.thermal_stamp_ns = images[300], 300
    paired = pair_thermal(frames, tolerance_ns=30)
    # 100: 95 (5 away); 112: 95 (17 away) beats 130 (18); 200: nothing within 30 (130 and
    # 300 are 70 and 100 away); 330: 300 (30 away: the tolerance is inclusive).
    assert [f.thermal_stamp_ns for f in paired] == [95, 95, None, 300]
    assert paired[2].thermal is None and paired[3].thermal is images[300]
    later = pair_thermal([Frame(0, 120, rgb, thermal=images[95], thermal_stamp_ns=95),
                          Frame(1, 140, rgb, thermal=images[130], thermal_stamp_ns=130)], 30)
    assert later[0].thermal_stamp_ns == 130  # a later image 10 away beats an earlier 25 away
    even = pair_thermal([Frame(0, 100, rgb, thermal=images[95], thermal_stamp_ns=90),
                         Frame(1, 101, rgb, thermal=images[130], thermal_stamp_ns=110)], 30)
    assert even[0].thermal_stamp_ns == 90  # 10 vs 10: the earlier image
    assert [f.rgb is rgb for f in paired] == [True] * 4
