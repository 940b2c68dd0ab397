"""
MOT / MOTS scores: the documented toy case, trackeval's own file pipeline end to end, and MOTS.

The end-to-end check writes the same tracks as MOTChallenge text files and runs trackeval's
`Evaluator` with its `MotChallenge2DBox` dataset, so the dict we build by hand (id relabelling,
box IoU, no preprocessing effects) is compared with what trackeval builds from files.
"""

import contextlib
import io

import numpy as np
import pytest
from sata_ros.eval.metrics.errors import PredictionError
from sata_ros.eval.metrics.mot import FrameTracks, mot_scores, mot_scores_many
import trackeval

FLOAT_KEYS = ('HOTA', 'DetA', 'AssA', 'LocA', 'DetRe', 'DetPr', 'AssRe', 'AssPr', 'MOTA', 'MOTP',
              'IDF1', 'IDP', 'IDR')
COUNT_KEYS = ('IDSW', 'FP', 'FN', 'TP')


def _box(x, y, size=10):
    return [x, y, x + size, y + size]


def _frame(ids, boxes):
    return FrameTracks(ids=np.asarray(ids, dtype=np.int64),
                       boxes=np.asarray(boxes, dtype=float).reshape(-1, 4))


def _toy():
    """
    Return the toy case of metrics-and-datasets.md section 1.10.

    Two static 10 x 10 GT tracks over 4 frames. Tracker: id 0 follows gt 0 (1 px off in frame
    1), id 2 takes over gt 0 from frame 3; id 1 follows gt 1 (1 px off in frame 2) and misses
    it in frame 4; id 3 is a false positive in frame 2. Two 1 px offsets (IoU 9/11) are what
    the documented MOTP 0.9481 = (5 + 2 * 9/11) / 7 needs.
    """
    gt = [_frame([0, 1], [_box(10, 10), _box(50, 50)]) for _ in range(4)]
    pred = [
        _frame([0, 1], [_box(11, 10), _box(50, 50)]),
        _frame([0, 1, 3], [_box(10, 10), _box(50, 51), _box(100, 100)]),
        _frame([2, 1], [_box(10, 10), _box(50, 50)]),
        _frame([2], [_box(10, 10)]),
    ]
    return gt, pred


def _random_sequence(rng, frames=30, objects=5):
    """Return random moving GT boxes and a noisy tracker with misses, FPs and id switches."""
    start = rng.uniform(0, 400, (objects, 2))
    velocity = rng.normal(0, 3, (objects, 2))
    size = rng.uniform(20, 60, (objects, 2))
    tracker_id = np.arange(objects) + 100
    gt, pred = [], []
    next_id = 200
    for t in range(frames):
        present = rng.random(objects) < 0.9
        corners = start + velocity * t
        boxes = np.concatenate([corners, corners + size], axis=1).round(2)
        gt.append(_frame(np.flatnonzero(present) * 3 + 7, boxes[present]))
        if rng.random() < 0.1:  # an id switch on a random object
            tracker_id[rng.integers(objects)] = next_id
            next_id += 1
        kept = present & (rng.random(objects) < 0.85)
        noisy = boxes[kept] + rng.normal(0, 4, (kept.sum(), 4)).round(2)
        ids = list(tracker_id[kept])
        if rng.random() < 0.3:
            corner = rng.uniform(0, 400, 2)
            noisy = np.concatenate([noisy, [np.concatenate([corner, corner + 30])]])
            ids.append(900 + t)
        pred.append(_frame(ids, noisy))
    return gt, pred


def _write_mot(path, frames, is_gt):
    """Write frames as MOTChallenge lines: frame, id, x, y, w, h, conf/flag, class, vis."""
    lines = []
    for t, frame in enumerate(frames):
        for obj, box in zip(frame.ids, frame.boxes):
            x1, y1, x2, y2 = (float(v) for v in box)
            # 1-based frames and ids, as the format has them; trackeval relabels anyway.
            tail = '1,1,1' if is_gt else '1,-1,-1,-1'
            lines.append(f'{t + 1},{obj + 1},{x1!r},{y1!r},{x2 - x1!r},{y2 - y1!r},{tail}')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('\n'.join(lines) + '\n')


def _trackeval_files(tmp_path, sequences):
    """Run trackeval's Evaluator + MotChallenge2DBox on {name: (gt, pred)}; return its results."""
    for name, (gt, pred) in sequences.items():
        _write_mot(tmp_path / 'gt' / name / 'gt' / 'gt.txt', gt, is_gt=True)
        _write_mot(tmp_path / 'trackers' / 'ours' / 'data' / f'{name}.txt', pred, is_gt=False)
    dataset_config = {
        'GT_FOLDER': str(tmp_path / 'gt'), 'TRACKERS_FOLDER': str(tmp_path / 'trackers'),
        'OUTPUT_FOLDER': str(tmp_path / 'out'), 'TRACKERS_TO_EVAL': ['ours'],
        'BENCHMARK': 'MOT17', 'SPLIT_TO_EVAL': 'train', 'SKIP_SPLIT_FOL': True,
        'SEQ_INFO': {name: len(gt) for name, (gt, _) in sequences.items()},
        'PRINT_CONFIG': False,
    }
    eval_config = {
        'USE_PARALLEL': False, 'PRINT_RESULTS': False, 'PRINT_CONFIG': False,
        'TIME_PROGRESS': False, 'OUTPUT_SUMMARY': False, 'OUTPUT_DETAILED': False,
        'PLOT_CURVES': False, 'LOG_ON_ERROR': str(tmp_path / 'error_log.txt'),
    }
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator = trackeval.Evaluator(eval_config)
        dataset = trackeval.datasets.MotChallenge2DBox(dataset_config)
        metrics = [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR({'PRINT_CONFIG': False}),
                   trackeval.metrics.Identity({'PRINT_CONFIG': False})]
        results, _ = evaluator.evaluate([dataset], metrics)
    return results['MotChallenge2DBox']['ours']


def _flatten_trackeval(result):
    hota, clear, identity = result['pedestrian']['HOTA'], result['pedestrian']['CLEAR'], \
        result['pedestrian']['Identity']
    flat = {key: float(np.mean(hota[key])) for key in FLOAT_KEYS[:8]}
    flat.update(MOTA=clear['MOTA'], MOTP=clear['MOTP'], IDF1=identity['IDF1'],
                IDP=identity['IDP'], IDR=identity['IDR'], IDSW=clear['IDSW'],
                FP=clear['CLR_FP'], FN=clear['CLR_FN'], TP=clear['CLR_TP'])
    return flat


def _assert_same(ours, theirs):
    for key in FLOAT_KEYS:
        assert ours[key] == pytest.approx(theirs[key], abs=1e-6), key
    for key in COUNT_KEYS:
        assert isinstance(ours[key], int) and ours[key] == theirs[key], key


# --------------------------------------------------------------------------- MOT


def test_toy_case_reproduces_the_documented_numbers():
    scores = mot_scores(*_toy())
    documented = {'HOTA': 0.6460, 'DetA': 0.7267, 'AssA': 0.5744, 'LocA': 0.9563,
                  'MOTA': 0.625, 'MOTP': 0.9481, 'IDF1': 0.625}
    for key, value in documented.items():
        assert scores[key] == pytest.approx(value, abs=5e-5), key
    assert (scores['IDSW'], scores['FP'], scores['FN'], scores['TP']) == (1, 1, 1, 7)
    assert 'sMOTSA' not in scores


def test_matches_trackeval_file_pipeline_end_to_end(tmp_path):
    rng = np.random.default_rng(2)
    sequences = {'toy': _toy(), 'walk': _random_sequence(rng), 'run': _random_sequence(rng)}
    theirs = _trackeval_files(tmp_path, sequences)
    for name, (gt, pred) in sequences.items():
        _assert_same(mot_scores(gt, pred, sequence=name), _flatten_trackeval(theirs[name]))
    combined = mot_scores_many(list(sequences.values()), names=list(sequences))
    _assert_same(combined, _flatten_trackeval(theirs['COMBINED_SEQ']))
    # The random sequences exercise every kind of error.
    assert combined['IDSW'] > 0 and combined['FP'] > 0 and combined['FN'] > 0
    assert 0.3 < combined['HOTA'] < 0.95


def test_ids_only_need_to_be_consistent():
    gt, pred = _toy()
    shifted = [_frame(f.ids * 17 + 1000, f.boxes) for f in pred]
    assert mot_scores(gt, shifted) == mot_scores(gt, pred)


def test_empty_frames_and_empty_prediction():
    gt, _ = _toy()
    nothing = [FrameTracks.empty() for _ in gt]
    scores = mot_scores(gt, nothing)
    assert (scores['TP'], scores['FN'], scores['FP']) == (0, 8, 0)
    assert scores['MOTA'] == 0.0 and scores['HOTA'] == 0.0


# --------------------------------------------------------------------------- MOTS


def test_mots_smotsa_by_hand():
    # Two objects over 3 frames on a 10 x 10 image; masks never overlap.
    def mask(rows, cols):
        m = np.zeros((10, 10), dtype=bool)
        m[rows[0]:rows[1], cols[0]:cols[1]] = True
        return m

    a, b = mask((0, 4), (0, 5)), mask((6, 10), (5, 10))  # 20 pixels each
    a_part = mask((0, 4), (0, 4))  # 16 of a's 20 pixels: IoU 0.8
    stray = mask((5, 6), (0, 10))  # overlaps nothing
    gt = [FrameTracks(np.array([1, 2]), np.zeros((2, 4)), np.stack([a, b])) for _ in range(3)]
    pred = [
        FrameTracks(np.array([1, 2]), np.zeros((2, 4)), np.stack([a, b])),  # IoU 1, 1
        FrameTracks(np.array([1, 2, 5]), np.zeros((3, 4)), np.stack([a_part, b, stray])),
        FrameTracks(np.array([3, 2]), np.zeros((2, 4)), np.stack([a, b])),  # gt 1 -> id 3
    ]
    scores = mot_scores(gt, pred, similarity='mask')
    # TP 6 with summed IoU 5.8, FP 1 (stray), IDSW 1, |GT| 6.
    assert (scores['TP'], scores['FP'], scores['FN'], scores['IDSW']) == (6, 1, 0, 1)
    assert scores['sMOTSA'] == pytest.approx((5.8 - 1 - 1) / 6)
    assert scores['MOTSA'] == pytest.approx((6 - 1 - 1) / 6)
    assert scores['MOTSP'] == pytest.approx(5.8 / 6)
    assert scores['MOTSA'] == scores['MOTA']


# --------------------------------------------------------------------------- bad input


def test_bad_input_raises():
    gt, pred = _toy()
    with pytest.raises(PredictionError, match='prediction has 3 frames, the ground truth has 4'):
        mot_scores(gt, pred[:3])
    broken = list(pred)
    broken[2] = _frame([2, 1], [_box(10, 10), [50, np.nan, 60, 60]])
    with pytest.raises(PredictionError, match=r"sequence 'toy', prediction frame 2, id 1: box"):
        mot_scores(gt, broken, sequence='toy')
    broken[2] = _frame([1, 1], [_box(10, 10), _box(50, 50)])
    with pytest.raises(PredictionError, match='duplicate ids'):
        mot_scores(gt, broken)
    with_masks = [FrameTracks(f.ids, f.boxes, np.zeros((len(f.ids), 8, 8), dtype=bool))
                  for f in gt]
    with pytest.raises(PredictionError, match='prediction frame 0: similarity="mask" needs'):
        mot_scores(with_masks, pred, similarity='mask')
    with pytest.raises(ValueError, match='similarity'):
        mot_scores(gt, pred, similarity='keypoints')
    with pytest.raises(PredictionError, match=r"sequence 'seq1': prediction has 3 frames"):
        mot_scores_many([(gt, pred), (gt, pred[:3])])
