"""
A short real training run: the loss falls, and a resumed run continues exactly.

sata_nano trains on one small synthetic scene (RGB, one prompted target per clip) so the run is
short enough for CI; everything else is the production path: sampler, ClipLoss, AdamW with
warmup + cosine, clipping, CSV log, last.pt, the exported checkpoint.
"""

import csv
import json

import pytest
from sata_ros.cli.main import main
from sata_ros.model.checkpoint import read_checkpoint
from sata_ros.tracking.tracker import Tracker
from sata_ros.train.config import (DataSection, LossSection, ModelSection, OptimSection,
                                   RunSection, TrainConfig)
from sata_ros.train.trainer import Trainer
import torch
import yaml

STEPS = 40
HALF = 20


def _config(out_dir, steps=STEPS):
    return TrainConfig(
        model=ModelSection(overrides={'freeze_trunk': False}),
        data=DataSection(train_seeds=(50, 51), val_seeds=(60, 61), num_frames=12, width=96,
                         height=72, num_objects=(1, 1), num_distractors=(0, 0),
                         scene_window=1, prompted_ratio=1.0, modality_weights={'rgb': 1.0},
                         clip_length=2, max_stride=1, max_targets=1, flip=0.0, dark=0.0,
                         box_jitter=0.0, point_prompts=0.0),
        optim=OptimSection(lr=1e-3, warmup_steps=5),
        loss=LossSection(complementary=0.0),
        run=RunSection(steps=steps, out_dir=str(out_dir), log_every=5, val_every=HALF,
                       val_clips=2, ckpt_every=HALF, threads=0, device='cpu',
                       tensorboard=False))


def _rows(path):
    with open(path, newline='') as f:
        return [{k: float(v) for k, v in row.items() if v != ''} for row in csv.DictReader(f)]


@pytest.fixture(scope='module')
def straight(tmp_path_factory):
    out = tmp_path_factory.mktemp('straight')
    result = Trainer(_config(out), progress=False).run()
    return out, result


def test_loss_falls_over_a_short_run(straight):
    out, result = straight
    rows = _rows(out / 'train.csv')
    assert [int(r['step']) for r in rows] == list(range(5, STEPS + 1, 5))
    assert result.step == STEPS
    first, last = rows[0]['loss'], (rows[-1]['loss'] + rows[-2]['loss']) / 2
    assert last < 0.6 * first, [r['loss'] for r in rows]
    assert rows[-1]['dice'] < rows[0]['dice']
    val = _rows(out / 'val.csv')
    assert [int(r['step']) for r in val] == [HALF, STEPS] and val[1]['loss'] < val[0]['loss']


def test_resumed_run_continues_from_the_same_step_and_loss(straight, tmp_path):
    out, _ = straight
    # Interrupted half-way: the schedule still spans STEPS, as in a run that was killed.
    first = Trainer(_config(tmp_path), progress=False, stop_at=HALF).run()
    assert first.step == HALF
    state = torch.load(tmp_path / 'last.pt', weights_only=True)
    assert state['step'] == HALF
    resumed = Trainer(_config(tmp_path), resume=True, progress=False).run()
    assert resumed.step == STEPS
    reference, continued = _rows(out / 'train.csv'), _rows(tmp_path / 'train.csv')
    assert [int(r['step']) for r in continued] == [int(r['step']) for r in reference]
    for a, b in zip(reference, continued):
        assert a['loss'] == pytest.approx(b['loss'], rel=1e-5, abs=1e-6), (a['step'], a, b)


def test_exported_checkpoint_loads_into_the_tracker(straight):
    out, _ = straight
    config, data = read_checkpoint(out / 'model.pt')
    assert config.variant == 'sata_nano' and data['extra']['trained_steps'] == STEPS
    tracker = Tracker.from_variant('sata_nano', out / 'model.pt')
    assert not tracker.model.training


def test_resume_without_state_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match='cannot resume: .*last.pt does not exist'):
        Trainer(_config(tmp_path), resume=True, progress=False).run()


def test_cli_reports_a_bad_config(tmp_path, capsys):
    bad = tmp_path / 'bad.yaml'
    bad.write_text('run: {stepz: 3}\n')
    assert main(['train', '--config', str(bad)]) == 1
    assert "unknown keys ['stepz'] in section 'run'" in capsys.readouterr().err


def test_cli_trains_and_prints_json(tmp_path, capsys):
    cfg = _config(tmp_path / 'run', steps=2).to_dict()
    cfg['run']['val_every'] = 0
    path = tmp_path / 'tiny.yaml'
    path.write_text(yaml.safe_dump(cfg))
    assert main(['train', '--config', str(path), '--no-progress']) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary['steps'] == 2 and summary['checkpoint'].endswith('model.pt')
