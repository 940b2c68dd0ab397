"""
RGBT234 MPR / MSR and LasHeR PR / NPR / SR against the `rgbt` toolkit on its shipped GT.

The toolkit is run end to end: predictions are written as result files and loaded through its
own `dataset(tracker_name, folder)` API, exactly as a user would.
"""

import numpy as np
import pytest
from sata_ros.eval.metrics.errors import PredictionError
from sata_ros.eval.metrics.rgbt import (
    lasher_scores, lasher_sequence_curves, rgbt234_scores, rgbt234_sequence_curves)

rgbt = pytest.importorskip('rgbt', reason='rgbt (requirements/dev.txt) is the reference')

# A few sequences each; the LasHeR ones include GT frames with w = h = 0
# (ab_bikeoccluded, ab_girlcrossroad, 2girlup) and with x or y = 0 but a positive size
# (ab_bolstershaking), which the toolkit also treats as invalid.
LASHER_SEQUENCES = ('10runone', '2girlup', 'ab_bikeoccluded', 'ab_bolstershaking',
                    'ab_girlcrossroad', '1blackteacher')
RGBT234_SEQUENCES = ('afterrain', 'baby', 'blackwoman', 'car3', 'child1', 'flower1')


@pytest.fixture(scope='module')
def lasher():
    return rgbt.LasHeR()


@pytest.fixture(scope='module')
def rgbt234():
    return rgbt.RGBT234()


def _perturb(gt: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return GT + noise scaled by the box size, some empty boxes and three extra frames."""
    gt = np.asarray(gt, dtype=float)
    scale = np.maximum(gt[:, 2:3], 1.0)
    pred = gt + rng.normal(0.0, 0.15, gt.shape) * scale
    pred[rng.random(len(gt)) < 0.05, 2] = 0.0  # "lost" frames the toolkit repairs (LasHeR)
    pred[rng.random(len(gt)) < 0.02, 3] = -4.0
    pred[1, 2] = 0.0  # frame 1 repaired from the overwritten frame 0
    # The toolkit cuts results to the GT length; so do we.
    return np.concatenate([pred, pred[-3:] + 1.0])


def _write_and_load(dataset, names, predictions, folder):
    """
    Write result files, load them through the toolkit and return our copy of the same numbers.

    The toolkit's loader parses text as float32 and keeps its GT as float32. A few IoUs and
    normalised errors are exact fractions that sit on a threshold (an IoU of 3/20 against 0.15)
    and float32 rounds some of them across it, so the toolkit's loaded arrays are upcast to
    float64 here: both sides then compute in the same precision and must agree exactly.
    `test_toolkit_float32_loading_moves_scores_by_less_than_1e_3` measures what float32 costs.
    """
    ours = {}
    for name in names:
        path = folder / f'{name}.txt'
        # Two decimals: float32 and float64 parse ties (x.50) alike, so rounding agrees.
        np.savetxt(path, predictions[name], fmt='%.2f', delimiter=',')
        ours[name] = np.loadtxt(path, delimiter=',')
    dataset('ours', str(folder), seqs=list(names))
    return ours


def _upcast(dataset, names):
    """Replace the toolkit's float32 rows (results and GT) by float64 copies."""
    results = dataset.trackers['ours'].seqs_result
    for name in names:
        results[name] = [row.astype(np.float64) for row in results[name]]
        gt = dataset.seqs_gt[name]
        if isinstance(gt, dict):
            dataset.seqs_gt[name] = {k: [r.astype(np.float64) for r in v] for k, v in gt.items()}
        else:
            dataset.seqs_gt[name] = [row.astype(np.float64) for row in gt]


def _lasher_run(lasher, tmp_path, seed):
    rng = np.random.default_rng(seed)
    gts = {name: np.asarray(lasher[name], dtype=np.float64) for name in LASHER_SEQUENCES}
    predictions = {name: _perturb(gts[name], rng) for name in LASHER_SEQUENCES}
    ours = _write_and_load(lasher, LASHER_SEQUENCES, predictions, tmp_path)
    return gts, ours


def _rgbt234_run(rgbt234, tmp_path, seed):
    rng = np.random.default_rng(seed)
    gts = {name: (np.asarray(rgbt234[name]['visible'], dtype=np.float64),
                  np.asarray(rgbt234[name]['infrared'], dtype=np.float64))
           for name in RGBT234_SEQUENCES}
    predictions = {name: _perturb(gts[name][0], rng) for name in RGBT234_SEQUENCES}
    ours = _write_and_load(rgbt234, RGBT234_SEQUENCES, predictions, tmp_path)
    return gts, ours


@pytest.mark.parametrize('seed', [0, 1])
def test_lasher_pr_npr_sr_match_the_toolkit(lasher, tmp_path, seed):
    gts, preds = _lasher_run(lasher, tmp_path, seed)
    _upcast(lasher, LASHER_SEQUENCES)
    seqs = list(LASHER_SEQUENCES)
    pr, pr_curves = lasher.PR('ours', seqs=seqs)
    npr, npr_curves = lasher.NPR('ours', seqs=seqs)
    sr, sr_curves = lasher.SR('ours', seqs=seqs)
    scores = lasher_scores(preds, gts)
    assert scores.sequences == LASHER_SEQUENCES
    assert scores.precision == pytest.approx(pr, abs=1e-6)
    assert scores.norm_precision == pytest.approx(npr, abs=1e-6)
    assert scores.success == pytest.approx(sr, abs=1e-6)
    np.testing.assert_allclose(scores.precision_curves, pr_curves, rtol=0, atol=1e-6)
    np.testing.assert_allclose(scores.norm_precision_curves, npr_curves, rtol=0, atol=1e-6)
    np.testing.assert_allclose(scores.success_curves, sr_curves, rtol=0, atol=1e-6)
    # A real comparison: the scores are neither perfect nor zero.
    assert 0.2 < scores.success < 0.9 and 0.2 < scores.precision < 1.0


@pytest.mark.parametrize('seed', [0, 1])
def test_rgbt234_mpr_msr_match_the_toolkit(rgbt234, tmp_path, seed):
    gts, preds = _rgbt234_run(rgbt234, tmp_path, seed)
    _upcast(rgbt234, RGBT234_SEQUENCES)
    seqs = list(RGBT234_SEQUENCES)
    mpr, mpr_curves = rgbt234.MPR('ours', seqs=seqs)
    msr, msr_curves = rgbt234.MSR('ours', seqs=seqs)
    scores = rgbt234_scores(preds, gts)
    assert scores.precision == pytest.approx(mpr, abs=1e-6)
    assert scores.success == pytest.approx(msr, abs=1e-6)
    assert scores.norm_precision is None
    np.testing.assert_allclose(scores.precision_curves, mpr_curves, rtol=0, atol=1e-6)
    np.testing.assert_allclose(scores.success_curves, msr_curves, rtol=0, atol=1e-6)
    assert 0.2 < scores.success < 0.9 and 0.2 < scores.precision < 1.0


def test_toolkit_float32_loading_moves_scores_by_less_than_1e_3(tmp_path):
    # Fresh instances: the module fixtures' GT has been upcast by the tests above.
    lasher, rgbt234 = rgbt.LasHeR(), rgbt.RGBT234()
    (tmp_path / 'lasher').mkdir()
    (tmp_path / 'rgbt234').mkdir()
    gts, preds = _lasher_run(lasher, tmp_path / 'lasher', 0)
    ours = lasher_scores(preds, gts)
    seqs = list(LASHER_SEQUENCES)
    assert abs(lasher.PR('ours', seqs=seqs)[0] - ours.precision) < 1e-3
    assert abs(lasher.NPR('ours', seqs=seqs)[0] - ours.norm_precision) < 1e-3
    assert abs(lasher.SR('ours', seqs=seqs)[0] - ours.success) < 1e-3
    gts, preds = _rgbt234_run(rgbt234, tmp_path / 'rgbt234', 0)
    ours = rgbt234_scores(preds, gts)
    seqs = list(RGBT234_SEQUENCES)
    assert abs(rgbt234.MPR('ours', seqs=seqs)[0] - ours.precision) < 1e-3
    assert abs(rgbt234.MSR('ours', seqs=seqs)[0] - ours.success) < 1e-3


# --------------------------------------------------------------------------- quirks by hand


def test_lasher_invalid_gt_frames_pass_pr_and_fail_sr():
    gt = np.tile([10.0, 10.0, 20.0, 20.0], (4, 1))
    gt[2] = [0.0, 5.0, 20.0, 20.0]  # x = 0: "invalid" for the toolkit despite its size
    pred = gt.copy()
    pred[2] = [300.0, 300.0, 20.0, 20.0]  # far away, yet scored -1
    pr, npr, sr = lasher_sequence_curves(pred, gt)
    assert pr[0] == 1.0 and npr[0] == 1.0  # -1 <= 0 px: precise
    assert sr[0] == pytest.approx(0.75)  # -1 > 0: a failure


def test_lasher_empty_predictions_take_the_previous_box():
    gt = np.tile([10.0, 10.0, 20.0, 20.0], (4, 1))
    pred = np.array([[90.0, 90.0, 5.0, 5.0],  # overwritten by the GT
                     [0.0, 0.0, 0.0, 0.0],  # -> frame 0, the GT: perfect
                     [200.0, 200.0, 20.0, 20.0],
                     [0.0, 0.0, -1.0, 5.0]])  # -> frame 2: a miss
    pr, _, sr = lasher_sequence_curves(pred, gt)
    assert pr[20] == pytest.approx(0.5)
    assert sr[0] == pytest.approx(0.5)


def test_rgbt234_takes_the_better_of_the_two_ground_truths():
    visible = np.tile([10.0, 10.0, 20.0, 20.0], (2, 1))
    infrared = np.tile([40.0, 10.0, 20.0, 20.0], (2, 1))
    pred = np.array([[40.0, 10.0, 20.0, 20.0], [10.0, 10.0, 20.0, 20.0]])
    precision, success = rgbt234_sequence_curves(pred, visible, infrared)
    assert precision[0] == 1.0  # centre error 0 against one of the GTs in both frames
    assert success[-2] == 1.0  # IoU 1 > 0.95 in both frames


# --------------------------------------------------------------------------- bad input


def test_bad_predictions_raise():
    gt = np.tile([10.0, 10.0, 20.0, 20.0], (5, 1))
    pred = gt.copy()
    pred[3, 1] = np.nan
    with pytest.raises(PredictionError, match=r"sequence 'seq': prediction frame 3 "):
        lasher_scores({'seq': pred}, {'seq': gt})
    with pytest.raises(PredictionError, match='has 4 frames'):
        rgbt234_scores({'seq': gt[:4]}, {'seq': (gt, gt)})
    with pytest.raises(PredictionError, match=r"no prediction for sequence\(s\) \['other'\]"):
        lasher_scores({'seq': gt}, {'seq': gt, 'other': gt})
    with pytest.raises(PredictionError, match=r"unknown sequence\(s\) \['typo'\]"):
        lasher_scores({'seq': gt, 'typo': gt}, {'seq': gt})
