"""DAVIS 2017 reader: palettised masks to per-object masks and tight boxes."""

from dataset_fixtures import (
    assert_bag_round_trip, assert_mean_colour, davis_labels, flat_rgb, H, make_davis, save,
    save_palettised, stamps, W)
import numpy as np
import pytest

from sata_ros.data.readers import read_dataset
from sata_ros.data.readers.common import START_NS
from sata_ros.data.readers.davis import mask_box, read_davis2017
from sata_ros.data.sequence import DataError

ANNOTATIONS = ('Annotations', '480p', 'bear')
IMAGES = ('JPEGImages', '480p', 'bear')


def test_reads_masks_boxes_and_absence(tmp_path):
    root = make_davis(tmp_path / 'DAVIS')
    seq = read_davis2017(root, sequence='bear')
    assert seq.name == 'bear'
    assert seq.num_frames == 4
    assert seq.modalities == ('rgb',)
    assert seq.frame_period_ns == 41_666_667  # 24 fps
    assert seq.metadata['object_ids'] == [1, 2]
    assert seq.metadata['annotated_frames'] == 'all'
    frames = list(seq)
    assert [f.stamp_ns for f in frames] == stamps(4, 41_666_667)
    for k, frame in enumerate(frames):
        assert frame.rgb.shape == (H, W, 3) and frame.rgb.dtype == np.uint8
        assert_mean_colour(frame.rgb, flat_rgb(k))
        labels = davis_labels(k)
        one, two = frame.objects
        assert [one.target_id, two.target_id] == [1, 2]
        assert one.label == two.label == 'object'
        for obj in (one, two):
            assert obj.mask.dtype == bool and obj.mask.shape == (H, W)
            assert np.array_equal(obj.mask, labels == obj.target_id)
        assert one.box == (5.0 + k, 4.0, 4.0, 4.0) and one.visibility == 1.0
        if k == 2:
            assert two.box == (0.0, 0.0, 0.0, 0.0) and two.visibility == 0.0
            assert not two.mask.any()
        else:
            assert two.box == (20.0, 12.0, 3.0, 8.0) and two.visibility == 1.0
        # Void pixels belong to no object.
        assert not (frame.instance_mask()[labels == 255]).any()


def test_sequence_folder_form_equals_root_form(tmp_path):
    root = make_davis(tmp_path / 'DAVIS')
    by_root = read_davis2017(root, sequence='bear')
    by_folder = read_dataset('davis2017', root.joinpath(*IMAGES))
    assert by_folder.name == 'bear' and by_folder.metadata['resolution'] == '480p'
    for a, b in zip(by_root, by_folder):
        assert [o.box for o in a.objects] == [o.box for o in b.objects]
        assert all(np.array_equal(x.mask, y.mask) for x, y in zip(a.objects, b.objects))


def test_object_first_seen_later_is_listed_from_then(tmp_path):
    root = make_davis(tmp_path / 'DAVIS')
    labels = davis_labels(3)
    labels[0:2, 0:3] = 3
    save_palettised(root.joinpath(*ANNOTATIONS, '00003.png'), labels)
    frames = list(read_davis2017(root, sequence='bear'))
    assert [o.target_id for o in frames[2].objects] == [1, 2]
    assert [o.target_id for o in frames[3].objects] == [1, 2, 3]
    assert frames[3].objects[2].box == (0.0, 0.0, 3.0, 2.0)


def test_first_frame_only_annotation(tmp_path):
    root = make_davis(tmp_path / 'DAVIS', annotated=1)
    seq = read_davis2017(root, sequence='bear', fps=12)
    assert seq.metadata['annotated_frames'] == [0]
    frames = list(seq)
    assert [len(f.objects) for f in frames] == [2, 0, 0, 0]
    assert frames[1].stamp_ns == START_NS + 83_333_333


def test_mask_box_is_tight_in_pixel_edges():
    mask = np.zeros((5, 6), bool)
    assert mask_box(mask) == (0.0, 0.0, 0.0, 0.0)
    mask[2, 3] = True
    assert mask_box(mask) == (3.0, 2.0, 1.0, 1.0)
    mask[4, 0] = True
    assert mask_box(mask) == (0.0, 2.0, 4.0, 3.0)


def test_missing_annotation_in_the_middle(tmp_path):
    root = make_davis(tmp_path / 'DAVIS')
    root.joinpath(*ANNOTATIONS, '00002.png').unlink()
    with pytest.raises(DataError, match=r'bear: frame 2 missing between 00001.png and '
                                        r'00003.png'):
        read_davis2017(root, sequence='bear')


def test_fewer_annotations_than_frames(tmp_path):
    root = make_davis(tmp_path / 'DAVIS', annotated=3)
    with pytest.raises(DataError, match=r'bear: 3 annotations for 4 frames .*expected one per '
                                        r'frame, or only the first'):
        read_davis2017(root, sequence='bear')


def test_frame_gap(tmp_path):
    root = make_davis(tmp_path / 'DAVIS')
    root.joinpath(*IMAGES, '00001.jpg').unlink()
    with pytest.raises(DataError, match=r'frame 1 missing between 00000.jpg and 00002.jpg'):
        read_davis2017(root, sequence='bear')


def test_colour_annotation_is_rejected(tmp_path):
    root = make_davis(tmp_path / 'DAVIS')
    save(root.joinpath(*ANNOTATIONS, '00000.png'), np.zeros((H, W, 3), np.uint8))
    with pytest.raises(DataError, match=r"00000.png: image mode 'RGB'; expected a palettised"):
        read_davis2017(root, sequence='bear')


def test_annotation_of_wrong_size_fails_when_its_frame_is_produced(tmp_path):
    root = make_davis(tmp_path / 'DAVIS')
    save_palettised(root.joinpath(*ANNOTATIONS, '00001.png'), np.zeros((H, W + 1), np.uint8))
    frames = read_davis2017(root, sequence='bear').frames()
    next(frames)
    with pytest.raises(DataError, match=r'00001.png: image is 33x24, expected 32x24'):
        next(frames)


def test_root_without_sequence_lists_the_sequences(tmp_path):
    root = make_davis(tmp_path / 'DAVIS')
    make_davis(root, sequence='camel', n=2)
    with pytest.raises(DataError, match=r'needs sequence=<name> .*480p: bear, camel'):
        read_davis2017(root)
    with pytest.raises(DataError, match=r"no sequence 'dog'; available: bear, camel"):
        read_davis2017(root, sequence='dog')


def test_wrong_layout_missing_and_empty(tmp_path):
    save(tmp_path / 'x' / 'color' / '00000001.jpg', flat_rgb(0))
    with pytest.raises(DataError, match=r'x: neither a DAVIS root .*expected a DAVIS 2017 root'):
        read_davis2017(tmp_path / 'x')
    with pytest.raises(DataError, match=r'nope: no such directory'):
        read_davis2017(tmp_path / 'nope')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(DataError, match=r'empty: directory is empty'):
        read_davis2017(tmp_path / 'empty')


def test_missing_annotation_folder(tmp_path):
    root = make_davis(tmp_path / 'DAVIS')
    for png in root.joinpath(*ANNOTATIONS).iterdir():
        png.unlink()
    root.joinpath(*ANNOTATIONS).rmdir()
    with pytest.raises(DataError, match=r'Annotations/480p/bear: no such directory'):
        read_davis2017(root, sequence='bear')


def test_bag_round_trip(tmp_path):
    seq = read_davis2017(make_davis(tmp_path / 'DAVIS'), sequence='bear')
    back = assert_bag_round_trip(seq, tmp_path)
    # The absent object of frame 2 stays in the bag as out of view, with an empty mask.
    absent = list(back)[2].objects[1]
    assert (absent.target_id, absent.visible, absent.visibility) == (2, False, 0.0)
    assert not absent.mask.any()
