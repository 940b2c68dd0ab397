"""Training from recorded bags: chunking, bounded loading, modalities and box-only truth."""

import csv
import dataclasses

import numpy as np
import pytest

from sata_ros.data.bag import write_bag
from sata_ros.data.scene import generate_scene, SceneConfig
from sata_ros.data.sequence import hold_thermal
from sata_ros.train.clips import ClipSampler, to_tensors
from sata_ros.train.config import (DataSection, LossSection, ModelSection, OptimSection,
                                   RunSection, TrainConfig)
from sata_ros.train.recorded import bag_paths, Chunk, load_chunk, plan_chunks
from sata_ros.train.trainer import Trainer

SCENE = SceneConfig(seed=41, num_frames=14, width=96, height=72, num_objects=3)


def _strip(seq, masks=True, keep=('rgb', 'depth', 'thermal', 'events')):
    """Return `seq` without masks (box-only truth) and with only the `keep` modalities."""
    def frame(f):
        drop = {m: None for m in ('depth', 'thermal', 'events') if m not in keep}
        if 'thermal' in drop:
            drop['thermal_stamp_ns'] = None
        objects = f.objects if masks else [dataclasses.replace(o, mask=None, full_mask=None)
                                           for o in f.objects]
        return dataclasses.replace(f, objects=objects, **drop)
    return dataclasses.replace(seq, modalities=tuple(m for m in seq.modalities if m in keep),
                               thermal_camera=seq.thermal_camera if 'thermal' in keep else None,
                               frames=lambda: (frame(f) for f in seq))


@pytest.fixture(scope='module')
def bags(tmp_path_factory):
    root = tmp_path_factory.mktemp('recorded')
    seq = generate_scene(SCENE)
    full = write_bag(seq, root / 'full.mcap')
    boxes = write_bag(_strip(seq, masks=False, keep=('rgb', 'depth')), root / 'boxes.mcap')
    other = root / 'more'
    other.mkdir()
    write_bag(generate_scene(dataclasses.replace(SCENE, seed=42)), other / 'b.mcap')
    write_bag(generate_scene(dataclasses.replace(SCENE, seed=43)), other / 'a.mcap')
    return {'full': str(full), 'boxes': str(boxes), 'folder': str(other), 'seq': seq}


def _data(bag_list, **changes):
    # No flip or darkening: the tests recognise the bags' own frames.
    base = {'num_frames': 6, 'scene_window': 2, 'window_step': 2, 'clip_length': 3,
            'max_stride': 2, 'flip': 0.0, 'dark': 0.0, 'bags': tuple(bag_list)}
    base.update(changes)
    return DataSection(**base)


def test_bags_are_cut_into_chunks_that_cover_every_frame(bags):
    assert bag_paths([bags['folder']]) == [bags['folder'] + '/a.mcap',
                                           bags['folder'] + '/b.mcap']
    chunks = plan_chunks([bags['full']], length=6, min_count=5)
    # 14 frames in chunks of 6: the last chunk ends at the last frame, overlapping by 4.
    assert chunks == [Chunk(bags['full'], 0, 6), Chunk(bags['full'], 6, 6),
                      Chunk(bags['full'], 8, 6)]
    assert plan_chunks([bags['full']], length=20, min_count=5) == [Chunk(bags['full'], 0, 14)]


def test_a_chunk_holds_exactly_its_frames_with_the_thermal_held(bags):
    truth = list(hold_thermal(iter(bags['seq'])))
    frames = load_chunk(Chunk(bags['full'], 6, 6))
    assert [f.index for f in frames] == list(range(6, 12))
    for got, want in zip(frames, truth[6:12]):
        assert np.array_equal(got.rgb, want.rgb)
        assert (got.thermal is None) == (want.thermal is None)
        if want.thermal is not None:
            assert np.array_equal(got.thermal, want.thermal)
        assert [o.box for o in got.objects] == [o.box for o in want.objects]
        for a, b in zip(got.objects, want.objects):
            assert np.array_equal(a.mask, b.mask)


def test_bad_bag_entries_name_the_problem(bags, tmp_path):
    with pytest.raises(ValueError, match='no such bag or folder'):
        bag_paths([str(tmp_path / 'missing.mcap')])
    with pytest.raises(ValueError, match='a folder with no bag in it'):
        bag_paths([str(tmp_path)])
    with pytest.raises(ValueError, match=r'14 frames, but a training clip needs 20'):
        plan_chunks([bags['full']], length=6, min_count=20)
    with pytest.raises(ValueError, match='the bag has 14'):
        load_chunk(Chunk(bags['full'], 10, 6))
    with pytest.raises(ValueError, match='val_bags repeat data.bags'):
        TrainConfig.from_dict({'data': {'bags': [bags['full']], 'val_bags': [bags['full']]}})
    with pytest.raises(ValueError, match='lists of paths'):
        TrainConfig.from_dict({'data': {'bags': [3]}})


def test_the_sampler_draws_clips_from_the_bags_with_a_bounded_chunk_cache(bags):
    data = _data([bags['full'], bags['folder']])
    sampler = ClipSampler(data, seed=0)
    assert len(sampler.chunks) == 9  # three 14-frame bags, three chunks each
    assert sampler.window(0) == [0, 1] and sampler.window(16) == [8, 0]
    originals = {f.rgb.tobytes() for seed in (41, 42, 43)
                 for f in generate_scene(dataclasses.replace(SCENE, seed=seed))}
    for step in range(0, 20):
        clip = sampler.sample(step)
        assert len(sampler._cache) <= sampler.capacity == data.scene_window + 1
        assert 0 <= clip.scene_seed < 9
        assert all(f.rgb.tobytes() in originals for f in clip.frames)
    again = ClipSampler(data, seed=0).sample(13)
    assert again.frames[0].rgb.tobytes() == sampler.sample(13).frames[0].rgb.tobytes()


def test_validation_comes_from_val_bags(bags):
    data = _data([bags['full']], val_bags=(bags['folder'],))
    clips = ClipSampler(data, seed=0).validation(4)
    held = {f.rgb.tobytes() for seed in (42, 43)
            for f in generate_scene(dataclasses.replace(SCENE, seed=seed))}
    assert all(f.rgb.tobytes() in held for c in clips for f in c.frames)


def test_box_only_bags_give_rectangles_marked_as_such_and_their_own_modalities(bags):
    sampler = ClipSampler(_data([bags['boxes']], prompted_ratio=1.0, point_prompts=1.0),
                          seed=2)
    clips = [sampler.sample(step) for step in range(30)]
    # The bag has RGB and depth only: no clip asks for thermal or events.
    assert {c.modality for c in clips} == {'rgb', 'depth'}
    prompted = [c for c in clips if c.task == 'prompted']
    assert prompted
    for clip in prompted:
        # No mask to click on: every prompt is a box, even with point_prompts = 1.
        assert all(list(p.labels) == [2, 3] for p in clip.prompts)
    batch = to_tensors(prompted[0], 64)
    assert batch.has_mask.shape == batch.visible.shape
    assert not batch.has_mask[batch.visible].any()
    t, n = np.argwhere(batch.visible.numpy())[0]
    x1, y1, x2, y2 = batch.boxes[t, n].tolist()
    rows, cols = np.nonzero(batch.masks[t, n].numpy())
    # The stand-in mask is the box's rectangle (to within the nearest-neighbour resize).
    assert abs(cols.min() - x1) <= 1 and abs(cols.max() + 1 - x2) <= 1
    assert abs(rows.min() - y1) <= 1 and abs(rows.max() + 1 - y2) <= 1
    width, height = cols.max() - cols.min() + 1, rows.max() - rows.min() + 1
    assert batch.masks[t, n].sum() == width * height


def test_masked_bags_mark_every_mask_as_true(bags):
    sampler = ClipSampler(_data([bags['full']]), seed=1)
    batch = to_tensors(sampler.sample(0), 64)
    assert batch.has_mask.all()


def test_a_run_trains_from_box_only_bags_and_validates_on_val_bags(bags, tmp_path):
    data = _data([bags['boxes']], val_bags=(bags['folder'],), prompted_ratio=1.0,
                 modality_weights={'rgb': 1.0}, max_targets=2, point_prompts=0.0)
    cfg = TrainConfig(
        model=ModelSection(overrides={'freeze_trunk': False}), data=data,
        optim=OptimSection(lr=1e-3, warmup_steps=2), loss=LossSection(complementary=0.0),
        run=RunSection(steps=10, out_dir=str(tmp_path), log_every=5, val_every=10,
                       val_clips=2, ckpt_every=0, threads=0, device='cpu', tensorboard=False))
    result = Trainer(cfg, progress=False).run()
    assert result.step == 10 and result.checkpoint.is_file()
    with open(tmp_path / 'train.csv', newline='') as f:
        rows = [{k: float(v) for k, v in r.items() if v != ''} for r in csv.DictReader(f)]
    # Every target of the box-only bag trains through the box term, none through the masks.
    assert all(r['box'] > 0 and r['focal'] == 0 and r['dice'] == 0 for r in rows)
    assert rows[-1]['loss'] < rows[0]['loss'], [r['loss'] for r in rows]
    with open(tmp_path / 'val.csv', newline='') as f:
        val = list(csv.DictReader(f))
    # The validation bags have masks: their clips are scored by focal + dice, not boxes.
    assert len(val) == 1 and float(val[0]['dice']) > 0 and float(val[0]['box']) == 0
