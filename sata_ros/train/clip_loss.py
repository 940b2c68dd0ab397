"""
The training objective of one clip: SATA's losses computed along the tracker's own steps.

`ClipLoss` is an nn.Module wrapping the model, so `torch.nn.parallel.DistributedDataParallel`
can wrap it (torchrun) and see every parameter the clip used. It runs exactly the inference
path of tracking/stream.py with gradients on:

- prompted clips (SOT/VOS): the first frame is decoded from its prompt with no memory and
  encoded into each target's conditioning memory; every later frame is memory-attended,
  decoded with no prompt (with `dense_prompts`: the target's previous mask, or while
  training with `loss.teacher_forcing`, sometimes the jittered true previous mask) and encoded
  into the targets' recent memory (sam_steps, as the tracker does), and each decoder output
  is scored against the target's mask: focal + dice on the best of the candidate masks
  (SAM 2's multi-mask rule), L1 on the predicted IoUs and cross-entropy on the presence
  logit;
- detected clips (MOT/MOTS): the detection head's loss on every frame; the ground-truth boxes
  prompt the decoder (the box-to-mask step of detected instances) with the same mask terms;
  the MEM embeds every instance, each frame with the query history of its tracklet from the
  earlier frames, and a supervised contrastive loss pulls one identity's embeddings together;
- both: the DeMoE decoupling losses (sata-paper.md §2.4) from the encoder's recorded routing:
  L_CE between common and specific expert outputs, L_TASK on the cross-modal router, and L_CM
  from a second encoder pass of the first frame with half of one stream's patches masked.
"""

from typing import NamedTuple, Optional

from sata_ros.model import sam_steps
from sata_ros.model.demoe import Routing
from sata_ros.model.instance_embedding import crop_masks
from sata_ros.model.roi_align import roi_align
from sata_ros.model.sam_steps import FrameFeatures, MemoryEntry, TargetMemoryView
from sata_ros.model.sata import SataModel
from sata_ros.tracking.prompt_motion import shift
from sata_ros.train.clips import ClipTensors
from sata_ros.train.config import LossSection
from sata_ros.train.detection_targets import detection_loss
from sata_ros.train.losses import (box_projection_loss, complementary_loss, dice_loss,
                                   embedding_contrastive_loss, iou_prediction_loss,
                                   objectness_loss, orthogonality_loss,
                                   router_ce_loss, sigmoid_focal_loss)
import torch
from torch import nn, Tensor

# Instances per detected clip that go through the box-prompted decoder and the MEM (the
# largest ones first); bounds the cost of a crowded clip.
MAX_INSTANCES = 24
# Side of the square patches masked for L_CM, pixels (the trunk's patch embedding stride is 4;
# 16 px patches remove whole tokens of the coarser stages).
PATCH = 16
# Largest shift, in mask-prompt grid cells (4 px at S = 256), of a teacher-forced previous mask:
# about the error of a mask the model predicts itself, so both kinds of prompt look alike.
JITTER_CELLS = 2

# Loss-term name -> LossSection weight field.
WEIGHTS = {'focal': 'focal', 'dice': 'dice', 'iou': 'iou', 'objectness': 'objectness',
           'box': 'box_projection',
           'det_cls': 'det_cls', 'det_box': 'det_box', 'det_quality': 'det_quality',
           'embedding': 'embedding', 'complementary': 'complementary',
           'orthogonality': 'orthogonality', 'router': 'router'}


class ClipOutput(NamedTuple):
    """
    Loss of one clip.

    Attributes:
        loss: 0-dim weighted total (what backward() runs on).
        parts: each unweighted term as a 0-dim tensor (detached), names as in WEIGHTS.

    """

    loss: Tensor
    parts: dict[str, Tensor]


def weighted(parts: dict[str, Tensor], weights: LossSection) -> ClipOutput:
    """Return the weighted total of loss terms (names as in WEIGHTS) and the terms, detached."""
    total = sum(getattr(weights, WEIGHTS[name]) * value for name, value in parts.items())
    return ClipOutput(total, {k: v.detach() for k, v in parts.items()})


def slice_features(features: FrameFeatures, index: int) -> FrameFeatures:
    """Return frame `index` of a batched FrameFeatures as a batch-1 FrameFeatures."""
    return FrameFeatures([f[:, index:index + 1] for f in features.vision_feats],
                         [p[:, index:index + 1] for p in features.vision_pos],
                         features.feat_sizes)


class ClipLoss(nn.Module):
    """
    Computes a clip's losses with the model in training mode.

    Args:
        model: the SataModel being trained.
        weights: loss weights (LossSection).

    """

    def __init__(self, model: SataModel, weights: LossSection) -> None:
        super().__init__()
        self.model = model
        self.weights = weights

    def forward(self, clip: ClipTensors, with_heads: bool = True) -> ClipOutput:
        """
        Return the weighted loss of `clip` and its terms.

        Args:
            clip: model inputs and labels (clips.to_tensors), on the model's device.
            with_heads: False skips the SAM 2.1 heads and MEM (stage I trains only the
                detection head, so prompted clips contribute nothing there).

        """
        model = self.model
        frames = clip.rgb.shape[0]
        routing = Routing(batch=frames, two_streams=True, collect=True)
        backbone = model.encode(clip.rgb, clip.aux, clip.aux_group, collect=routing)
        features = sam_steps.frame_features(model.sam, backbone)
        per_frame = [slice_features(features, t) for t in range(frames)]
        parts: dict[str, Tensor] = {}
        if clip.task == 'prompted':
            if with_heads:
                parts.update(self._prompted(per_frame, clip))
        else:
            parts.update(self._detection(backbone, clip))
            if with_heads:
                parts.update(self._instances(per_frame, clip))
        parts.update(self._decoupling(routing, clip))
        return weighted(parts, self.weights)

    # ------------------------------------------------------------------ SAM 2.1 heads

    def _prompted(self, frames: list[FrameFeatures], clip: ClipTensors) -> dict[str, Tensor]:
        sam = self.model.sam
        rows = clip.prompt_rows
        count = len(rows)
        gt = clip.masks[:, rows]  # (T, K, S, S)
        visible = clip.visible[:, rows]  # (T, K)
        dense = self.model.config.dense_prompts
        pix = sam_steps.condition(sam, frames[0], None, batch=count)
        out = sam_steps.decode(sam, pix, frames[0], {'point_coords': clip.point_coords,
                                                     'point_labels': clip.point_labels},
                               box_rectangles=dense)
        known = clip.has_mask[:, rows] if clip.has_mask is not None else None
        terms = [mask_terms(out, gt[0], visible[0], self.weights,
                            None if known is None else known[0])]
        feats, maskmem_pos = sam_steps.encode_memory(sam, frames[0], out.high,
                                                     out.object_score, True)
        memories = [TargetMemoryView(cond={0: MemoryEntry(feats[k], out.obj_ptr[k])})
                    for k in range(count)]
        for t in range(1, len(frames)):
            tokens = [sam_steps.memory_tokens(sam, memories[k], t, maskmem_pos)
                      for k in range(count)]
            num_ptr = tokens[0][2]
            pix = sam_steps.condition(sam, frames[t], [(m, p) for m, p, _ in tokens], num_ptr)
            previous = self._previous_prompt(out.low, gt[t - 1]) if dense else None
            out = sam_steps.decode(sam, pix, frames[t], mask_inputs=previous)
            terms.append(mask_terms(out, gt[t], visible[t], self.weights,
                                    None if known is None else known[t]))
            feats, _ = sam_steps.encode_memory(sam, frames[t], out.high, out.object_score,
                                               False)
            for k in range(count):
                memories[k].recent[t] = MemoryEntry(feats[k], out.obj_ptr[k])
        return {name: torch.stack([term[name] for term in terms]).mean() for name in terms[0]}

    def _previous_prompt(self, low: Tensor, truth: Tensor) -> Tensor:
        """
        Return the (K, 1, S/4, S/4) mask prompts of K tracked targets' next frame.

        Args:
            low: (K, 1, S/4, S/4) the targets' mask logits on the previous frame.
            truth: (K, S, S) bool their ground-truth masks there.

        """
        own = sam_steps.mask_prompt_from_logits(low)
        rate = self.weights.teacher_forcing
        if rate <= 0 or not self.model.training:
            return own
        # Without it, early in training every tracked frame is prompted with a poor mask and
        # the decoder learns to ignore the prompt; with it, it learns to follow the mask.
        forced = jitter_prompt(sam_steps.mask_prompt_from_masks(self.model.sam, truth))
        pick = torch.rand(len(own), device=own.device) < rate
        return torch.where(pick[:, None, None, None], forced, own)

    # ------------------------------------------------------------------ MOT / MOTS

    def _detection(self, backbone: dict, clip: ClipTensors) -> dict[str, Tensor]:
        outputs = self.model.detector(backbone['fpn_raw'])
        targets = []
        for t in range(clip.rgb.shape[0]):
            vis = clip.visible[t]
            boxes = clip.boxes[t][vis]
            targets.append({'boxes': boxes,
                            'labels': torch.zeros(len(boxes), dtype=torch.long,
                                                  device=boxes.device)})
        terms = detection_loss(outputs, targets)
        return {'det_cls': terms['cls'], 'det_box': terms['box'],
                'det_quality': terms['quality']}

    def _instances(self, frames: list[FrameFeatures], clip: ClipTensors) -> dict[str, Tensor]:
        """Box-prompted masks and MEM embeddings of the clip's visible instances."""
        model = self.model
        sam, mem = model.sam, model.mem
        side = float(model.image_size)
        selected = self._select_instances(clip)
        scored, embeddings, identities = [], [], []
        history: dict[int, list[Tensor]] = {}
        for t, columns in enumerate(selected):
            if not columns:
                continue
            cols = torch.tensor(columns, device=clip.boxes.device)
            boxes = clip.boxes[t, cols]
            coords, labels = sam_steps.box_points(boxes)
            pix = sam_steps.condition(sam, frames[t], None, batch=len(columns))
            out = sam_steps.decode(sam, pix, frames[t],
                                   {'point_coords': coords, 'point_labels': labels},
                                   multimask=False, box_rectangles=model.config.dense_prompts)
            scored.append(mask_terms(
                out, clip.masks[t, cols], clip.visible[t, cols], self.weights,
                None if clip.has_mask is None else clip.has_mask[t, cols]))
            top = frames[t].top_map(1)
            rois = torch.cat([boxes.new_zeros(len(boxes), 1), boxes], dim=1)
            roi = roi_align(top.float(), rois, mem.roi_size, top.shape[-1] / side)
            crops = crop_masks(torch.sigmoid(out.high[:, 0].float()), boxes, mem.roi_size)
            past, padding = _histories([history.get(c, []) for c in columns], mem)
            result = mem(roi, crops, boxes / side, past, padding)
            embeddings.append(result.embedding)
            identities.append(clip.ids[cols])
            for c, queries in zip(columns, result.queries):
                history.setdefault(c, []).append(queries)
        if not embeddings:
            return {}
        parts = {name: torch.stack([m[name] for m in scored]).mean() for name in scored[0]}
        parts['embedding'] = embedding_contrastive_loss(
            torch.cat(embeddings).float(), torch.cat(identities),
            self.weights.embedding_temperature)
        return parts

    @staticmethod
    def _select_instances(clip: ClipTensors) -> list[list[int]]:
        """Per frame, the visible columns to embed: at most MAX_INSTANCES, largest first."""
        area = clip.masks.flatten(2).sum(-1)  # (T, N)
        per_frame = max(1, MAX_INSTANCES // clip.rgb.shape[0])
        out = []
        for t in range(clip.rgb.shape[0]):
            cols = [int(c) for c in torch.argsort(area[t], descending=True, stable=True)
                    if bool(clip.visible[t, c])]
            out.append(sorted(cols[:per_frame]))
        return out

    # ------------------------------------------------------------------ DeMoE

    def _decoupling(self, routing: Routing, clip: ClipTensors) -> dict[str, Tensor]:
        parts = {}
        ortho = []
        for (p_rgb, p_aux), specific in zip(routing.common, routing.specific):
            common = torch.cat([p_rgb, p_aux]) if routing.two_streams else p_rgb
            ortho.append(orthogonality_loss(common.reshape(-1, common.shape[-1]),
                                            specific.reshape(-1, specific.shape[-1])))
        if ortho:
            parts['orthogonality'] = torch.stack(ortho).mean()
        labels = (clip.aux_group if clip.aux_group is not None
                  else torch.zeros(clip.rgb.shape[0], dtype=torch.long,
                                   device=clip.rgb.device))
        router = [router_ce_loss(logits, labels) for logits in routing.router_logits
                  if logits is not None]
        if router:
            parts['router'] = torch.stack(router).mean()
        if self.weights.complementary > 0:
            parts['complementary'] = self._complementary(routing, clip)
        return parts

    def _common_prompts(self, routing: Routing, index: int) -> list[Tensor]:
        """Per DeMoE layer, the cross-modal common prompt H^G of frame `index`."""
        prompts = []
        for layer, (p_rgb, p_aux) in zip(self.model.demoe_layers(), routing.common):
            prompts.append(layer.proj_rgb(p_rgb[index:index + 1])
                           * layer.proj_aux(p_aux[index:index + 1]))
        return prompts

    def _complementary(self, routing: Routing, clip: ClipTensors) -> Tensor:
        """L_CM: common prompts of the first frame with one stream's patches masked."""
        rgb = clip.rgb[:1]
        aux = rgb if clip.aux is None else clip.aux[:1]
        group = (clip.aux_group[:1] if clip.aux_group is not None
                 else torch.zeros(1, dtype=torch.long, device=rgb.device))
        side = rgb.shape[-1]
        grid = max(1, side // PATCH)
        keep = (torch.rand(1, 1, grid, grid, device=rgb.device)
                >= self.weights.mask_ratio).to(rgb.dtype)
        keep = nn.functional.interpolate(keep, size=rgb.shape[-2:], mode='nearest')
        # A masked patch becomes 0, the dataset mean after normalisation: an uninformative
        # constant (the paper's learnable token is not specified further).
        if bool(torch.rand(1) < 0.5):
            rgb = rgb * keep
        else:
            aux = aux * keep
        masked = Routing(batch=1, two_streams=True, collect=True)
        self.model.encode(rgb, aux, group, collect=masked)
        clean = self._common_prompts(routing, 0)
        noisy = self._common_prompts(masked, 0)
        return torch.stack([complementary_loss(n, c) for n, c in zip(noisy, clean)]).mean()


def mask_terms(out: sam_steps.DecoderOutput, gt: Tensor, visible: Tensor, weights: LossSection,
               has_mask: Optional[Tensor] = None) -> dict[str, Tensor]:
    """
    Score B decoder outputs against their masks (or, box-only, their boxes).

    Args:
        out: decoder output for B targets (M candidates each).
        gt: (B, S, S) bool target masks at model resolution (box-only: the box's
            rectangle).
        visible: (B,) bool: the target is in the frame.
        weights: loss weights (focal, dice and box_projection pick the best candidate).
        has_mask: (B,) bool: `gt` is a true mask (False: the projection term of
            losses.box_projection_loss replaces focal + dice, and no IoU term); None:
            all true masks.

    """
    logits = out.multi_high.float()  # (B, M, S, S)
    target = gt[:, None].expand_as(logits).float()
    objectness = objectness_loss(out.object_score.float()[:, 0], visible)
    zero = logits.sum() * 0 + out.ious.sum() * 0
    if not bool(visible.any()):
        return {'focal': zero, 'dice': zero, 'iou': zero, 'box': zero,
                'objectness': objectness}
    masked = visible if has_mask is None else visible & has_mask
    boxed = visible & ~masked
    count, cands = logits.shape[:2]
    flat_logits = logits.reshape(count * cands, -1)
    flat_target = target.reshape(count * cands, -1)
    focal = sigmoid_focal_loss(flat_logits, flat_target, reduction='none').mean(1)
    dice = dice_loss(flat_logits, flat_target, reduction='none')
    focal, dice = focal.reshape(count, cands), dice.reshape(count, cands)
    # SAM 2: only the candidate closest to the truth is trained to be it; the IoU head
    # learns to tell which one that is (box-only rows have no true IoU to learn).
    combined = weights.focal * focal + weights.dice * dice
    if bool(boxed.any()):  # recorded box-only data only: synthetic clips skip it
        box = box_projection_loss(logits.flatten(0, 1), target.flatten(0, 1),
                                  reduction='none').reshape(count, cands)
        combined = torch.where(masked[:, None], combined,
                               weights.box_projection * box)
    best = combined.argmin(dim=1)
    rows = torch.arange(count, device=best.device)
    terms = {'focal': zero, 'dice': zero, 'iou': zero, 'box': zero,
             'objectness': objectness}
    if bool(masked.any()):
        terms['focal'] = focal[rows, best][masked].mean()
        terms['dice'] = dice[rows, best][masked].mean()
        terms['iou'] = iou_prediction_loss(out.ious.float()[masked], logits[masked],
                                           target[masked])
    if bool(boxed.any()):
        terms['box'] = box[rows, best][boxed].mean()
    return terms


def jitter_prompt(prompt: Tensor, cells: int = JITTER_CELLS) -> Tensor:
    """
    Perturb binary mask prompts as a tracker's own previous masks are off.

    Each mask moves by a random whole number of cells in [-cells, cells] per axis (what moves
    past the border is lost) and, one time in three each, grows or shrinks by one cell
    (3 x 3 max-pool).

    Args:
        prompt: (B, 1, h, w) float in {0, 1}.
        cells: largest shift per axis.

    Returns:
        (B, 1, h, w) float in {0, 1}.

    """
    draws = torch.randint(0, 2 * cells + 1, (len(prompt), 2), device=prompt.device)
    moved = torch.stack([shift(mask, cells - dy, cells - dx)
                         for mask, (dy, dx) in zip(prompt, draws.tolist())])
    grow = nn.functional.max_pool2d(moved, 3, stride=1, padding=1)
    shrink = -nn.functional.max_pool2d(-moved, 3, stride=1, padding=1)
    choice = torch.randint(0, 3, (len(prompt), 1, 1, 1), device=prompt.device)
    return torch.where(choice == 1, grow, torch.where(choice == 2, shrink, moved))


def _histories(entries: list[list[Tensor]], mem: nn.Module
               ) -> tuple[Optional[Tensor], Optional[Tensor]]:
    """Right-aligned (K, T, Q, D) query histories and their (K, T) padding, or (None, None)."""
    longest = min(max((len(e) for e in entries), default=0), mem.history)
    if longest == 0:
        return None, None
    sample = next(e[0] for e in entries if e)
    history = sample.new_zeros(len(entries), longest, *sample.shape)
    padding = torch.ones(len(entries), longest, dtype=torch.bool, device=sample.device)
    for k, past in enumerate(entries):
        past = past[-longest:]
        if past:
            history[k, longest - len(past):] = torch.stack(past)
            padding[k, longest - len(past):] = False
    return history, padding


__all__ = ['ClipLoss', 'ClipOutput', 'JITTER_CELLS', 'MAX_INSTANCES', 'WEIGHTS', 'jitter_prompt',
           'mask_terms', 'slice_features', 'weighted']
