"""`sata synth`: writes the scene bag, reports it, and rejects bad arguments clearly."""

import json

import pytest

from sata_ros.cli.main import main
from sata_ros.data.bag import read_bag


def test_synth_writes_a_bag_and_prints_a_summary(tmp_path, capsys):
    out = tmp_path / 'scene.mcap'
    assert main(['synth', '--seed', '4', '--frames', '5', '--size', '40x30',
                 '--modalities', 'rgb,depth', '--out', str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary == {'out': str(out), 'frames': 5, 'seed': 4, 'modalities': ['rgb', 'depth'],
                       'bytes': out.stat().st_size}
    seq = read_bag(out)
    assert (seq.num_frames, seq.modalities) == (5, ('rgb', 'depth'))
    assert (seq.rgb_camera.width, seq.rgb_camera.height) == (40, 30)


def test_synth_options_reach_the_scene(tmp_path, capsys):
    out = tmp_path / 'dir_bag'
    assert main(['synth', '--frames', '3', '--size', '32x24', '--thermal-size', '16x12',
                 '--thermal-fps', '30', '--depth-encoding', '32FC1', '--objects', '2',
                 '--distractors', '0', '--no-noise', '--no-illumination-change',
                 '--out', str(out)]) == 0
    seq = read_bag(out)
    frames = list(seq)
    assert (seq.thermal_camera.width, seq.thermal_camera.height) == (16, 12)
    assert all(f.thermal is not None for f in frames[1:]), 'thermal at the RGB rate'
    assert frames[0].depth.dtype.name == 'float32'
    assert seq.metadata['config']['num_objects'] == 2
    assert seq.metadata['config']['sensor_noise'] is False


def test_synth_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / 'x.mcap'
    out.write_bytes(b'keep')
    assert main(['synth', '--frames', '2', '--out', str(out)]) == 1
    assert 'already exists' in capsys.readouterr().err
    assert out.read_bytes() == b'keep'


@pytest.mark.parametrize('args, message', [
    (['--size', '10x10'], 'image size must be at least 16x16'),
    (['--frames', '0'], 'num_frames must be >= 1'),
])
def test_synth_bad_settings_exit_1_with_reason(tmp_path, capsys, args, message):
    assert main(['synth', '--out', str(tmp_path / 'y.mcap'), *args]) == 1
    assert message in capsys.readouterr().err


@pytest.mark.parametrize('args, message', [
    (['--size', 'big'], 'expected WIDTHxHEIGHT'),
    (['--modalities', 'rgb,lidar'], "unknown modalities ['lidar']"),
])
def test_synth_bad_arguments_are_usage_errors(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exc:
        main(['synth', '--out', str(tmp_path / 'z.mcap'), *args])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
