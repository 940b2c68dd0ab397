"""Tracker building blocks without a model: memory bounds, prompts, configuration."""

import numpy as np
import pytest
from sata_ros.model.sam_steps import MemoryEntry
from sata_ros.tracking.config import TrackerConfig
from sata_ros.tracking.memory import TargetMemory
from sata_ros.tracking.prompts import Prompt
import torch


def entry(value):
    return MemoryEntry(torch.full((4, 2, 2), float(value)), torch.full((8,), float(value)))


def test_target_memory_bounds_and_eviction():
    memory = TargetMemory(max_prompt_frames=3, feature_window=2, pointer_window=5)
    memory.add_prompt(0, entry(0))
    for t in range(1, 200):
        memory.add_recent(t, entry(t))
        if t % 10 == 0:
            memory.add_prompt(t, entry(-t))
        assert len(memory.cond) <= 3 and len(memory.recent) <= 5
        assert memory.feature_maps() <= 3 + 2
    # The first prompt stays; the newest prompts are the others.
    assert sorted(memory.cond) == [0, 180, 190]
    assert sorted(memory.recent) == [195, 196, 197, 198, 199]
    with_features = sorted(t for t, e in memory.recent.items() if e.features is not None)
    assert with_features == [198, 199]
    assert memory.nbytes() == 3 * (16 + 8) * 4 + 2 * 16 * 4 + 5 * 8 * 4
    memory.truncate_from(197)
    assert sorted(memory.recent) == [195, 196]


def test_target_memory_bfloat16_storage():
    memory = TargetMemory(2, 2, 4, dtype=torch.bfloat16)
    memory.add_prompt(0, entry(1.5))
    assert memory.cond[0].features.dtype == torch.bfloat16
    assert memory.nbytes() == (16 + 8) * 2


def test_prompt_validation_clips_and_converts():
    prompt = Prompt.from_box((-10, 5, 50, 500)).validate(100, 80)
    assert prompt.box == (0.0, 5.0, 50.0, 80.0)
    mask = np.zeros((80, 100), np.uint8)
    mask[3, 4] = 1
    checked = Prompt(mask=mask).validate(100, 80)
    assert checked.mask.dtype == bool and checked.mask.sum() == 1
    both = Prompt(box=(1, 2, 30, 40), points=np.array([[5, 6]]),
                  point_labels=np.array([0])).validate(100, 80)
    assert both.kind == 'box+points'


def test_config_errors_name_the_setting():
    with pytest.raises(ValueError, match='mode must be one of'):
        TrackerConfig(mode='sometimes')
    with pytest.raises(ValueError, match='drop_after'):
        TrackerConfig(lost_after=10, drop_after=5)
    with pytest.raises(ValueError, match='unknown tracker settings'):
        TrackerConfig.from_dict({'max_target': 3})
    assert TrackerConfig.from_dict({'aux_priority': ['depth']}).aux_priority == ('depth',)
    with pytest.raises(ValueError, match='prompt_motion must be in'):
        TrackerConfig(prompt_motion=1.5)


@pytest.mark.parametrize('values, says', [
    ({'prompt_motion': 'fast'}, "prompt_motion must be a number, got 'fast'"),
    ({'max_targets': 2.5}, 'max_targets must be an integer, got 2.5'),
    ({'max_targets': True}, 'max_targets must be an integer, got True'),
    ({'mode': 3}, 'mode must be a string, got 3'),
    ({'aux_priority': 'depth'}, "aux_priority must be a list, got 'depth'"),
])
def test_plain_values_of_the_wrong_type_are_refused_naming_the_setting(values, says):
    with pytest.raises(ValueError) as exc:
        TrackerConfig.from_dict(values)
    assert str(exc.value) == says


def test_an_integer_is_a_float_settings_value():
    config = TrackerConfig.from_dict({'prompt_motion': 0, 'mask_threshold': -1})
    assert config.prompt_motion == 0.0 and isinstance(config.prompt_motion, float)
    assert config.mask_threshold == -1.0
