"""
MOT17 (multi-object tracking, MOTChallenge format) sequences as `Sequence`s.

Layout of one sequence folder (`MOT17-02-FRCNN/`...): `seqinfo.ini` ([Sequence] imDir,
frameRate, seqLength, imWidth, imHeight, imExt), `img1/000001.jpg...` (seqLength frames numbered
from 1) and `gt/gt.txt`, one line per box: `frame,id,x,y,w,h,conf_flag,class,visibility`
(frame 1-based, box in pixels, visibility in [0, 1]). Test sequences have no `gt/` folder: their
frames carry no objects and `metadata['ground_truth']` is False. `det/` is not read.

Which boxes become objects follows the MOTChallenge evaluation (TrackEval's MOT17
preprocessing): only rows with class 1 (pedestrian) and conf_flag != 0 are evaluated, so only
they are `Frame.objects` (label 'pedestrian'). Every other row (zero-marked pedestrians,
distractors such as static persons or reflections, vehicles, occluders) is kept in
`metadata['ignored_gt']` ({'columns': [...], 'rows': [[frame_index, id, x, y, w, h, conf_flag,
class, visibility], ...]}, frame_index 0-based) because the evaluation needs the distractors to
discard tracker boxes that match them; `metadata['classes']` maps class ids to names.

MOT17 boxes cover the whole person, occluded parts included; there is no box of the visible part.
Both `box` and `full_box` hold the annotated box, and `visibility` the annotated visible fraction
(so a fully occluded pedestrian has visibility 0 but a non-empty box, as the evaluation expects).
Boxes are kept exactly as written (no 1-pixel origin shift), so tracker output written back in
MOTChallenge format is scored as TrackEval scores it.
"""

import configparser
import functools
import math
import pathlib
from typing import Iterator, Optional

from sata_ros.data.readers import common
from sata_ros.data.sequence import DataError, Frame, ObjectTruth, Sequence

# MOTChallenge class ids (TrackEval's class_name_to_class_id for MOT17/MOT20).
CLASSES = {1: 'pedestrian', 2: 'person_on_vehicle', 3: 'car', 4: 'bicycle', 5: 'motorbike',
           6: 'non_mot_vehicle', 7: 'static_person', 8: 'distractor', 9: 'occluder',
           10: 'occluder_on_ground', 11: 'occluder_full', 12: 'reflection', 13: 'crowd'}
PEDESTRIAN = 1
GT_COLUMNS = ('frame', 'id', 'x', 'y', 'w', 'h', 'conf_flag', 'class', 'visibility')

_EXPECTED = ('a MOT17 sequence folder with seqinfo.ini ([Sequence] imWidth, imHeight, '
             'frameRate, seqLength), img1/000001.jpg... and gt/gt.txt '
             '(frame,id,x,y,w,h,conf_flag,class,visibility per line)')
_GT_LINE = ('9 comma-separated values frame,id,x,y,w,h,conf_flag,class,visibility with integer '
            'frame (1..seqLength), id >= 1, conf_flag and class (1..13), w, h >= 0 and '
            'visibility in [0, 1]')


def read_mot17(path: common.PathLike, fps: Optional[float] = None) -> Sequence:
    """
    Read one MOT17 sequence folder (see the module docstring).

    `fps` defaults to seqinfo.ini's frameRate. Frames carry `rgb` (H x W x 3 uint8) and the
    evaluated pedestrians, sorted by id.
    """
    root = common.require_dir(pathlib.Path(path), _EXPECTED)
    common.require_entries(root, (), ('seqinfo.ini',), _EXPECTED)
    info = _read_seqinfo(root / 'seqinfo.ini')
    image_dir = root / info['imDir']
    images = common.list_frames(image_dir, (info['imExt'],), first=1)
    if len(images) != info['seqLength']:
        raise DataError(f'{root / "seqinfo.ini"}: seqLength={info["seqLength"]}, but '
                        f'{image_dir} holds {len(images)} frames; expected them to agree')
    size = (info['imWidth'], info['imHeight'])
    common.require_size(images[0], size, 'imWidth x imHeight of seqinfo.ini')
    gt_path = root / 'gt' / 'gt.txt'
    has_gt = (root / 'gt').is_dir()
    if has_gt:
        objects, ignored = _read_gt(gt_path, len(images))
    else:
        objects, ignored = [[] for _ in images], []
    fps = float(info['frameRate'] if fps is None else fps)
    period = common.frame_period_ns(fps)
    return Sequence(
        name=info['name'] or root.resolve().name,
        rgb_camera=common.rgb_camera(*size),
        thermal_camera=None,
        modalities=('rgb',),
        num_frames=len(images),
        start_ns=common.START_NS,
        frame_period_ns=period,
        metadata={'dataset': 'mot17', 'source': str(root.resolve()), 'fps': fps,
                  'ground_truth': has_gt,
                  'classes': {str(k): v for k, v in CLASSES.items()},
                  'ignored_gt': {'columns': ['frame_index'] + list(GT_COLUMNS[1:]),
                                 'rows': ignored}},
        frames=functools.partial(_frames, images, objects, size, period),
    )


def _read_seqinfo(path: pathlib.Path) -> dict:
    """Return seqinfo.ini's [Sequence] values: ints for sizes/length, float frameRate."""
    parser = configparser.ConfigParser()
    try:
        parser.read_string(path.read_text(encoding='utf-8-sig'))
    except (configparser.Error, OSError, UnicodeDecodeError) as exc:
        raise DataError(f'{path}: not a readable ini file ({exc}); expected a [Sequence] '
                        'section') from None
    if not parser.has_section('Sequence'):
        raise DataError(f'{path}: no [Sequence] section; expected imWidth, imHeight, '
                        'frameRate, seqLength in it')
    section = parser['Sequence']
    info = {'name': section.get('name', '').strip(), 'imDir': section.get('imDir', 'img1'),
            'imExt': section.get('imExt', '.jpg')}
    for key, convert in (('imWidth', int), ('imHeight', int), ('seqLength', int),
                         ('frameRate', float)):
        if key not in section:
            raise DataError(f'{path}: [Sequence] has no {key}; expected imWidth, imHeight, '
                            'frameRate and seqLength')
        try:
            info[key] = convert(section[key])
        except ValueError:
            raise DataError(f'{path}: {key}={section[key]!r} is not a number') from None
        if info[key] <= 0:
            raise DataError(f'{path}: {key}={section[key]}; expected a positive number')
    return info


def _read_gt(path: pathlib.Path,
             num_frames: int) -> tuple[list[list[ObjectTruth]], list[list[float]]]:
    """
    Parse gt.txt into per-frame evaluated pedestrians and the other rows.

    Returns one list of ObjectTruth per frame (sorted by id) and the ignored rows as
    [frame_index (0-based), id, x, y, w, h, conf_flag, class, visibility].
    """
    objects: list[list[ObjectTruth]] = [[] for _ in range(num_frames)]
    ignored = []
    seen = {}
    for number, line in common.read_lines(path):
        values = common.parse_numbers(path, number, line, 9, _GT_LINE)
        frame, target_id, x, y, w, h, conf_flag, cls, visibility = values
        if not all(math.isfinite(v) for v in values):
            raise common.parse_error(path, number, line, _GT_LINE)
        integral = all(v == int(v) for v in (frame, target_id, conf_flag, cls))
        if (not integral or not 1 <= frame <= num_frames or target_id < 1
                or int(cls) not in CLASSES or w < 0 or h < 0 or not 0 <= visibility <= 1):
            raise common.parse_error(path, number, line, _GT_LINE)
        index, target_id = int(frame) - 1, int(target_id)
        if (index, target_id) in seen:
            raise DataError(f'{path}:{number}: id {target_id} appears twice in frame '
                            f'{int(frame)} (first on line {seen[index, target_id]}); expected '
                            'unique ids per frame')
        seen[index, target_id] = number
        box = (x, y, w, h)
        if int(cls) == PEDESTRIAN and conf_flag != 0:
            objects[index].append(ObjectTruth(target_id, CLASSES[PEDESTRIAN], box,
                                              visibility=visibility, full_box=box))
        else:
            ignored.append([index, target_id, x, y, w, h, int(conf_flag), int(cls), visibility])
    for frame_objects in objects:
        frame_objects.sort(key=lambda obj: obj.target_id)
    ignored.sort(key=lambda row: (row[0], row[1]))
    return objects, ignored


def _frames(images: list[pathlib.Path], objects: list[list[ObjectTruth]], size: tuple[int, int],
            period: int) -> Iterator[Frame]:
    for k, image_path in enumerate(images):
        yield Frame(index=k, stamp_ns=common.stamp_ns(k, period),
                    rgb=common.load_rgb(image_path, size, 'imWidth x imHeight of seqinfo.ini'),
                    objects=[_copy(obj) for obj in objects[k]])


def _copy(obj: ObjectTruth) -> ObjectTruth:
    # Each pass over the frames hands out fresh objects, so a consumer that edits a frame's
    # ground truth does not change what the next pass yields.
    return ObjectTruth(obj.target_id, obj.label, obj.box, obj.visibility, obj.full_box)
