"""DAVIS J / F / J&F against vos-benchmark on random blobs, plus edge cases and bad input."""

import numpy as np
import pytest
from sata_ros.eval.metrics.errors import PredictionError
from sata_ros.eval.metrics.vos import (
    average_vos, boundary_f, boundary_map, boundary_radius, frame_statistics,
    region_similarity, vos_scores)
from scipy import ndimage


def _blob(rng: np.random.Generator, height: int, width: int, fraction: float) -> np.ndarray:
    """Return an (H, W) bool mask of smooth random blobs covering about `fraction` of it."""
    # Smooth noise on a 5x coarser grid, then bilinear upsampling: blobs with irregular
    # boundaries at a fraction of the cost of filtering at full size.
    coarse = (-(-height // 5), -(-width // 5))
    field = ndimage.gaussian_filter(rng.standard_normal(coarse), sigma=coarse[0] / 25)
    field = ndimage.zoom(field, 5, order=1)[:height, :width]
    return field > np.quantile(field, 1.0 - fraction)


def _sequence(rng, frames, height, width, objects=3):
    """Return (GT, prediction) label maps, (N, H, W) uint8, 0 = background."""
    gt = np.zeros((frames, height, width), dtype=np.uint8)
    pred = np.zeros_like(gt)
    for t in range(frames):
        for obj in range(1, objects + 1):
            gt[t][_blob(rng, height, width, 0.06)] = obj
        for obj in range(1, objects + 1):
            mask = gt[t] == obj
            shift = rng.integers(-4, 5, size=2)
            mask = np.roll(mask, tuple(shift), axis=(0, 1))
            if rng.random() < 0.5:
                mask = ndimage.binary_dilation(mask, iterations=2)
            else:
                mask = ndimage.binary_erosion(mask, iterations=1)
            mask |= _blob(rng, height, width, 0.005)  # stray false positives
            pred[t][mask] = obj
    # Frame 2: object 1 is lost by the tracker. Frame 3: object 2 leaves the GT (still
    # predicted), so both one-sided edge cases occur in scored frames.
    pred[2][pred[2] == 1] = 0
    gt[3][gt[3] == 2] = 0
    return gt, pred


def _per_object(labels: np.ndarray, objects=3) -> dict:
    return {obj: labels == obj for obj in range(1, objects + 1)}


@pytest.mark.parametrize('height, width', [(480, 854), (90, 120)])
def test_per_frame_j_f_and_jf_match_vos_benchmark(height, width):
    evaluator_module = pytest.importorskip('vos_benchmark.evaluator')
    rng = np.random.default_rng(height)
    gt, pred = _sequence(rng, 6, height, width)
    # The reference's evaluation loop: first and last frames skipped, label maps per frame.
    reference = evaluator_module.Evaluator()
    for t in range(1, len(gt) - 1):
        reference.feed_frame(pred[t], gt[t])
    ref_j, ref_f = reference.conclude()

    scores = vos_scores(_per_object(pred), _per_object(gt))
    assert sorted(scores.objects) == sorted(ref_j) == [1, 2, 3]
    for obj, result in scores.objects.items():
        np.testing.assert_allclose(result.j_frames, reference.object_iou[obj], rtol=0, atol=1e-6)
        np.testing.assert_allclose(result.f_frames, reference.boundary_f[obj], rtol=0, atol=1e-6)
        assert result.j_mean == pytest.approx(ref_j[obj] / 100, abs=1e-6)
        assert result.f_mean == pytest.approx(ref_f[obj] / 100, abs=1e-6)
    j_mean = np.mean(list(ref_j.values())) / 100
    f_mean = np.mean(list(ref_f.values())) / 100
    assert scores.j_mean == pytest.approx(j_mean, abs=1e-6)
    assert scores.f_mean == pytest.approx(f_mean, abs=1e-6)
    assert scores.j_and_f == pytest.approx((j_mean + f_mean) / 2, abs=1e-6)
    # The edge cases were hit: a lost object and a false positive on an absent one.
    assert scores.objects[1].j_frames[1] == 0.0 and scores.objects[1].f_frames[1] == 0.0
    assert scores.objects[2].j_frames[2] == 0.0 and scores.objects[2].f_frames[2] == 0.0
    assert 0.3 < scores.j_and_f < 0.95


def test_boundary_map_matches_vos_benchmark_seg2bmap():
    utils = pytest.importorskip('vos_benchmark.utils')
    rng = np.random.default_rng(7)
    for shape in ((37, 53), (480, 854)):
        mask = _blob(rng, *shape, 0.2)
        mask[-1, :5] = True  # touch the last row and column, where the rule is special
        mask[:5, -1] = True
        np.testing.assert_array_equal(boundary_map(mask), utils._seg2bmap(mask))


def test_radius_rule():
    assert boundary_radius(480, 854) == 8.0
    assert boundary_radius(1080, 1920) == 18.0
    assert boundary_radius(90, 120) == 2.0
    assert boundary_radius(480, 854, bound_th=3) == 3.0


def test_boundary_tolerance_is_8_px_at_854_by_480():
    gt = np.zeros((480, 854), dtype=bool)
    gt[100:300, 100:400] = True
    # A copy shifted by 8 px lies within the tolerance; by 9 px its far edges do not.
    assert boundary_f(np.roll(gt, 8, axis=1), gt) == 1.0
    assert boundary_f(np.roll(gt, 9, axis=1), gt) < 1.0
    # The disk, not a square: a diagonal shift of (6, 6) is 8.49 px away.
    assert boundary_f(np.roll(gt, (5, 5), axis=(0, 1)), gt) == 1.0
    assert boundary_f(np.roll(gt, (6, 6), axis=(0, 1)), gt) < 1.0


def test_edge_cases():
    empty = np.zeros((20, 30), dtype=bool)
    square = empty.copy()
    square[5:15, 5:15] = True
    assert region_similarity(empty, empty) == 1.0 and boundary_f(empty, empty) == 1.0
    assert region_similarity(empty, square) == 0.0 and boundary_f(empty, square) == 0.0
    assert region_similarity(square, empty) == 0.0 and boundary_f(square, empty) == 0.0
    assert region_similarity(square, square) == 1.0 and boundary_f(square, square) == 1.0


def test_void_pixels_are_excluded():
    gt = np.zeros((10, 10), dtype=bool)
    gt[2:6, 2:6] = True  # 16 pixels
    pred = np.zeros_like(gt)
    pred[2:6, 2:8] = True  # 8 extra pixels, all in columns 6 and 7
    void = np.zeros_like(gt)
    void[:, 6:8] = True
    assert region_similarity(pred, gt) == pytest.approx(16 / 24)
    assert region_similarity(pred, gt, void) == 1.0
    assert boundary_f(pred, gt, void, bound_th=1) == 1.0


def test_frame_statistics_by_hand():
    # 4 frames: edges round(linspace(1, 4, 5) + 1e-10) - 1 = [0, 1, 2, 2, 3], bins [0, 1],
    # [1, 2], [2], [2, 3] (both edges included).
    mean, recall, decay = frame_statistics(np.array([1.0, 1.0, 0.0, 0.0]))
    assert (mean, recall, decay) == (0.5, 0.5, 1.0)
    mean, recall, decay = frame_statistics(np.array([0.2, 0.5, 0.6, 0.9, 0.9, 0.3, 0.1, 0.1]))
    # 8 frames: edges round(linspace(1, 8, 5)) - 1 = [0, 2, 4, 5, 7].
    assert mean == pytest.approx(3.6 / 8)
    assert recall == pytest.approx(3 / 8)  # 0.5 itself is not > 0.5
    assert decay == pytest.approx(np.mean([0.2, 0.5, 0.6]) - np.mean([0.3, 0.1, 0.1]))


def test_scores_average_objects_and_sequences():
    gt = np.zeros((5, 12, 12), dtype=bool)
    gt[:, 2:8, 2:8] = True
    half = gt.copy()
    half[:, 2:8, 5:8] = False  # J = 0.5 in every frame
    one = vos_scores({7: gt}, {7: gt}, sequence='a')
    two = vos_scores({1: gt, 2: half}, {1: gt, 2: gt}, sequence='b')
    assert one.j_mean == 1.0
    assert two.j_mean == pytest.approx(0.75)
    assert len(two.objects[2].j_frames) == 3  # first and last frames dropped
    assert len(vos_scores({1: gt}, {1: gt}, drop_first_last=False).objects[1].j_frames) == 5
    pooled = average_vos([one, two])
    assert pooled['j_mean'] == pytest.approx((1.0 + 1.0 + 0.5) / 3)
    assert pooled['num_objects'] == 3


def test_missing_unknown_and_malformed_predictions_raise():
    gt = np.zeros((4, 8, 8), dtype=bool)
    gt[:, 2:5, 2:5] = True
    with pytest.raises(PredictionError,
                       match=r"sequence 'dogs': no prediction for object id\(s\) \[2\]"):
        vos_scores({1: gt}, {1: gt, 2: gt}, sequence='dogs')
    with pytest.raises(PredictionError, match=r'unknown object id\(s\) \[9\]'):
        vos_scores({1: gt, 9: gt}, {1: gt})
    with pytest.raises(PredictionError, match='object 1 have shape'):
        vos_scores({1: gt[:3]}, {1: gt})
    with pytest.raises(PredictionError, match='other than 0 and 1'):
        vos_scores({1: gt.astype(np.uint8) * 255}, {1: gt})
    with pytest.raises(ValueError, match='nothing to score'):
        vos_scores({1: gt[:2]}, {1: gt[:2]})
