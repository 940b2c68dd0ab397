"""`sata bench tracker`: the streaming-tracker benchmark runs end to end and reports JSON."""

import json

from sata_ros.cli.main import main


def test_bench_tracker_prints_one_json_report(capsys):
    assert main(['bench', 'tracker', '--json', '--frames', '2', '--long-frames', '5',
                 '--long-targets', '2', '--targets', '1,2', '--sam2-frames', '2']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    report = json.loads(lines[-1])
    assert report['variant'] == 'sata_nano' and report['device'] == 'cpu'
    # --checkpoint default: the shipped file, and the notes name the weights actually used.
    assert report['checkpoint'].endswith('sata_nano_synthetic.pt')
    assert report['notes'].endswith(f"Weights: {report['checkpoint']}.")
    assert report['dtype'] == 'float32' and report['image_size'] == 256
    assert set(report['latency_ms']) == {'1', '2'}
    for row in report['latency_ms'].values():
        assert 0 < row['p50'] <= row['p95']
    # 10 targets were not requested: the ratio names the counts it compares.
    assert 'targets_ratio_10_vs_1' not in report
    assert report['targets_ratio_2_vs_1'] > 0
    assert report['rss_mb_start'] > 0 and report['rss_mb_end'] > 0
    assert isinstance(report['rss_growth_pct'], float)
    run = report['long_run']
    assert run['frames'] == 5 and run['targets'] == 2
    assert run['memory_stats']['targets'] == 2 and run['memory_stats']['memory_bytes'] > 0
    for key in ('vs_sam2_video_predictor', 'vs_sam2_video_predictor_single_stream'):
        rows = report[key]
        assert [row['targets'] for row in rows] == [1, 2]
        for row in rows:
            assert row['sata_ms_p50'] > 0 and row['sam2_ms_p50'] > 0
            assert row['ratio'] == round(row['sata_ms_p50'] / row['sam2_ms_p50'], 3)
    machine = report['machine']
    assert machine['cpu_count'] >= 1 and machine['torch_threads'] >= 1
    assert isinstance(machine['torch'], str)


def test_bench_tracker_rejects_bad_options(capsys):
    assert main(['bench', 'tracker', '--targets', '0,2']) == 1
    assert main(['bench', 'tracker', '--variants', 'sata_xl']) == 1
    captured = capsys.readouterr()
    assert captured.out == ''
    assert '--targets' in captured.err and "unknown variant ['sata_xl']" in captured.err
