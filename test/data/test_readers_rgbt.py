"""LasHeR and RGBT234 readers: visible + infrared frames, per-modality boxes."""

import math

from dataset_fixtures import (
    assert_bag_round_trip, assert_mean_colour, flat_grey, flat_rgb, H, make_rgbt,
    RGBT_BOXES, RGBT_IR_BOXES, save, stamps, W, write_lines)
import numpy as np
import pytest

from sata_ros.data.readers import read_dataset
from sata_ros.data.readers.common import START_NS
from sata_ros.data.readers.rgbt import read_lasher, read_rgbt234
from sata_ros.data.sequence import DataError

DATASETS = ['lasher', 'rgbt234']
READ = {'lasher': read_lasher, 'rgbt234': read_rgbt234}


@pytest.mark.parametrize('dataset', DATASETS)
def test_reads_frames_boxes_and_stamps(tmp_path, dataset):
    root = make_rgbt(tmp_path / 'seq1', dataset)
    seq = READ[dataset](root)
    assert seq.name == 'seq1'
    assert seq.num_frames == 4
    assert seq.modalities == ('rgb', 'thermal')
    assert (seq.rgb_camera.width, seq.rgb_camera.height) == (W, H)
    assert (seq.thermal_camera.width, seq.thermal_camera.height) == (W, H)
    assert seq.start_ns == START_NS
    assert seq.frame_period_ns == 33_333_333
    assert seq.metadata['dataset'] == dataset
    assert seq.metadata['infrared_boxes'] == [list(map(float, b)) for b in RGBT_IR_BOXES]
    frames = list(seq)
    assert [f.index for f in frames] == [0, 1, 2, 3]
    assert [f.stamp_ns for f in frames] == stamps(4)
    for k, frame in enumerate(frames):
        assert frame.rgb.shape == (H, W, 3) and frame.rgb.dtype == np.uint8
        assert frame.thermal.shape == (H, W) and frame.thermal.dtype == np.uint8
        assert frame.thermal_stamp_ns == frame.stamp_ns
        assert frame.depth is None and frame.events is None and frame.event_image is None
        assert_mean_colour(frame.rgb, flat_rgb(k))
        assert_mean_colour(frame.thermal, flat_grey(k))
        (obj,) = frame.objects
        assert (obj.target_id, obj.label) == (1, 'target')
        assert obj.box == tuple(float(v) for v in RGBT_BOXES[k])
        if k == 2:  # w = h = 0 in visible.txt: absent
            assert not obj.visible and obj.visibility == 0.0
        else:
            assert obj.visible and math.isnan(obj.visibility)


@pytest.mark.parametrize('dataset', DATASETS)
def test_fps_override_sets_period_and_stamps(tmp_path, dataset):
    seq = read_dataset(dataset, make_rgbt(tmp_path / 's', dataset), fps=10)
    assert seq.frame_period_ns == 100_000_000
    assert [f.stamp_ns for f in seq] == stamps(4, 100_000_000)


def test_frames_are_lazy_and_rereadable(tmp_path):
    root = make_rgbt(tmp_path / 's', 'lasher')
    seq = read_lasher(root)
    first = [f.objects[0].box for f in seq.frames()]
    assert [f.objects[0].box for f in seq.frames()] == first
    # Images are read when a frame is produced: removing one after opening only fails there.
    (root / 'visible' / 'v000003.jpg').unlink()
    frames = seq.frames()
    assert next(frames).index == 0
    with pytest.raises(DataError, match='v000003.jpg'):
        list(frames)


def test_gap_in_numbering_is_a_missing_frame(tmp_path):
    root = make_rgbt(tmp_path / 's', 'rgbt234')
    (root / 'visible' / '00002v.jpg').unlink()
    with pytest.raises(DataError, match=r'visible: frame 2 missing between 00001v.jpg and '
                                        r'00003v.jpg'):
        read_rgbt234(root)


def test_infrared_frame_missing(tmp_path):
    root = make_rgbt(tmp_path / 's', 'lasher')
    (root / 'infrared' / 'i000003.jpg').unlink()
    with pytest.raises(DataError, match=r'infrared: no frame 3 \(the counterpart of '
                                        r'v000003.jpg\)'):
        read_lasher(root)


def test_gt_line_count_must_match_frames(tmp_path):
    root = make_rgbt(tmp_path / 's', 'lasher')
    write_lines(root / 'visible.txt', ['1,2,3,4'] * 3)
    with pytest.raises(DataError, match=r'visible.txt: 3 lines, but .*visible holds 4 frames'):
        read_lasher(root)


def test_infrared_gt_line_count_must_match_frames(tmp_path):
    root = make_rgbt(tmp_path / 's', 'rgbt234')
    write_lines(root / 'infrared.txt', ['1,2,3,4'] * 5)
    with pytest.raises(DataError, match=r'infrared.txt: 5 lines, but .*infrared holds 4'):
        read_rgbt234(root)


@pytest.mark.parametrize('bad', ['1,2,3', '1,2,x,4', '1,2,-3,4', '1,2,NaN,4', '1,2,3,4,5'])
def test_unparsable_gt_line_names_file_line_and_text(tmp_path, bad):
    root = make_rgbt(tmp_path / 's', 'lasher')
    write_lines(root / 'visible.txt', ['1,2,3,4', '1,2,3,4', bad, '1,2,3,4'])
    with pytest.raises(DataError) as exc:
        read_lasher(root)
    assert 'visible.txt:3: ' in str(exc.value)
    assert repr(bad) in str(exc.value)


def test_empty_line_inside_gt_is_an_error(tmp_path):
    root = make_rgbt(tmp_path / 's', 'lasher')
    write_lines(root / 'visible.txt', ['1,2,3,4', '', '1,2,3,4', '1,2,3,4'])
    with pytest.raises(DataError, match=r'visible.txt:2: empty line'):
        read_lasher(root)


def test_whitespace_separated_gt_and_trailing_blank_lines_are_accepted(tmp_path):
    root = make_rgbt(tmp_path / 's', 'rgbt234')
    (root / 'visible.txt').write_text('2 3 10 8\n3\t4\t10.5\t8\n0,0,0,0\n5, 6, 11, 9\n\n\n')
    seq = read_rgbt234(root)
    assert [f.objects[0].box for f in seq] == [tuple(map(float, b)) for b in RGBT_BOXES]


def test_thermal_of_another_size_is_rejected(tmp_path):
    root = make_rgbt(tmp_path / 's', 'lasher')
    save(root / 'infrared' / 'i000000.jpg', np.zeros((H + 2, W, 3), np.uint8))
    with pytest.raises(DataError, match=r'i000000.jpg: image is 32x26, expected 32x24'):
        read_lasher(root)


def test_missing_directory(tmp_path):
    with pytest.raises(DataError, match=r'nope: no such directory; expected a LasHeR'):
        read_lasher(tmp_path / 'nope')


def test_empty_directory(tmp_path):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(DataError, match=r'empty: directory is empty; expected an? RGBT234'):
        read_rgbt234(tmp_path / 'empty')


def test_wrong_layout_lists_what_was_expected(tmp_path):
    # A DepthTrack folder handed to the LasHeR reader.
    save(tmp_path / 's' / 'color' / '00000001.jpg', flat_rgb(0))
    write_lines(tmp_path / 's' / 'groundtruth.txt', ['1,2,3,4'])
    with pytest.raises(DataError) as exc:
        read_lasher(tmp_path / 's')
    assert 'missing visible/, infrared/, visible.txt, infrared.txt' in str(exc.value)


def test_frame_without_number(tmp_path):
    root = make_rgbt(tmp_path / 's', 'lasher')
    save(root / 'visible' / 'cover.jpg', flat_rgb(0))
    with pytest.raises(DataError, match='cover.jpg: file name has no frame number'):
        read_lasher(root)


def test_duplicate_frame_number(tmp_path):
    root = make_rgbt(tmp_path / 's', 'rgbt234')
    save(root / 'visible' / '0001v.png', flat_rgb(0))
    with pytest.raises(DataError, match='both carry frame number 1'):
        read_rgbt234(root)


@pytest.mark.parametrize('dataset', DATASETS)
def test_bag_round_trip(tmp_path, dataset):
    seq = READ[dataset](make_rgbt(tmp_path / 'seq', dataset))
    assert_bag_round_trip(seq, tmp_path)
