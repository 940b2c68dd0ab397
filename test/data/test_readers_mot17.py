"""MOT17 reader: seqinfo.ini timing, evaluated pedestrians, ignored rows kept aside."""

import shutil

from dataset_fixtures import (
    assert_bag_round_trip, assert_mean_colour, flat_rgb, H, make_mot17, MOT_SEQINFO, save,
    stamps, W)
import numpy as np
import pytest

from sata_ros.data.readers import read_dataset
from sata_ros.data.readers.mot17 import read_mot17
from sata_ros.data.sequence import DataError


def test_reads_pedestrians_and_timing_from_seqinfo(tmp_path):
    seq = read_mot17(make_mot17(tmp_path / 'MOT17-99-FRCNN'))
    assert seq.name == 'MOT17-99-FRCNN'
    assert seq.num_frames == 4
    assert seq.modalities == ('rgb',)
    assert seq.frame_period_ns == 40_000_000  # frameRate=25
    assert seq.metadata['fps'] == 25.0 and seq.metadata['ground_truth'] is True
    assert (seq.rgb_camera.width, seq.rgb_camera.height) == (W, H)
    frames = list(seq)
    assert [f.stamp_ns for f in frames] == stamps(4, 40_000_000)
    for k, frame in enumerate(frames):
        assert frame.rgb.shape == (H, W, 3) and frame.rgb.dtype == np.uint8
        assert_mean_colour(frame.rgb, flat_rgb(k))
    summary = [[(o.target_id, o.box, o.visibility) for o in f.objects] for f in frames]
    assert summary == [
        [(1, (10.0, 4.0, 6.0, 12.0), 0.25), (3, (0.0, 1.0, 5.0, 9.0), 1.0)],
        [(1, (11.0, 4.0, 6.0, 12.0), 0.0), (3, (1.0, 2.0, 5.0, 9.0), 0.5)],
        [],
        [],
    ]
    for obj in frames[0].objects + frames[1].objects:
        assert obj.label == 'pedestrian'
        assert obj.full_box == obj.box  # MOT boxes are full-extent boxes
        assert obj.mask is None


def test_ignored_rows_are_kept_in_metadata(tmp_path):
    meta = read_mot17(make_mot17(tmp_path / 's')).metadata
    assert meta['ignored_gt']['columns'] == ['frame_index', 'id', 'x', 'y', 'w', 'h',
                                             'conf_flag', 'class', 'visibility']
    assert meta['ignored_gt']['rows'] == [
        [0, 7, 20.0, 3.0, 4.0, 8.0, 0, 1, 1.0],     # zero-marked pedestrian
        [1, 5, 25.0, 10.0, 5.0, 10.0, 1, 7, 0.8],   # static person
        [2, 9, 2.0, 2.0, 8.0, 8.0, 1, 3, 1.0],      # car
    ]
    assert meta['classes']['7'] == 'static_person' and meta['classes']['12'] == 'reflection'


def test_fps_argument_overrides_seqinfo(tmp_path):
    seq = read_dataset('mot17', make_mot17(tmp_path / 's'), fps=50)
    assert seq.frame_period_ns == 20_000_000
    assert [f.stamp_ns for f in seq] == stamps(4, 20_000_000)


def test_test_split_without_gt_folder(tmp_path):
    root = make_mot17(tmp_path / 's')
    shutil.rmtree(root / 'gt')
    seq = read_mot17(root)
    assert seq.metadata['ground_truth'] is False
    assert [f.objects for f in seq] == [[], [], [], []]


def test_gt_folder_without_gt_txt(tmp_path):
    root = make_mot17(tmp_path / 's')
    (root / 'gt' / 'gt.txt').unlink()
    with pytest.raises(DataError, match=r'gt/gt.txt: no such file'):
        read_mot17(root)


@pytest.mark.parametrize('bad', [
    '1,1,0,0,5,5,1,1',            # 8 columns
    '1,1,0,0,5,5,1,1,0.5,7',      # 10 columns
    '1,1,a,0,5,5,1,1,0.5',        # not a number
    '0,1,0,0,5,5,1,1,0.5',        # frame 0 (1-based)
    '5,1,0,0,5,5,1,1,0.5',        # frame past seqLength
    '1.5,1,0,0,5,5,1,1,0.5',      # fractional frame
    '1,0,0,0,5,5,1,1,0.5',        # id 0
    '1,1,0,0,5,5,1,14,0.5',       # unknown class
    '1,1,0,0,-5,5,1,1,0.5',       # negative width
    '1,1,0,0,5,5,1,1,1.5',        # visibility > 1
    '1,1,0,nan,5,5,1,1,0.5',      # NaN coordinate
])
def test_unparsable_gt_line_names_file_line_and_text(tmp_path, bad):
    root = make_mot17(tmp_path / 's', gt=['1,1,0,0,5,5,1,1,1', bad])
    with pytest.raises(DataError) as exc:
        read_mot17(root)
    assert 'gt.txt:2: cannot parse' in str(exc.value)
    assert repr(bad) in str(exc.value)


def test_duplicate_id_in_a_frame(tmp_path):
    root = make_mot17(tmp_path / 's', gt=['1,1,0,0,5,5,1,1,1', '2,1,0,0,5,5,1,1,1',
                                          '1,1,3,3,5,5,0,8,1'])
    with pytest.raises(DataError, match=r'gt.txt:3: id 1 appears twice in frame 1 \(first on '
                                        r'line 1\)'):
        read_mot17(root)


def test_seq_length_must_match_images(tmp_path):
    root = make_mot17(tmp_path / 's')
    (root / 'img1' / '000004.jpg').unlink()
    with pytest.raises(DataError, match=r'seqinfo.ini: seqLength=4, but .*img1 holds 3 frames'):
        read_mot17(root)


def test_image_gap(tmp_path):
    root = make_mot17(tmp_path / 's')
    (root / 'img1' / '000002.jpg').unlink()
    with pytest.raises(DataError, match=r'img1: frame 2 missing between 000001.jpg and '
                                        r'000003.jpg'):
        read_mot17(root)


def test_image_size_must_match_seqinfo(tmp_path):
    root = make_mot17(tmp_path / 's')
    save(root / 'img1' / '000001.jpg', np.zeros((H, W + 8, 3), np.uint8))
    with pytest.raises(DataError, match=r'000001.jpg: image is 40x24, expected 32x24 '
                                        r'\(imWidth x imHeight of seqinfo.ini\)'):
        read_mot17(root)


@pytest.mark.parametrize('edit, message', [
    (lambda text: text.replace('frameRate=25\n', ''), r'\[Sequence\] has no frameRate'),
    (lambda text: text.replace('imWidth=32', 'imWidth=wide'), r"imWidth='wide' is not a"),
    (lambda text: text.replace('seqLength=4', 'seqLength=0'), r'seqLength=0; expected a pos'),
    (lambda text: text.replace('[Sequence]', '[Seq]'), r'no \[Sequence\] section'),
    (lambda text: 'imWidth=3\n' + text, r'not a readable ini file'),
])
def test_bad_seqinfo(tmp_path, edit, message):
    root = make_mot17(tmp_path / 's')
    (root / 'seqinfo.ini').write_text(edit(MOT_SEQINFO.format(n=4, w=W, h=H)))
    with pytest.raises(DataError, match='seqinfo.ini: ' + message):
        read_mot17(root)


def test_wrong_layout_missing_and_empty(tmp_path):
    save(tmp_path / 's' / 'img1' / '000001.jpg', flat_rgb(0))
    with pytest.raises(DataError, match=r'missing seqinfo.ini; expected a MOT17 sequence '
                                        r'folder'):
        read_mot17(tmp_path / 's')
    with pytest.raises(DataError, match=r'gone: no such directory'):
        read_mot17(tmp_path / 'gone')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(DataError, match=r'empty: directory is empty'):
        read_mot17(tmp_path / 'empty')


def test_bag_round_trip(tmp_path):
    assert_bag_round_trip(read_mot17(make_mot17(tmp_path / 'MOT17-99-FRCNN')), tmp_path)
