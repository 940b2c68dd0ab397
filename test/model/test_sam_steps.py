"""Batched per-target SAM 2.1 steps equal sam2's own track_step, alone and in a batch."""

import dataclasses

import pytest
from sata_ros.model import sam_steps
from sata_ros.model.config import get_config
from sata_ros.model.sata import build_sata
import torch


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return build_sata('sata_nano')


def _frames(count):
    generator = torch.Generator().manual_seed(1)
    return [torch.randn(1, 3, 256, 256, generator=generator) for _ in range(count)]


def _box_inputs(boxes):
    coords, labels = sam_steps.box_points(torch.tensor(boxes, dtype=torch.float32))
    return {'point_coords': coords, 'point_labels': labels}


def _reference(model, frames, box):
    """Track one box prompted on frame 0 with sam2's SAM2Base.track_step."""
    sam = model.sam
    outputs = {'cond_frame_outputs': {}, 'non_cond_frame_outputs': {}}
    results = []
    for i, frame in enumerate(frames):
        _, feats, pos, sizes = sam._prepare_backbone_features(model.encode(frame))
        out = sam.track_step(i, i == 0, feats, pos, sizes, _box_inputs([box]) if i == 0 else None,
                             None, outputs, num_frames=1000)
        kind = 'cond_frame_outputs' if i == 0 else 'non_cond_frame_outputs'
        outputs[kind][i] = out
        results.append(out)
    return results


def _ours(model, frames, boxes):
    """Track several boxes prompted on frame 0 with the batched steps."""
    sam = model.sam
    memories = [sam_steps.TargetMemoryView() for _ in boxes]
    results, pos_enc = [], None
    for i, frame in enumerate(frames):
        features = sam_steps.frame_features(sam, model.encode(frame))
        if i == 0:
            pix = sam_steps.condition(sam, features, None, batch=len(boxes))
            out = sam_steps.decode(sam, pix, features, _box_inputs(boxes))
        else:
            tokens = [sam_steps.memory_tokens(sam, m, i, pos_enc) for m in memories]
            assert len({(len(t), n) for t, _, n in tokens}) == 1
            pix = sam_steps.condition(sam, features, [(t, p) for t, p, _ in tokens], tokens[0][2])
            out = sam_steps.decode(sam, pix, features)
        feats, pos_enc = sam_steps.encode_memory(sam, features, out.high, out.object_score,
                                                 i == 0)
        for k, memory in enumerate(memories):
            entry = sam_steps.MemoryEntry(feats[k], out.obj_ptr[k])
            (memory.cond if i == 0 else memory.recent)[i] = entry
        results.append((out, feats))
    return results


def test_one_target_equals_sam2_track_step(model):
    frames = _frames(8)  # past num_maskmem (4 for nano), so the memory window slides
    box = [60.0, 70.0, 150.0, 160.0]
    with torch.inference_mode():
        expected = _reference(model, frames, box)
        got = _ours(model, frames, [box])
    for ref, (out, feats) in zip(expected, got):
        assert torch.equal(out.high, ref['pred_masks_high_res'])
        assert torch.equal(out.obj_ptr, ref['obj_ptr'])
        assert torch.equal(feats, ref['maskmem_features'])


def test_batch_of_targets_equals_each_alone(model):
    frames = _frames(6)
    boxes = [[60.0, 70.0, 150.0, 160.0], [10.0, 10.0, 80.0, 60.0], [150.0, 150.0, 250.0, 250.0]]
    with torch.inference_mode():
        batched = _ours(model, frames, boxes)
        alone = [_ours(model, frames, [box]) for box in boxes]
    for k in range(len(boxes)):
        for (out, feats), (one, one_feats) in zip(batched, alone[k]):
            assert torch.allclose(out.high[k], one.high[0], atol=1e-4)
            assert torch.allclose(out.obj_ptr[k], one.obj_ptr[0], atol=1e-5)
            assert torch.allclose(feats[k], one_feats[0], atol=1e-4)


def test_memory_tokens_layout(model):
    sam = model.sam
    dim = sam.mem_dim
    entry = sam_steps.MemoryEntry(torch.randn(dim, 16, 16), torch.randn(256))
    memory = sam_steps.TargetMemoryView({0: entry}, {t: entry for t in range(1, 20)})
    pos = torch.randn(dim, 16, 16)
    tokens, token_pos, num_ptr = sam_steps.memory_tokens(sam, memory, 20, pos)
    # 1 prompted + num_maskmem - 1 recent maps; pointers: the prompt + 15 previous frames,
    # each split into 256 / mem_dim tokens.
    maps = 1 + sam.num_maskmem - 1
    pointers = 1 + sam.max_obj_ptrs_in_encoder - 1
    split = 256 // dim
    assert num_ptr == pointers * split
    assert tokens.shape == token_pos.shape == (maps * 256 + num_ptr, dim)
    with pytest.raises(ValueError, match='at least one prompted frame'):
        sam_steps.memory_tokens(sam, sam_steps.TargetMemoryView(), 3, pos)


def test_rejects_models_without_sam21_memory(model):
    model.sam.use_obj_ptrs_in_encoder = False
    try:
        with pytest.raises(ValueError, match='use_obj_ptrs_in_encoder'):
            sam_steps.check_sam21(model.sam)
    finally:
        model.sam.use_obj_ptrs_in_encoder = True
    sam_steps.check_sam21(model.sam)


def test_box_mask_prompt_marks_the_cells_a_box_overlaps(model):
    sam = model.sam
    assert tuple(sam.sam_prompt_encoder.mask_input_size) == (64, 64)  # 256 px / 4
    coords = torch.tensor([[[0.0, 0.0], [128.0, 64.0]],  # a box
                           [[100.0, 40.0], [101.0, 41.0]],  # a box thinner than a cell
                           [[50.0, 50.0], [0.0, 0.0]]])  # one click and padding
    labels = torch.tensor([[2, 3], [2, 3], [1, -1]], dtype=torch.int32)
    prompt = sam_steps.box_mask_prompt(sam, coords, labels)
    assert prompt.shape == (3, 1, 64, 64) and prompt.dtype == torch.float32
    expected = torch.zeros(64, 64)
    expected[:16, :32] = 1
    assert torch.equal(prompt[0, 0], expected)
    assert prompt[1].sum() == 1 and prompt[1, 0, 10, 25] == 1
    assert prompt[2].sum() == 0


def test_mask_prompt_from_masks_keeps_cells_at_least_half_covered(model):
    masks = torch.zeros(2, 256, 256, dtype=torch.bool)
    masks[0, :16, :32] = True  # exactly 4 x 8 cells of 4 px
    masks[1, 0:2, 0:4] = True  # half of cell (0, 0): kept
    masks[1, 8:9, 8:12] = True  # a quarter of cell (2, 2): dropped
    prompt = sam_steps.mask_prompt_from_masks(model.sam, masks)
    expected = torch.zeros(2, 1, 64, 64)
    expected[0, 0, :4, :8] = 1
    expected[1, 0, 0, 0] = 1
    assert torch.equal(prompt, expected)


def test_a_mask_prompt_alone_decodes_one_mask_and_clicks_still_three():
    torch.manual_seed(0)
    dense = build_sata(dataclasses.replace(get_config('sata_nano'), dense_prompts=True))
    sam = dense.sam
    features = sam_steps.frame_features(sam, dense.encode(_frames(1)[0]))
    previous = torch.zeros(1, 1, 64, 64)
    previous[..., 20:30, 20:30] = 1
    click = {'point_coords': torch.tensor([[[100.0, 100.0]]]),
             'point_labels': torch.tensor([[1]], dtype=torch.int32)}
    with torch.inference_mode():
        pix = sam_steps.condition(sam, features, None)
        tracked = sam_steps.decode(sam, pix, features, mask_inputs=previous)
        clicked = sam_steps.decode(sam, pix, features, click, previous)
        forced = sam_steps.decode(sam, pix, features, mask_inputs=previous, multimask=True)
    assert tracked.multi_low.shape[1] == 1 and tracked.ious.shape == (1, 1)
    assert clicked.multi_low.shape[1] == 3 and forced.multi_low.shape[1] == 3


def test_dense_prompts_reach_the_decoder_and_are_refined_not_copied():
    torch.manual_seed(0)
    dense = build_sata(dataclasses.replace(get_config('sata_nano'), dense_prompts=True))
    sam = dense.sam
    assert not sam.use_mask_input_as_output_without_sam
    # Untrained presence logits may be negative, which blanks every mask (-1024): make the
    # target present so the masks themselves are compared.
    head = sam.sam_mask_decoder.pred_obj_score_head.layers[-1]
    with torch.no_grad():
        head.weight.zero_()
        head.bias.fill_(10.0)
    features = sam_steps.frame_features(sam, dense.encode(_frames(1)[0]))
    inputs = _box_inputs([[60.0, 70.0, 150.0, 160.0]])
    rect = sam_steps.box_mask_prompt(sam, inputs['point_coords'], inputs['point_labels'])
    with torch.inference_mode():
        pix = sam_steps.condition(sam, features, None)
        sparse = sam_steps.decode(sam, pix, features, inputs)
        both = sam_steps.decode(sam, pix, features, inputs, rect)
        derived = sam_steps.decode(sam, pix, features, inputs, box_rectangles=True)
        reference = sam._forward_sam_heads(pix, inputs, rect, features.high_res(1),
                                           sam._use_multimask(False, inputs))
    assert not torch.allclose(sparse.high, both.high)
    assert torch.equal(both.high, reference[4]) and torch.equal(derived.high, both.high)
    # The mask prompt went through the decoder: the output is not the rectangle itself.
    upsampled = torch.nn.functional.interpolate(rect, size=both.high.shape[-2:])
    assert not torch.equal((both.high > 0).float(), upsampled)
    assert torch.equal(sam_steps.mask_prompt_from_logits(both.low), (both.low > 0).float())
