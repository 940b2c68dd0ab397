"""`sata accuracy`: options, tracker settings and the report (on a tiny scene set)."""

import json

import pytest

from sata_ros.cli.main import main


@pytest.mark.parametrize('setting, says', [
    ('bogus=1', "unknown tracker settings ['bogus']"),
    ('prompt_motion=2', 'prompt_motion must be in [0, 1], got 2'),
    ('prompt_motion=fast', "prompt_motion must be a number, got 'fast'"),
])
def test_bad_tracker_settings_are_refused_naming_them(capsys, setting, says):
    assert main(['accuracy', '--tracker', setting]) == 1
    err = capsys.readouterr().err
    assert err.startswith('sata accuracy: error: --tracker:') and says in err


def test_a_setting_without_a_value_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(['accuracy', '--tracker', 'prompt_motion'])
    assert exc.value.code == 2
    assert 'expected a tracker setting like prompt_motion=0' in capsys.readouterr().err


def test_report_scores_every_condition_with_the_given_settings(tmp_path, capsys):
    out = tmp_path / 'accuracy.json'
    table = tmp_path / 'accuracy.md'
    assert main(['accuracy', '--systems', 'trained,baseline', '--seeds', '5000',
                 '--frames', '4', '--no-mot', '--tracker', 'prompt_motion=0',
                 '--tracker', 'mask_threshold=-0.5', '--json', str(out),
                 '--markdown', str(table)]) == 0
    report = json.loads(out.read_text())
    assert report['tracker'] == {'prompt_motion': 0, 'mask_threshold': -0.5}  # as given
    assert report['settings']['seeds'] == [5000] and report['settings']['num_frames'] == 4
    assert report['checkpoint'].endswith('sata_nano_synthetic.pt')
    for system in ('trained', 'baseline'):
        rows = report['systems'][system]
        assert list(rows) == report['conditions'] and len(rows) == 8
        for row in rows.values():
            assert 0.0 <= row['sot_auc'] <= 1.0 and 0.0 <= row['vos_j_and_f'] <= 1.0
            assert 'mot_hota' not in row
    lines = table.read_text().splitlines()
    assert lines[0].startswith('| condition | SOT AUC (trained)') and len(lines) == 2 + 8


def test_unknown_conditions_are_refused_before_anything_runs(capsys):
    assert main(['accuracy', '--conditions', 'rgb,infrared']) == 1
    err = capsys.readouterr().err
    assert err.startswith("sata accuracy: error: --conditions: unknown conditions ['infrared']")
    assert 'choose from rgb, rgb+depth' in err and 'dark rgb+events' in err
    assert main(['accuracy', '--conditions', ' , ']) == 1
    assert 'unknown conditions []' in capsys.readouterr().err


def test_conditions_limit_the_rows_in_the_benchmark_order(tmp_path, capsys):
    out = tmp_path / 'accuracy.json'
    assert main(['accuracy', '--systems', 'baseline', '--seeds', '5000', '--frames', '4',
                 '--no-mot', '--conditions', 'dark rgb+thermal, rgb', '--json',
                 str(out)]) == 0
    report = json.loads(out.read_text())
    assert report['conditions'] == ['rgb', 'dark rgb+thermal']
    assert list(report['systems']['baseline']) == ['rgb', 'dark rgb+thermal']
    table = capsys.readouterr().out.splitlines()
    assert table[2].startswith('| rgb |') and table[3].startswith('| dark rgb+thermal |')
