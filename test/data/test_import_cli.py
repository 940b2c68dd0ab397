"""`sata import` and the reader registry."""

import argparse
import json

from dataset_fixtures import (
    make_davis, make_depthtrack, make_mot17, make_rgbt, make_visevent, save)
import numpy as np
import pytest

from sata_ros.cli import import_data
from sata_ros.data.bag import read_bag
from sata_ros.data.readers import read_dataset, READERS
from sata_ros.data.sequence import DataError, Sequence

FORMATS = ['davis2017', 'depthtrack', 'lasher', 'mot17', 'rgbt234', 'visevent']


def sata(argv: list[str]) -> int:
    """Run `sata <argv>` with only the import subcommand registered."""
    parser = argparse.ArgumentParser(prog='sata')
    import_data.register(parser.add_subparsers(dest='command', required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def fixture(fmt: str, root):
    """Build a fixture of `fmt` under root; return the path to hand to the reader."""
    if fmt in ('lasher', 'rgbt234'):
        return make_rgbt(root, fmt)
    if fmt == 'davis2017':
        return make_davis(root).joinpath('JPEGImages', '480p', 'bear')
    return {'depthtrack': make_depthtrack, 'visevent': make_visevent,
            'mot17': make_mot17}[fmt](root)


def test_registry_names_every_reader():
    assert sorted(READERS) == FORMATS


@pytest.mark.parametrize('fmt', FORMATS)
def test_read_dataset_dispatches_by_name(tmp_path, fmt):
    seq = read_dataset(fmt, fixture(fmt, tmp_path / 'seq'))
    assert isinstance(seq, Sequence) and seq.metadata['dataset'] == fmt
    assert len(list(seq)) == seq.num_frames > 0
    # Bags store the metadata as JSON: it must serialise, with no NaN (not valid JSON).
    assert json.loads(json.dumps(seq.metadata, allow_nan=False)) == seq.metadata


def test_unknown_format_lists_the_known_ones(tmp_path):
    with pytest.raises(DataError, match="unknown dataset format 'kitti'; known formats: "
                                        + ', '.join(FORMATS)):
        read_dataset('kitti', tmp_path)


def test_option_a_reader_does_not_take(tmp_path):
    with pytest.raises(DataError, match="format 'lasher' takes no option sequence; its "
                                        'options: fps'):
        read_dataset('lasher', tmp_path, sequence='bear')


def test_bad_data_prints_the_error_and_returns_1(tmp_path, capsys):
    root = make_depthtrack(tmp_path / 'seq')
    (root / 'groundtruth.txt').write_text('1,2,3,4\n1,2,x,4\n1,2,3,4\n')
    out = tmp_path / 'out.mcap'
    assert sata(['import', '--format', 'depthtrack', str(root), '--out', str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith('sata import: error: ')
    assert "groundtruth.txt:2: cannot parse '1,2,x,4'" in err
    assert not out.exists()


def test_option_for_another_format_is_an_error(tmp_path, capsys):
    root = make_rgbt(tmp_path / 'seq', 'lasher')
    argv = ['import', '--format', 'lasher', str(root), '--out', str(tmp_path / 'o.mcap'),
            '--sequence', 'bear']
    assert sata(argv) == 1
    assert 'takes no option sequence' in capsys.readouterr().err


@pytest.mark.parametrize('argv', [
    ['import', '--format', 'kitti', 'd', '--out', 'o.mcap'],
    ['import', '--format', 'mot17', 'd', '--out', 'o.mcap', '--fps', '0'],
    ['import', '--format', 'mot17', 'd', '--out', 'o.mcap', '--fps', 'fast'],
    ['import', '--format', 'mot17', 'd'],
])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        sata(argv)
    assert exc.value.code == 2
    assert 'error:' in capsys.readouterr().err


def test_imports_a_sequence_into_a_bag(tmp_path, capsys):
    root = make_davis(tmp_path / 'DAVIS')
    out = tmp_path / 'bear.mcap'
    argv = ['import', '--format', 'davis2017', str(root), '--sequence', 'bear', '--out',
            str(out), '--fps', '12']
    assert sata(argv) == 0
    assert f'wrote {out} (4 frames of bear, rgb)' in capsys.readouterr().out
    back = list(read_bag(out))
    source = list(read_dataset('davis2017', root, sequence='bear', fps=12))
    assert len(back) == len(source) == 4
    for mine, theirs in zip(source, back):
        assert theirs.stamp_ns == mine.stamp_ns
        assert [o.target_id for o in theirs.objects] == [o.target_id for o in mine.objects]
        assert np.allclose([o.box for o in theirs.objects], [o.box for o in mine.objects])
        assert all(np.array_equal(a.mask, b.mask) for a, b in zip(mine.objects, theirs.objects))


def test_existing_output_is_not_overwritten(tmp_path, capsys):
    root = make_mot17(tmp_path / 'seq')
    out = tmp_path / 'taken.mcap'
    out.write_bytes(b'keep me')
    assert sata(['import', '--format', 'mot17', str(root), '--out', str(out)]) == 1
    assert 'sata import: error: ' in capsys.readouterr().err
    assert out.read_bytes() == b'keep me'


def test_failure_mid_sequence_leaves_no_bag(tmp_path, capsys):
    root = make_depthtrack(tmp_path / 'seq')
    # Frame 3's depth is only checked when frame 3 is produced, i.e. while writing.
    save(root / 'depth' / '00000003.png', np.zeros((5, 5), np.uint16))
    out = tmp_path / 'partial.mcap'
    assert sata(['import', '--format', 'depthtrack', str(root), '--out', str(out)]) == 1
    assert '00000003.png: image is 5x5' in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ['seq']
