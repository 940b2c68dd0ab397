"""`sata model-info` and `sata bench`: reports measured from built models."""

import json

from sata_ros.cli.main import main


def test_model_info_json_counts_every_demoe_part(capsys):
    assert main(['model-info', '--variants', 'sata_nano', '--json']) == 0
    report = json.loads(capsys.readouterr().out)
    assert report['variant'] == 'sata_nano' and report['demoe_sites'] == 5
    parts = report['parts']
    for part in ('demoe_shared_experts', 'demoe_common_experts', 'demoe_common_routers',
                 'demoe_prompt_proj', 'demoe_specific_experts', 'demoe_specific_routers',
                 'demoe_modality_routers', 'hiera_trunk_other', 'fpn_neck',
                 'sam_prompt_encoder_mask_decoder', 'sam_memory'):
        assert parts[part] > 0, part
    assert sum(parts.values()) == report['total']
    assert report['trainable'] + report['frozen'] == report['total']
    # Frozen: the shared experts and the rest of the trunk (attention, norms, embeddings).
    assert report['frozen'] == parts['demoe_shared_experts'] + parts['hiera_trunk_other']
    # Four specific groups of four c -> c/8 -> c experts vs four common ones.
    assert parts['demoe_specific_experts'] == 4 * parts['demoe_common_experts']


def test_model_info_unknown_variant(capsys):
    assert main(['model-info', '--variants', 'sata_xl']) == 1
    assert "unknown variants ['sata_xl']" in capsys.readouterr().out


def test_bench_encoder_reports_side_by_side_ratios(capsys):
    assert main(['bench', 'encoder', '--variants', 'sata_nano', '--repeats', '1',
                 '--size', '128']) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    row, machine = lines
    assert row['variant'] == 'sata_nano' and row['input'] == [1, 3, 128, 128]
    for key in ('sam2_1_ms', 'sata_rgb_single_ms', 'sata_rgb_duplicate_ms', 'sata_rgb_x_ms'):
        assert row[key] > 0
    assert row['ratio_rgb_x'] == round(row['sata_rgb_x_ms'] / row['sam2_1_ms'], 3)
    assert machine['machine']['cpu_count'] >= 1
