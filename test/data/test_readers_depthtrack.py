"""DepthTrack reader: colour + 16-bit depth, NaN = absent target."""

from dataset_fixtures import (
    assert_bag_round_trip, assert_mean_colour, depth_map, flat_rgb, H, make_depthtrack, save,
    stamps, W, write_lines)
import numpy as np
import pytest

from sata_ros.data.readers import read_dataset
from sata_ros.data.readers.depthtrack import read_depthtrack
from sata_ros.data.sequence import DataError


def test_reads_colour_depth_boxes_and_stamps(tmp_path):
    seq = read_depthtrack(make_depthtrack(tmp_path / 'bag01_indoor'))
    assert seq.name == 'bag01_indoor'
    assert seq.num_frames == 3
    assert seq.modalities == ('rgb', 'depth')
    assert seq.thermal_camera is None
    assert (seq.rgb_camera.width, seq.rgb_camera.height) == (W, H)
    assert seq.metadata['depth_unit'] == 'mm'
    frames = list(seq)
    assert [f.stamp_ns for f in frames] == stamps(3)
    for k, frame in enumerate(frames):
        assert frame.rgb.shape == (H, W, 3) and frame.rgb.dtype == np.uint8
        assert_mean_colour(frame.rgb, flat_rgb(k))
        assert frame.depth.dtype == np.uint16
        assert np.array_equal(frame.depth, depth_map(k))  # 16-bit PNG is lossless
        assert frame.thermal is None and frame.event_image is None
    boxes = [f.objects[0].box for f in frames]
    assert boxes == [(1.0, 2.0, 12.0, 10.0), (0.0, 0.0, 0.0, 0.0), (2.0, 3.0, 12.0, 10.0)]
    assert [f.objects[0].visibility for f in frames][1] == 0.0
    assert [f.objects[0].visible for f in frames] == [True, False, True]


def test_depth_range_survives_beyond_15_bits(tmp_path):
    root = make_depthtrack(tmp_path / 's')
    far = np.full((H, W), 65535, np.uint16)
    far[0, 0] = 0  # no return
    save(root / 'depth' / '00000002.png', far)
    frames = list(read_depthtrack(root))
    assert np.array_equal(frames[1].depth, far)


def test_fps_override(tmp_path):
    seq = read_dataset('depthtrack', make_depthtrack(tmp_path / 's'), fps=5)
    assert [f.stamp_ns for f in seq] == stamps(3, 200_000_000)


def test_depth_of_wrong_size_names_the_depth_file(tmp_path):
    root = make_depthtrack(tmp_path / 's')
    save(root / 'depth' / '00000001.png', np.zeros((H, W - 1), np.uint16))
    with pytest.raises(DataError, match=r'depth/00000001.png: image is 31x24, expected 32x24 '
                                        r'\(the size of the registered colour frame\)'):
        read_depthtrack(root)


def test_depth_of_wrong_size_in_a_later_frame_fails_when_produced(tmp_path):
    root = make_depthtrack(tmp_path / 's')
    save(root / 'depth' / '00000003.png', np.zeros((H * 2, W * 2), np.uint16))
    frames = read_depthtrack(root).frames()
    next(frames), next(frames)
    with pytest.raises(DataError, match=r'00000003.png: image is 64x48, expected 32x24'):
        next(frames)


def test_8_bit_depth_is_rejected(tmp_path):
    root = make_depthtrack(tmp_path / 's')
    save(root / 'depth' / '00000001.png', np.zeros((H, W), np.uint8))
    with pytest.raises(DataError, match=r"00000001.png: image mode 'L'; expected a 16-bit"):
        read_depthtrack(root)


def test_depth_frame_missing(tmp_path):
    root = make_depthtrack(tmp_path / 's')
    (root / 'depth' / '00000003.png').unlink()
    with pytest.raises(DataError, match=r'depth: no frame 3 \(the counterpart of '
                                        r'00000003.jpg\)'):
        read_depthtrack(root)


def test_colour_gap(tmp_path):
    root = make_depthtrack(tmp_path / 's')
    (root / 'color' / '00000002.jpg').unlink()
    with pytest.raises(DataError, match=r'color: frame 2 missing between 00000001.jpg and '
                                        r'00000003.jpg'):
        read_depthtrack(root)


def test_numbering_must_start_at_1(tmp_path):
    root = make_depthtrack(tmp_path / 's')
    for folder, suffix in (('color', 'jpg'), ('depth', 'png')):
        (root / folder / f'00000001.{suffix}').unlink()
    write_lines(root / 'groundtruth.txt', ['1,2,3,4'] * 2)
    with pytest.raises(DataError, match=r'first frame is 00000002.jpg .*start at 1'):
        read_depthtrack(root)


def test_gt_line_count(tmp_path):
    root = make_depthtrack(tmp_path / 's')
    write_lines(root / 'groundtruth.txt', ['1,2,3,4'] * 4)
    with pytest.raises(DataError, match=r'groundtruth.txt: 4 lines, but .*color holds 3'):
        read_depthtrack(root)


@pytest.mark.parametrize('bad', ['NaN,1,2,3', '1;2;3;4', '', 'inf,1,2,3'])
def test_unparsable_gt_line(tmp_path, bad):
    root = make_depthtrack(tmp_path / 's')
    write_lines(root / 'groundtruth.txt', ['1,2,3,4', bad, '1,2,3,4'])
    with pytest.raises(DataError, match=r'groundtruth.txt:2: ') as exc:
        read_depthtrack(root)
    if bad:
        assert repr(bad) in str(exc.value)


def test_missing_and_empty_directory(tmp_path):
    with pytest.raises(DataError, match='missing: no such directory; expected a DepthTrack'):
        read_depthtrack(tmp_path / 'missing')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(DataError, match='empty: directory is empty; expected a DepthTrack'):
        read_depthtrack(tmp_path / 'empty')


def test_wrong_layout(tmp_path):
    save(tmp_path / 's' / 'color' / '00000001.jpg', flat_rgb(0))
    with pytest.raises(DataError, match=r'missing depth/, groundtruth.txt; expected a '
                                        r'DepthTrack sequence folder with color/'):
        read_depthtrack(tmp_path / 's')


def test_not_an_image(tmp_path):
    root = make_depthtrack(tmp_path / 's')
    (root / 'color' / '00000001.jpg').write_bytes(b'not a jpeg')
    with pytest.raises(DataError, match=r'00000001.jpg: not a readable image'):
        read_depthtrack(root)


def test_bag_round_trip(tmp_path):
    assert_bag_round_trip(read_depthtrack(make_depthtrack(tmp_path / 'seq')), tmp_path)
