"""
Modality encodings: exact values computed by hand, validity masks, and the error cases.

Normalised values are (unit - mean) / std with the ImageNet mean (0.485, 0.456, 0.406) and std
(0.229, 0.224, 0.225); each literal below carries the arithmetic that gives it.
"""

import numpy as np
import pytest

from sata_ros.data.modality_encoding import (
    encode, encode_depth, encode_event_image, encode_events, encode_rgb, encode_thermal,
    FILL_VALUE, polarity_histogram, render_event_image, select_events, time_surface, to_rgb8,
    voxel_grid)
from sata_ros.data.sequence import EVENT_DTYPE

TOL = {'rtol': 1e-6, 'atol': 1e-6}  # float32 outputs


def _events(rows: list[tuple[int, int, int, int]]) -> np.ndarray:
    """Build an EVENT_DTYPE array from (x, y, t_us, p) rows."""
    return np.array(rows, EVENT_DTYPE)


def _check_encoded(enc, height: int, width: int) -> None:
    assert enc.image.shape == (3, height, width) and enc.image.dtype == np.float32
    assert enc.valid.shape == (height, width) and enc.valid.dtype == bool
    assert np.isfinite(enc.image).all()


# --- RGB ---------------------------------------------------------------------------------------

def test_rgb_known_pixel():
    rgb = np.zeros((1, 2, 3), np.uint8)
    rgb[0, 0] = (255, 0, 128)
    enc = encode_rgb(rgb)
    _check_encoded(enc, 1, 2)
    # (1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (128/255 - 0.406) / 0.225
    np.testing.assert_allclose(enc.image[:, 0, 0], [2.2489083, -2.0357143, 0.4264924], **TOL)
    # Black: -mean / std.
    np.testing.assert_allclose(enc.image[:, 0, 1], [-2.1179039, -2.0357143, -1.8044444], **TOL)
    assert enc.valid.all()


def test_rgb_round_trips_through_to_rgb8():
    rgb = np.random.default_rng(3).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    assert np.array_equal(to_rgb8(encode_rgb(rgb).image), rgb)


@pytest.mark.parametrize('bad', [np.zeros((2, 2, 3), np.float32), np.zeros((2, 2), np.uint8),
                                 np.zeros((2, 2, 4), np.uint8)])
def test_rgb_rejects_other_types(bad):
    with pytest.raises(ValueError, match='H x W x 3 uint8'):
        encode_rgb(bad)


# --- Depth -------------------------------------------------------------------------------------

# Inverse depth with min_m 0.5, max_m 5: unit = (1/d - 0.2) / (2 - 0.2), so 0.5 m -> 1,
# 1 m -> 0.8/1.8 = 0.4444, 2 m -> 0.3/1.8 = 0.1667, 2.5 m -> 0.2/1.8 = 0.1111, >= 5 m -> 0.
UNIT_CH0 = {1.0: 2.2489083,  # (1 - 0.485) / 0.229
            0.8 / 1.8: -0.1770985,  # (0.44444 - 0.485) / 0.229
            0.3 / 1.8: -1.3901019,  # (0.16667 - 0.485) / 0.229
            0.2 / 1.8: -1.6327026,  # (0.11111 - 0.485) / 0.229
            0.0: -2.1179039}  # -0.485 / 0.229


def test_depth_16uc1_mask_and_values():
    mm = np.array([[0, 500, 1000], [2000, 5000, 8000]], np.uint16)
    enc = encode_depth(mm, min_m=0.5, max_m=5.0)
    _check_encoded(enc, 2, 3)
    assert enc.valid.tolist() == [[False, True, True], [True, True, True]]
    expected = [[FILL_VALUE, UNIT_CH0[1.0], UNIT_CH0[0.8 / 1.8]],
                [UNIT_CH0[0.3 / 1.8], UNIT_CH0[0.0], UNIT_CH0[0.0]]]  # 8 m clips to 5 m
    np.testing.assert_allclose(enc.image[0], expected, **TOL)
    # Grey replicated: channel 1 of 1 m is (0.44444 - 0.456) / 0.224; invalid is 0 everywhere.
    assert enc.image[1, 0, 2] == pytest.approx(-0.0515873, abs=1e-6)
    assert (enc.image[:, 0, 0] == 0.0).all()


def test_depth_32fc1_nan_inf_and_non_positive_are_invalid():
    metres = np.array([[np.nan, np.inf, -np.inf], [1.0, 0.0, 2.5]], np.float32)
    enc = encode_depth(metres, min_m=0.5, max_m=5.0)
    _check_encoded(enc, 2, 3)
    assert enc.valid.tolist() == [[False, False, False], [True, False, True]]
    np.testing.assert_allclose(enc.image[0], [[0, 0, 0], [UNIT_CH0[0.8 / 1.8], 0,
                                                          UNIT_CH0[0.2 / 1.8]]], **TOL)
    # Channel 2 of 2.5 m: (0.11111 - 0.406) / 0.225.
    assert enc.image[2, 1, 2] == pytest.approx(-1.3106173, abs=1e-6)


def test_depth_explicit_encoding_and_unit_and_mappings():
    mm = np.array([[1000]], np.uint16)
    # The same depth through both encodings gives the same result.
    np.testing.assert_array_equal(encode_depth(mm, '16UC1').image,
                                  encode_depth(np.array([[1.0]], np.float32), '32FC1').image)
    # 1000 counts of 0.5 mm are 0.5 m: the near end of the window, unit 1.
    assert encode_depth(mm, unit_m=0.0005, min_m=0.5, max_m=5.0).image[0, 0, 0] == \
        pytest.approx(2.2489083, abs=1e-6)
    # log: log(5 / 1) / log(5 / 0.5) = 0.69897 -> (0.69897 - 0.485) / 0.229 = 0.9343668.
    assert encode_depth(mm, min_m=0.5, max_m=5.0, mapping='log').image[0, 0, 0] == \
        pytest.approx(0.9343668, abs=1e-6)
    # linear: (5 - 1) / 4.5 = 0.88889 -> (0.88889 - 0.485) / 0.229 = 1.7637069.
    assert encode_depth(mm, min_m=0.5, max_m=5.0, mapping='linear').image[0, 0, 0] == \
        pytest.approx(1.7637069, abs=1e-6)


@pytest.mark.parametrize('depth, encoding, words', [
    (np.zeros((2, 2), np.float64), None, 'float64'),
    (np.zeros((2, 2), np.int32), None, 'int32'),
    (np.zeros((2, 2), np.float32), '16UC1', 'float32'),
    (np.zeros((2, 2), np.uint16), 'mono16', 'mono16'),
])
def test_depth_rejects_unknown_encodings(depth, encoding, words):
    with pytest.raises(ValueError, match=f'{words}.*16UC1.*32FC1'):
        encode_depth(depth, encoding)


def test_depth_rejects_bad_window_mapping_and_shape():
    mm = np.ones((2, 2), np.uint16)
    with pytest.raises(ValueError, match='min_m < max_m'):
        encode_depth(mm, min_m=2.0, max_m=1.0)
    with pytest.raises(ValueError, match="unknown depth mapping 'sqrt'.*inverse"):
        encode_depth(mm, mapping='sqrt')
    with pytest.raises(ValueError, match='H x W'):
        encode_depth(np.ones((2, 2, 1), np.uint16))


# --- Thermal -----------------------------------------------------------------------------------

def test_thermal_counts_to_celsius_window():
    counts = np.array([[29315, 0], [27315, 41315]], np.uint16)
    enc = encode_thermal(counts, scale=0.01, offset=-273.15)
    _check_encoded(enc, 2, 2)
    assert enc.valid.tolist() == [[True, False], [True, True]]
    # 29315 * 0.01 - 273.15 = 20 C -> (20 + 20) / 140 = 0.285714 -> (0.285714 - 0.485) / 0.229;
    # 0 C -> 20 / 140 = 0.142857; 140 C clips to 1.
    np.testing.assert_allclose(enc.image[0], [[-0.8702433, 0.0], [-1.4940736, 2.2489083]],
                               **TOL)
    np.testing.assert_allclose(enc.image[:, 0, 0], [-0.8702433, -0.7602041, -0.5346032], **TOL)
    # The defaults are the same Lepton TLinear scaling.
    np.testing.assert_array_equal(encode_thermal(counts).image, enc.image)


def test_thermal_invalid_counts_and_window():
    counts = np.array([[0, 29315]], np.uint16)
    assert encode_thermal(counts, invalid_counts=None).valid.all()
    # 20 C in a [0, 40] C window is 0.5: (0.5 - 0.485) / 0.229 = 0.0655022.
    assert encode_thermal(counts, min_c=0.0, max_c=40.0).image[0, 0, 1] == \
        pytest.approx(0.0655022, abs=1e-6)


def test_thermal_uint8_grey():
    grey = np.array([[51, 255]], np.uint8)
    enc = encode_thermal(grey)
    _check_encoded(enc, 1, 2)
    assert enc.valid.all()
    # 51 / 255 = 0.2 -> (0.2 - 0.485) / 0.229.
    np.testing.assert_allclose(enc.image[0], [[-1.2445415, 2.2489083]], **TOL)


def test_thermal_errors():
    with pytest.raises(ValueError, match='uint8 image is already AGC'):
        encode_thermal(np.zeros((2, 2), np.uint8), scale=0.01)
    with pytest.raises(ValueError, match='float32.*uint16.*uint8'):
        encode_thermal(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match='min_c < max_c'):
        encode_thermal(np.zeros((2, 2), np.uint16), min_c=30.0, max_c=30.0)


# --- Events ------------------------------------------------------------------------------------

def test_voxel_grid_bilinear_in_time():
    # Window [0, 1000] us, 3 bins: t* = 2 * t / 1000.
    ev = _events([(0, 0, 250, 1),    # t* = 0.5: +0.5 to bin 0, +0.5 to bin 1
                  (0, 0, 900, 0),    # t* = 1.8: -0.2 to bin 1, -0.8 to bin 2
                  (2, 1, 1000, 1),   # t* = 2.0: +1 to bin 2 (nothing beyond the last bin)
                  (1, 1, 0, 0)])     # t* = 0: -1 to bin 0
    grid = voxel_grid(ev, 2, 3, 0, 1000, bins=3)
    assert grid.shape == (3, 2, 3) and grid.dtype == np.float32
    expected = np.zeros((3, 2, 3))
    expected[:, 0, 0] = [0.5, 0.3, -0.8]
    expected[:, 1, 2] = [0.0, 0.0, 1.0]
    expected[:, 1, 1] = [-1.0, 0.0, 0.0]
    np.testing.assert_allclose(grid, expected, **TOL)
    # One bin: the signed count.
    np.testing.assert_allclose(voxel_grid(ev, 2, 3, 0, 1000, bins=1)[0],
                               [[0, 0, 0], [0, -1, 1]], **TOL)


def test_voxel_grid_window_offset():
    # Window [5000, 5400], 5 bins: t* = 4 * (5100 - 5000) / 400 = 1 exactly -> bin 1 only.
    grid = voxel_grid(_events([(0, 0, 5100, 1)]), 1, 1, 5000, 5400, bins=5)
    np.testing.assert_allclose(grid[:, 0, 0], [0, 1, 0, 0, 0], **TOL)


def test_polarity_histogram_counts():
    ev = _events([(0, 0, 10, 1), (0, 0, 20, 1), (0, 0, 30, 0),
                  (2, 1, 40, 0), (2, 1, 50, 0), (2, 1, 60, 0)])
    hist = polarity_histogram(ev, 2, 3, 0, 100)
    assert hist.shape == (2, 2, 3) and hist.dtype == np.float32
    assert hist[0].tolist() == [[2, 0, 0], [0, 0, 0]]  # ON
    assert hist[1].tolist() == [[1, 0, 0], [0, 0, 3]]  # OFF


def test_time_surface_latest_event_per_polarity():
    # Unsorted on purpose: the latest ON event at (0, 0) is t = 600 whatever the order.
    ev = _events([(0, 0, 600, 1), (0, 0, 200, 1), (1, 0, 1000, 0), (1, 0, 500, 1)])
    ts = time_surface(ev, 1, 2, t_ref_us=1000, tau_us=500.0)
    assert ts.shape == (2, 1, 2) and ts.dtype == np.float32
    # ON: exp(-(1000 - 600) / 500) = exp(-0.8) at (0, 0), exp(-1) at (1, 0); OFF: exp(0) = 1.
    np.testing.assert_allclose(ts[0], [[0.4493290, 0.3678794]], **TOL)
    np.testing.assert_allclose(ts[1], [[0.0, 1.0]], **TOL)


def test_time_surface_rejects_future_events_and_bad_tau():
    ev = _events([(0, 0, 1001, 1)])
    with pytest.raises(ValueError, match='<= 1000'):
        time_surface(ev, 1, 1, 1000, 500.0)
    with pytest.raises(ValueError, match='tau_us'):
        time_surface(ev, 1, 1, 2000, 0.0)


def test_encode_events_hist_surface():
    ev = _events([(0, 0, 1000, 1), (0, 0, 400, 0), (0, 0, 500, 0), (0, 0, 1000, 0)])
    enc = encode_events(ev, 1, 2, 0, 1000)
    _check_encoded(enc, 1, 2)
    assert enc.valid.tolist() == [[True, False]]
    # ON count 1: log(2) / log(16) = 0.25 -> (0.25 - 0.485) / 0.229;
    # OFF count 3: log(4) / log(16) = 0.5 -> (0.5 - 0.456) / 0.224;
    # latest event at t1: exp(0) = 1 -> (1 - 0.406) / 0.225.
    np.testing.assert_allclose(enc.image[:, 0, 0], [-1.0262009, 0.1964286, 2.64], **TOL)
    # No event: black, -mean / std.
    np.testing.assert_allclose(enc.image[:, 0, 1], [-2.1179039, -2.0357143, -1.8044444], **TOL)


def test_encode_events_hist_surface_saturates_and_decays():
    # 20 ON events (saturate at count_max 15 -> 1); latest at 0 with tau 1000 and t1 = 2000:
    # exp(-2) = 0.1353353 -> (0.1353353 - 0.406) / 0.225 = -1.2029542.
    ev = _events([(0, 0, 0, 1)] * 20)
    enc = encode_events(ev, 1, 1, 0, 2000, tau_us=1000.0)
    np.testing.assert_allclose(enc.image[:, 0, 0], [2.2489083, -2.0357143, -1.2029542], **TOL)


def test_encode_events_voxel():
    ev = _events([(0, 0, 250, 1)])  # 3 bins over [0, 1000]: +0.5 in bins 0 and 1
    enc = encode_events(ev, 1, 2, 0, 1000, method='voxel')
    _check_encoded(enc, 1, 2)
    assert enc.valid.tolist() == [[True, False]]
    # 0.5 + 0.5 * 0.5 / 2 = 0.625 -> (0.625 - 0.485) / 0.229 and (0.625 - 0.456) / 0.224;
    # bin 2 is empty: 0.5 -> (0.5 - 0.406) / 0.225.
    np.testing.assert_allclose(enc.image[:, 0, 0], [0.6113537, 0.7544643, 0.4177778], **TOL)
    # No event: 0.5 -> (0.5 - 0.485) / 0.229 in channel 0.
    assert enc.image[0, 0, 1] == pytest.approx(0.0655022, abs=1e-6)


def test_render_event_image_visevent_colours_latest_wins():
    # (0, 0): ON at 100 then OFF at 300 (given out of order) -> OFF blue.
    # (1, 0): two events at the same time -> the later in the array (ON) wins.
    ev = _events([(0, 0, 300, 0), (0, 0, 100, 1), (1, 0, 200, 0), (1, 0, 200, 1)])
    img = render_event_image(ev, 2, 2, 0, 1000)
    assert img.dtype == np.uint8 and img.shape == (2, 2, 3)
    assert img[0, 0].tolist() == [30, 30, 200]
    assert img[0, 1].tolist() == [220, 30, 30]
    assert img[1].tolist() == [[255, 255, 255], [255, 255, 255]]
    enc = encode_events(ev, 2, 2, 0, 1000, method='visevent')
    assert enc.valid.tolist() == [[True, True], [False, False]]
    # A live rendering and the same picture loaded from a dataset encode identically.
    same = encode_event_image(img)
    np.testing.assert_array_equal(enc.image, same.image)
    np.testing.assert_array_equal(enc.valid, same.valid)
    # White: (1 - mean) / std.
    np.testing.assert_allclose(enc.image[:, 1, 0], [2.2489083, 2.4285714, 2.64], **TOL)


def test_empty_event_arrays():
    empty = np.zeros(0, EVENT_DTYPE)
    assert not voxel_grid(empty, 2, 2, 0, 10, 4).any()
    assert not polarity_histogram(empty, 2, 2, 0, 10).any()
    assert not time_surface(empty, 2, 2, 10, 5.0).any()
    enc = encode_events(empty, 2, 2, 0, 10)
    assert not enc.valid.any()
    assert (render_event_image(empty, 2, 2, 0, 10) == 255).all()


@pytest.mark.parametrize('row, words', [((3, 0, 5, 1), 'outside the 3 x 2 sensor'),
                                        ((0, 2, 5, 1), 'outside the 3 x 2 sensor'),
                                        ((0, 0, 11, 1), r'not in \[0, 10\] us'),
                                        ((0, 0, -1, 0), r'not in \[0, 10\] us'),
                                        ((0, 0, 5, 2), 'polarity')])
@pytest.mark.parametrize('encoder', [
    lambda ev: voxel_grid(ev, 2, 3, 0, 10, 2),
    lambda ev: polarity_histogram(ev, 2, 3, 0, 10),
    lambda ev: render_event_image(ev, 2, 3, 0, 10),
    lambda ev: encode_events(ev, 2, 3, 0, 10),
    lambda ev: encode_events(ev, 2, 3, 0, 10, method='voxel'),
])
def test_events_outside_sensor_or_window_raise(row, words, encoder):
    ev = _events([(0, 0, 5, 1), row])
    with pytest.raises(ValueError, match=words):
        encoder(ev)


def test_select_events_drops_with_counts():
    ev = _events([(0, 0, 5, 1), (3, 0, 5, 1), (0, 2, 50, 0), (1, 1, 11, 0), (2, 1, 10, 0)])
    sel = select_events(ev, 2, 3, 0, 10)
    assert (sel.outside_sensor, sel.outside_window) == (2, 1)  # (0, 2, 50) counts as sensor
    assert sel.events.dtype == EVENT_DTYPE
    assert sel.events['x'].tolist() == [0, 2] and sel.events['t'].tolist() == [5, 10]
    assert polarity_histogram(sel.events, 2, 3, 0, 10).sum() == 2


def test_event_argument_errors():
    ev = _events([(0, 0, 5, 1)])
    with pytest.raises(ValueError, match='t1_us > t0_us'):
        voxel_grid(ev, 1, 1, 10, 10, 2)
    with pytest.raises(ValueError, match='bins must be >= 1'):
        voxel_grid(ev, 1, 1, 0, 10, 0)
    with pytest.raises(ValueError, match="unknown event encoding method 'frames'.*hist_surface"):
        encode_events(ev, 1, 1, 0, 10, method='frames')
    with pytest.raises(ValueError, match='structured array with fields x, y, t, p'):
        polarity_histogram(np.zeros((3, 4)), 1, 1, 0, 10)
    with pytest.raises(ValueError, match='sensor size'):
        polarity_histogram(ev, 0, 1, 0, 10)


# --- Dispatcher --------------------------------------------------------------------------------

def test_encode_dispatches_by_modality():
    mm = np.array([[0, 1000]], np.uint16)
    np.testing.assert_array_equal(encode('depth', mm, min_m=0.5).image,
                                  encode_depth(mm, min_m=0.5).image)
    ev = _events([(1, 0, 5, 1)])
    enc = encode('events', ev, height=1, width=2, t0_us=0, t1_us=10)
    assert enc.valid.tolist() == [[False, True]]
    assert encode('thermal', np.array([[51]], np.uint8)).image[0, 0, 0] == \
        pytest.approx(-1.2445415, abs=1e-6)
    assert encode('rgb', np.zeros((1, 1, 3), np.uint8)).valid.all()
    assert not encode('event_image', np.full((1, 1, 3), 255, np.uint8)).valid.any()


def test_encode_unknown_modality_lists_known():
    with pytest.raises(ValueError, match="unknown modality 'lidar'.*rgb, depth, thermal, events"):
        encode('lidar', np.zeros((2, 2)))
