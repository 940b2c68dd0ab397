"""Offline bag evaluation: the bag round trip loses nothing, the report and `sata eval` agree."""

import dataclasses
import json

import numpy as np
from PIL import Image
import pytest
from sata_ros.cli.main import main
from sata_ros.data.bag import write_bag
from sata_ros.data.scene import generate_scene, SceneConfig
from sata_ros.data.sequence import DataError, pair_thermal
from sata_ros.eval.animation import GT_RGB, PALETTE, render_frame, write_animation
from sata_ros.eval.metrics.mot import mot_scores
from sata_ros.eval.metrics.sot import average_sot
from sata_ros.eval.metrics.vos import average_vos
from sata_ros.eval.replay import (evaluate_bag, load_bag, Pass, plan_passes, result_for_json,
                                  THERMAL_TOLERANCE_NS)
from sata_ros.eval.report import headline, write_report
from sata_ros.eval.synthetic_benchmark import (BenchmarkSettings, ground_truth_tracks,
                                               init_frames, prompted_scores, run_detected_sata,
                                               run_prompted_sata, track_pass)
from sata_ros.tracking.config import TrackerConfig
from sata_ros.tracking.tracker import Tracker
import torch

# Two tracked objects and one look-alike distractor (id 3), which is no SOT target.
SCENE = SceneConfig(seed=3, num_frames=10, width=96, height=72, num_objects=2,
                    num_distractors=1, modalities=('rgb', 'thermal'))
# An untrained model whose SOT / VOS / MOT numbers are not all zero on SCENE (seed 1), with a
# detection threshold low enough for the untrained detection head to report boxes.
MODEL_SEED = 1
CONFIG = TrackerConfig(detection_score=0.02, max_detections=8)


@pytest.fixture(scope='module')
def bag(tmp_path_factory):
    return write_bag(generate_scene(SCENE), tmp_path_factory.mktemp('replay') / 's.mcap')


@pytest.fixture(scope='module')
def tracker():
    torch.manual_seed(MODEL_SEED)
    return Tracker.from_variant('sata_nano', None, config=CONFIG)


@pytest.fixture(scope='module')
def result(bag, tracker):
    return evaluate_bag(bag, tracker, checkpoint='none')


def test_replay_scores_equal_the_protocol_on_the_generated_frames(result, tracker):
    frames = pair_thermal(generate_scene(SCENE), THERMAL_TOLERANCE_NS)
    runs = run_prompted_sata(tracker, frames, BenchmarkSettings(num_objects=SCENE.num_objects),
                             label_masks=True)
    sot, vos = prompted_scores(runs, 'synth_3')
    sot_mean, vos_mean = average_sot(sot), average_vos(vos)
    mot = mot_scores(ground_truth_tracks(frames), run_detected_sata(tracker, frames))

    assert result['targets'] == [1, 2] == sorted(run.target_id for run in runs)
    assert (result['frames'], result['modalities']) == (10, ['rgb', 'thermal'])
    for key in ('auc', 'precision_20', 'norm_precision', 'ao'):
        assert result['sot'][key] == pytest.approx(sot_mean[key], abs=1e-9), key
    for key in ('success_curve', 'precision_curve'):
        np.testing.assert_allclose(result['sot'][key], sot_mean[key], rtol=0, atol=1e-9)
    direct = {run.target_id: s for run, s in zip(runs, sot)}
    for row in result['sot']['per_target']:
        np.testing.assert_allclose(row['iou'], direct[row['id']].iou, rtol=0, atol=1e-9)
        assert row['auc'] == pytest.approx(direct[row['id']].auc, abs=1e-9)
    for key, direct_key in (('j_and_f', 'j_and_f'), ('j', 'j_mean'), ('f', 'f_mean')):
        assert result['vos'][key] == pytest.approx(vos_mean[direct_key], abs=1e-9), key
    assert result['mot'].keys() == mot.keys()
    for key, value in mot.items():
        assert result['mot'][key] == pytest.approx(value, abs=1e-9), key
    # The comparison means something only if the untrained model got some things right/wrong.
    assert result['vos']['j_and_f'] > 0 and result['mot']['FP'] > 0, 'trivial run'
    assert result['timing_ms']['calls'] == 20
    assert 0 < result['timing_ms']['p50'] <= result['timing_ms']['p95']


def test_report_files_keys_and_markdown(result, tmp_path):
    paths = write_report(result, tmp_path / 'report')
    assert set(paths) == {'json', 'markdown', 'success', 'precision', 'iou_over_time',
                          'overlays'}
    for name in ('success', 'precision', 'iou_over_time', 'overlays'):
        assert paths[name].read_bytes()[:8] == b'\x89PNG\r\n\x1a\n', name
    report = json.loads(paths['json'].read_text())
    assert {'bag', 'name', 'frames', 'size', 'modalities', 'checkpoint', 'tasks', 'targets',
            'unprompted', 'sot', 'vos', 'mot', 'timing_ms', 'overlays'} <= report.keys()
    assert {'auc', 'precision_20', 'norm_precision', 'ao', 'success_thresholds',
            'success_curve', 'precision_thresholds', 'precision_curve',
            'per_target'} <= report['sot'].keys()
    assert {'id', 'start', 'auc', 'precision_20', 'norm_precision',
            'iou'} <= report['sot']['per_target'][0].keys()
    assert {'j_and_f', 'j', 'f', 'per_target'} <= report['vos'].keys()
    assert {'HOTA', 'DetA', 'AssA', 'MOTA', 'IDF1', 'IDSW'} <= report['mot'].keys()
    assert {'p50', 'p95', 'mean', 'calls', 'prompted', 'detected'} <= report['timing_ms'].keys()
    assert 1 <= len(report['overlays']) <= 6 and 'rgb' not in report['overlays'][0]
    assert report == json.loads(json.dumps(result_for_json(result)))
    text = paths['markdown'].read_text()
    rows = headline(result)
    assert ('SOT AUC', f'{report["sot"]["auc"]:.4f}') in rows
    assert ('MOT HOTA', f'{report["mot"]["HOTA"]:.4f}') in rows
    for label, value in rows:
        assert f'| {label} | {value} |' in text
    for row in report['sot']['per_target']:
        assert f'| {row["id"]} | {row["start"]} | {row["auc"]:.4f} |' in text


def test_evaluate_bag_refuses_unknown_tasks(bag, tracker):
    with pytest.raises(ValueError, match='unknown tasks'):
        evaluate_bag(bag, tracker, tasks=('sot', 'reid'))


def test_cli_missing_bag_exits_1(tmp_path, capsys):
    assert main(['eval', str(tmp_path / 'nope.mcap'), '--out', str(tmp_path / 'o')]) == 1
    err = capsys.readouterr().err
    assert err.startswith('sata eval: error: ') and 'no such bag' in err


def test_cli_bag_without_ground_truth_exits_1(tmp_path, capsys):
    seq = generate_scene(dataclasses.replace(SCENE, num_frames=2))
    bare = dataclasses.replace(
        seq, frames=lambda: (dataclasses.replace(f, objects=[]) for f in seq.frames()))
    path = write_bag(bare, tmp_path / 'bare.mcap')
    with pytest.raises(DataError, match='no ground truth'):
        evaluate_bag(path, None)
    assert main(['eval', str(path), '--checkpoint', 'none', '--out', str(tmp_path / 'o')]) == 1
    err = capsys.readouterr().err
    assert err.startswith('sata eval: error: ') and '/gt/detections' in err


@pytest.mark.parametrize('args, message', [
    (['--prompts', '-1'], '--prompts and --rate must be >= 0'),
    (['--tasks', 'sot,reid'], "unknown tasks ['reid']"),
    (['--checkpoint', '/no/such.pt'], 'no such file'),
])
def test_cli_bad_options_exit_1(bag, tmp_path, capsys, args, message):
    assert main(['eval', str(bag), '--out', str(tmp_path / 'o'), *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith('sata eval: error: ') and message in err


def test_cli_prints_the_numbers_of_report_json(bag, tmp_path, capsys):
    out = tmp_path / 'out'
    assert main(['eval', str(bag), '--checkpoint', 'none', '--out', str(out)]) == 0
    printed = dict(line.split(': ', 1) for line in capsys.readouterr().out.splitlines()[1:])
    report = json.loads((out / 'report.json').read_text())
    assert printed['SOT AUC'] == f'{report["sot"]["auc"]:.4f}'
    assert printed['VOS J&F'] == f'{report["vos"]["j_and_f"]:.4f}'
    assert printed['MOT HOTA'] == f'{report["mot"]["HOTA"]:.4f}'
    assert printed['time p50 (ms/frame)'] == f'{report["timing_ms"]["p50"]:.1f}'
    assert printed['time p95 (ms/frame)'] == f'{report["timing_ms"]["p95"]:.1f}'
    assert printed['json'] == str(out / 'report.json')
    assert printed['overlays'] == str(out / 'overlays.png')
    assert report['checkpoint'] == 'none' and report['targets'] == [1, 2]

    assert main(['eval', str(bag), '--checkpoint', 'none', '--out', str(out), '--json',
                 '--tasks', 'sot']) == 0
    report = json.loads((out / 'report.json').read_text())
    assert json.loads(capsys.readouterr().out) == report
    assert report['tasks'] == ['sot'] and report['mot'] is None and report['vos'] is None


def test_plan_passes_batches_targets_by_max_targets(bag):
    seq, frames = load_bag(bag)
    starts = init_frames(frames, target_ids={1, 2})
    passes, candidates = plan_passes(seq, frames, ('sot', 'mot'), 'separate', 1, max_targets=1)
    assert candidates == {1, 2}  # id 3 is the look-alike distractor
    assert passes == [Pass('prompted', {1: starts[1]}), Pass('prompted', {2: starts[2]}),
                      Pass('detected', {})]
    combined, _ = plan_passes(seq, frames, ('sot',), 'combined', 1, max_targets=1)
    assert combined == [Pass('both', {1: starts[1]})] and combined[0].label == 'combined'
    with pytest.raises(ValueError, match='unknown protocol'):
        plan_passes(seq, frames, ('sot',), 'mixed', 1, 1)


def test_combined_protocol_scores_one_both_run(bag, tracker, tmp_path):
    result = evaluate_bag(bag, tracker, checkpoint='none', protocol='combined', prompts=1,
                          animation=True)
    frames = pair_thermal(generate_scene(SCENE), THERMAL_TOLERANCE_NS)
    starts = init_frames(frames, target_ids={1})
    runs, tracks = track_pass(tracker, frames, starts, 'both', label_masks=True)
    assert result['protocol'] == 'combined' and result['targets'] == [1]
    assert 'unprompted' not in result
    sot = prompted_scores(runs, 'synth_3')[0]
    assert result['sot']['auc'] == pytest.approx(average_sot(sot)['auc'], abs=1e-9)
    mot = mot_scores(ground_truth_tracks(frames), tracks)
    assert result['mot']['HOTA'] == pytest.approx(mot['HOTA'], abs=1e-9)
    assert result['timing_ms']['combined']['calls'] == SCENE.num_frames
    assert result['timing_ms']['prompted'] is None and result['timing_ms']['detected'] is None
    # The overlays and the animation show every instance of the one run (MOT tracks).
    assert [item['source'] for item in result['overlays']] == ['mot'] * len(result['overlays'])
    assert len(result['animation']) == SCENE.num_frames
    assert 'animation' not in result_for_json(result)
    paths = write_report(result, tmp_path)
    with Image.open(paths['animation']) as gif:
        assert gif.n_frames == SCENE.num_frames
        assert gif.size == (2 * SCENE.width, 2 * SCENE.height)


def test_animation_needs_frames_and_a_positive_rate(tmp_path):
    with pytest.raises(ValueError, match='no frames'):
        write_animation([], tmp_path / 'a.gif')
    item = {'frame': 0, 'pred': [[1, 10.0, 20.0, 30.0, 10.0]], 'gt': [[1, 0.0, 0.0, 5.0, 5.0]],
            'rgb': np.zeros((40, 60, 3), np.uint8)}
    with pytest.raises(ValueError, match='fps > 0'):
        write_animation([item], tmp_path / 'a.gif', fps=0)
    frame = np.asarray(render_frame(item, scale=2))
    assert frame.shape == (80, 120, 3)
    assert (frame[59, 30:70] == PALETTE[1]).all()  # the bottom edge of id 1's box, its colour
    assert (frame[5:9, 0] == GT_RGB).all()  # the ground-truth box's left edge, green


def test_animation_draws_boxes_thinner_than_a_pixel():
    # A degenerate detection (zero height) once stopped `sata eval --animation` with PIL's
    # "y1 must be greater than or equal to y0".
    item = {'frame': 0, 'pred': [[2, 10.0, 20.0, 30.0, 0.0], [3, 40.0, 5.0, 0.2, 0.2]],
            'gt': [], 'rgb': np.zeros((40, 60, 3), np.uint8)}
    frame = np.asarray(render_frame(item, scale=2))
    assert (frame[40, 20:79] == PALETTE[2]).all()  # drawn as a line at y = 20 px
    assert (frame[10, 80] == PALETTE[3]).all()  # drawn as a point
