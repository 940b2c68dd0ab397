"""Node parameters: declarations, the shipped YAML, validation into settings (no DDS)."""

import pytest
from repo import REPO_ROOT

params = pytest.importorskip('sata_ros.ros.params', reason='rclpy missing: run `make setup`')
yaml = pytest.importorskip('yaml')

from sata_ros.model.runtime import RuntimeOptions  # noqa: E402, I100
from sata_ros.tracking.config import TrackerConfig  # noqa: E402


def _defaults() -> dict:
    return {spec.name: spec.default for spec in params.SPECS}


def test_config_yaml_lists_every_parameter_with_its_default():
    text = (REPO_ROOT / 'config' / 'tracker.yaml').read_text()
    assert text == params.yaml_text(), 'regenerate config/tracker.yaml from params.yaml_text()'
    values = yaml.safe_load(text)['/**']['ros__parameters']
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update((f'{key}.{k}', v) for k, v in value.items())
        else:
            flat[key] = value
    assert flat == _defaults()
    assert all(spec.description for spec in params.SPECS)


def test_defaults_give_the_engine_defaults():
    settings = params.read_settings(_defaults())
    assert settings.tracker == TrackerConfig()
    assert settings.runtime == RuntimeOptions()
    assert (settings.variant, settings.checkpoint, settings.enabled) == ('sata_nano', 'default',
                                                                         ())
    assert all(q.reliability == 'best_effort' for q in settings.qos.values())


def test_enabled_modalities_become_policies_and_strict_requires_them():
    values = dict(_defaults(), **{'thermal.enabled': True, 'thermal.tolerance': 0.04,
                                  'events.enabled': True})
    settings = params.read_settings(values)
    thermal = settings.policies[0]
    assert settings.enabled == ('thermal', 'events')
    assert (thermal.name, thermal.tolerance_ns, thermal.required, thermal.reuse) == (
        'thermal', 40_000_000, False, True)
    strict = params.read_settings(dict(values, **{'sync.policy': 'strict'}))
    assert all(p.required and not p.reuse for p in strict.policies)


@pytest.mark.parametrize('change, name', [
    ({'tracker.mode': 'psychic'}, 'tracker.mode'),
    ({'tracker.aux_priority': ['thermal', 'sonar']}, 'tracker.aux_priority'),
    ({'tracker.depth_min_m': 5.0, 'tracker.depth_max_m': 1.0}, 'tracker.depth_max_m'),
    ({'dtype': 'float16'}, 'dtype'),
    ({'device': 'tpu'}, 'device'),
])
def test_invalid_values_name_the_parameter(change, name):
    with pytest.raises(params.ParamError, match=rf'^parameter {name}:') as err:
        params.read_settings(dict(_defaults(), **change))
    assert err.value.name == name


def test_descriptors_carry_ranges_and_read_only_flags():
    spec = params.SPEC_BY_NAME
    score = spec['tracker.detection_score'].descriptor()
    assert (score.floating_point_range[0].from_value, score.floating_point_range[0].to_value) \
        == (0.0, 1.0)
    assert spec['tracker.max_targets'].descriptor().integer_range[0].from_value == 1
    assert spec['device'].descriptor().read_only and spec['checkpoint'].descriptor().read_only
    assert not spec['tracker.mode'].descriptor().read_only
