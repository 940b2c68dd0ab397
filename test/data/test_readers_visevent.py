"""VisEvent reader: APS/RGB frames + pre-rendered event frames, absent labels."""

from dataset_fixtures import (
    assert_bag_round_trip, event_frame, H, make_visevent, save, stamps, textured_rgb,
    VISEVENT_FIRST, W, write_lines)
import numpy as np
import pytest

from sata_ros.data.readers import read_dataset
from sata_ros.data.readers.visevent import read_visevent
from sata_ros.data.sequence import DataError


def test_reads_frames_event_images_and_absence(tmp_path):
    seq = read_visevent(make_visevent(tmp_path / 'dvSave-2021_02_06_10_11_59'))
    assert seq.name == 'dvSave-2021_02_06_10_11_59'
    assert seq.num_frames == 4
    assert seq.modalities == ('rgb', 'event_image')
    assert seq.metadata['first_frame_number'] == VISEVENT_FIRST
    assert 'raw_events_not_read' not in seq.metadata
    frames = list(seq)
    assert [f.stamp_ns for f in frames] == stamps(4)
    for k, frame in enumerate(frames):
        # BMP is lossless: pixels match exactly, in frame-number order.
        assert frame.rgb.dtype == np.uint8 and np.array_equal(frame.rgb, textured_rgb(k))
        assert frame.event_image.dtype == np.uint8
        assert np.array_equal(frame.event_image, event_frame(k))
        assert frame.events is None and frame.depth is None
    boxes = [f.objects[0].box for f in frames]
    # Frame 1: absent_label.txt says 0 although a box is written; frame 3: 0,0,0,0.
    assert boxes == [(4.0, 5.0, 9.0, 7.0), (0.0, 0.0, 0.0, 0.0), (6.0, 5.0, 9.0, 7.0),
                     (0.0, 0.0, 0.0, 0.0)]
    assert [f.objects[0].visibility for f in frames][1::2] == [0.0, 0.0]


def test_irregular_start_is_sorted_numerically(tmp_path):
    root = make_visevent(tmp_path / 's')
    # frame0010 must come after frame0009 even where plain string order would differ.
    for folder in ('vis_imgs', 'event_imgs'):
        (root / folder / 'frame0010.bmp').rename(root / folder / 'frame10.bmp')
    frames = list(read_visevent(root))
    assert np.array_equal(frames[3].rgb, textured_rgb(3))


def test_raw_events_only_is_rejected_with_what_is_supported(tmp_path):
    root = tmp_path / 's'
    write_lines(root / 'groundtruth.txt', ['1,2,3,4'])
    (root / 's.aedat4').write_bytes(b'#!AER-DAT4.0\r\n')
    with pytest.raises(DataError) as exc:
        read_visevent(root)
    message = str(exc.value)
    assert 's.aedat4: raw .aedat4 events are not supported' in message
    assert 'vis_imgs/*.bmp, event_imgs/*.bmp' in message


def test_raw_events_next_to_frames_are_named_in_metadata(tmp_path):
    root = make_visevent(tmp_path / 's')
    (root / 's.aedat4').write_bytes(b'#!AER-DAT4.0\r\n')
    assert read_visevent(root).metadata['raw_events_not_read'] == ['s.aedat4']


def test_fps_override(tmp_path):
    seq = read_dataset('visevent', make_visevent(tmp_path / 's'), fps=25)
    assert [f.stamp_ns for f in seq] == stamps(4, 40_000_000)


@pytest.mark.parametrize('bad', ['2', 'x', '1,0'])
def test_unparsable_absent_label(tmp_path, bad):
    root = make_visevent(tmp_path / 's')
    write_lines(root / 'absent_label.txt', ['1', '1', bad, '1'])
    with pytest.raises(DataError, match=r'absent_label.txt:3: cannot parse') as exc:
        read_visevent(root)
    assert repr(bad) in str(exc.value)


def test_absent_label_count(tmp_path):
    root = make_visevent(tmp_path / 's')
    write_lines(root / 'absent_label.txt', ['1'] * 3)
    with pytest.raises(DataError, match=r'absent_label.txt: 3 lines, but .*vis_imgs holds 4'):
        read_visevent(root)


def test_gt_count_and_parse(tmp_path):
    root = make_visevent(tmp_path / 's')
    write_lines(root / 'groundtruth.txt', ['1,2,3,4'] * 5)
    with pytest.raises(DataError, match=r'groundtruth.txt: 5 lines, but .*vis_imgs holds 4'):
        read_visevent(root)
    write_lines(root / 'groundtruth.txt', ['1,2,3,4', '1,2,3,4', '1,2,3,4', '1,2,3'])
    with pytest.raises(DataError, match=r"groundtruth.txt:4: cannot parse '1,2,3'"):
        read_visevent(root)


def test_event_frame_missing_or_gap(tmp_path):
    root = make_visevent(tmp_path / 's')
    (root / 'event_imgs' / 'frame0009.bmp').unlink()
    with pytest.raises(DataError, match=r'event_imgs: frame 9 missing between frame0008.bmp '
                                        r'and frame0010.bmp'):
        read_visevent(root)


def test_event_frame_of_wrong_size(tmp_path):
    root = make_visevent(tmp_path / 's')
    save(root / 'event_imgs' / 'frame0007.bmp', np.zeros((H, W + 4, 3), np.uint8))
    with pytest.raises(DataError, match=r'event_imgs/frame0007.bmp: image is 36x24'):
        read_visevent(root)


def test_wrong_layout_and_missing_directory(tmp_path):
    save(tmp_path / 's' / 'vis_imgs' / 'frame0001.bmp', textured_rgb(0))
    with pytest.raises(DataError, match=r'missing event_imgs/, groundtruth.txt, '
                                        r'absent_label.txt; expected a VisEvent'):
        read_visevent(tmp_path / 's')
    with pytest.raises(DataError, match=r'nothing: no such directory'):
        read_visevent(tmp_path / 'nothing')


def test_bag_round_trip(tmp_path):
    assert_bag_round_trip(read_visevent(make_visevent(tmp_path / 'seq')), tmp_path)
