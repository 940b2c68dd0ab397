"""Training config: YAML round trip, every shipped config loads, bad keys and values named."""

import pytest

from repo import REPO_ROOT
from sata_ros.train.config import load_train_config, TrainConfig


def test_defaults_round_trip_through_plain_data():
    cfg = TrainConfig()
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize('path', sorted((REPO_ROOT / 'config' / 'train').glob('*.yaml')),
                         ids=lambda p: p.name)
def test_every_shipped_config_loads(path):
    cfg = load_train_config(path)
    assert cfg.run.steps >= 1


def test_shipped_configs_cover_both_paper_stages_and_the_default_checkpoint():
    names = {p.stem for p in (REPO_ROOT / 'config' / 'train').glob('*.yaml')}
    stages = {load_train_config(REPO_ROOT / 'config' / 'train' / f'{n}.yaml').model.stage
              for n in names}
    assert {'detection', 'mixture', 'heads', 'decoder', 'full'} <= stages
    assert 'nano_synthetic' in names


def test_unknown_section_and_key_are_named():
    with pytest.raises(ValueError, match=r"unknown training config sections \['modle'\]"):
        TrainConfig.from_dict({'modle': {}})
    with pytest.raises(ValueError, match=r"unknown keys \['lrate'\] in section 'optim'"):
        TrainConfig.from_dict({'optim': {'lrate': 1.0}})


@pytest.mark.parametrize('values, message', [
    ({'model': {'stage': 'stage3'}}, 'model.stage must be one of'),
    ({'data': {'val_seeds': [1000, 1001]}}, 'overlap data.train_seeds'),
    ({'data': {'clip_length': 1}}, 'clip_length must be >= 2'),
    ({'data': {'modality_weights': {'lidar': 1.0}}}, 'modality_weights must map'),
    ({'data': {'prompted_ratio': 1.5}}, 'prompted_ratio must be in'),
    ({'optim': {'amp': 'fp8'}}, "optim.amp must be 'auto'"),
    ({'run': {'device': 'tpu'}}, "run.device must be 'auto'"),
    ({'data': {'num_objects': [3, 1]}}, 'data.num_objects must be'),
    ({'loss': {'teacher_forcing': -0.1}}, r'loss.teacher_forcing must be in \[0, 1\]'),
    ({'data': {'feature_pool': 2}}, r'data.feature_pool must hold at least one clip \(3 '),
    ({'data': {'pool_refill': 0}}, 'max_targets and pool_refill must be >= 1'),
    ({'data': {'mask_prompts': 2.0}}, r'data.mask_prompts must be in \[0, 1\], got 2.0'),
])
def test_bad_values_are_named(values, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig.from_dict(values)


@pytest.mark.parametrize('values, message', [
    ({'optim': {'lr': '1e-3'}}, r"optim.lr must be a number, got '1e-3'"),
    ({'run': {'steps': 100.5}}, 'run.steps must be an integer, got 100.5'),
    ({'run': {'export_half': 'yes'}}, "run.export_half must be true or false, got 'yes'"),
    ({'data': {'train_seeds': 1000}}, 'data.train_seeds must be a list, got 1000'),
    ({'model': {'init_checkpoint': 3}}, 'model.init_checkpoint must be a string or null'),
    ({'model': {'overrides': ['dense_prompts']}}, 'model.overrides must be a mapping'),
    ({'loss': [1, 2]}, "section 'loss' must be a mapping"),
])
def test_values_of_the_wrong_type_are_named(values, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig.from_dict(values)


def test_yaml_numbers_become_the_settings_types():
    cfg = TrainConfig.from_dict({'optim': {'lr': 1, 'betas': [0.9, 0.99]},
                                 'model': {'init_checkpoint': None},
                                 'data': {'train_seeds': [10, 20]}})
    assert cfg.optim.lr == 1.0 and isinstance(cfg.optim.lr, float)
    assert cfg.optim.betas == (0.9, 0.99) and cfg.data.train_seeds == (10, 20)
    assert cfg.model.init_checkpoint is None


def test_load_names_the_file(tmp_path):
    bad = tmp_path / 'bad.yaml'
    bad.write_text('optim: {warmup: 3}\n')
    with pytest.raises(ValueError, match='bad.yaml'):
        load_train_config(bad)
    with pytest.raises(ValueError, match='no such training config'):
        load_train_config(tmp_path / 'missing.yaml')
