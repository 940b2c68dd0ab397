"""
The objective of the decoder stage: prompt-to-mask decoding of one encoded frame.

A box-prompted decode is what every prompted target and every detected instance starts from,
and with dense prompts a tracked frame is decoded from the previous mask; on the frozen
encoder of a trained model those two decodes are what limit the masks (README, `sata
accuracy`). `DecoderLoss` trains exactly them, on a frame from the feature pool
(feature_pool.py), with no memory (the tracker's prompt frame):

- every object on the frame is prompted by its box, each corner moved by up to
  `data.box_jitter` of the box size, with the box's rectangle as dense prompt when the model
  has `dense_prompts` (as stream.py prompts a target);
- models with `dense_prompts`: with probability `data.mask_prompts`, every object with a
  true mask is also decoded from that mask, jittered as `loss.teacher_forcing` jitters a
  tracked frame's previous mask (clip_loss.jitter_prompt). Without dense prompts SAM 2.1
  copies a mask prompt to its output, so there is no decode to train.

Each decode is scored by clip_loss.mask_terms (focal + dice on the best candidate, IoU
prediction); the terms of the step's decodes are summed. The presence term is left out: every
pooled object is visible, and a presence head trained on positives only would learn to call
everything present (the 'heads' stage after this one trains it on clips with occlusions).
"""

from sata_ros.model import sam_steps
from sata_ros.model.sata import SataModel
from sata_ros.train.clip_loss import ClipOutput, jitter_prompt, mask_terms, weighted
from sata_ros.train.config import DataSection, LossSection
from sata_ros.train.feature_pool import PooledFrame
import torch
from torch import nn, Tensor

# Terms a decode contributes (clip_loss.mask_terms also returns 'objectness', left out).
TERMS = ('focal', 'dice', 'iou', 'box')


class DecoderLoss(nn.Module):
    """
    Computes a pooled frame's decoder losses.

    Args:
        model: the SataModel being trained (stage 'decoder').
        weights: loss weights (focal, dice, iou, box_projection).
        data: prompt settings (box_jitter, mask_prompts).

    """

    def __init__(self, model: SataModel, weights: LossSection, data: DataSection) -> None:
        super().__init__()
        self.model = model
        self.weights = weights
        self.data = data

    def forward(self, frame: PooledFrame) -> ClipOutput:
        """Return the weighted loss of decoding `frame`'s objects and its terms."""
        sam = self.model.sam
        count = len(frame.boxes)
        visible = torch.ones(count, dtype=torch.bool, device=frame.boxes.device)
        pix = sam_steps.condition(sam, frame.features, None, batch=count)
        coords, labels = sam_steps.box_points(jitter_boxes(frame.boxes, self.data.box_jitter))
        out = sam_steps.decode(sam, pix, frame.features,
                               {'point_coords': coords, 'point_labels': labels},
                               box_rectangles=self.model.config.dense_prompts)
        decodes = [mask_terms(out, frame.masks, visible, self.weights, frame.has_mask)]
        rows = torch.nonzero(frame.has_mask)[:, 0]
        dense = self.model.config.dense_prompts
        if dense and len(rows) and bool(torch.rand(()) < self.data.mask_prompts):
            prompt = jitter_prompt(sam_steps.mask_prompt_from_masks(sam, frame.masks[rows]))
            out = sam_steps.decode(sam, pix[rows], frame.features, mask_inputs=prompt)
            decodes.append(mask_terms(out, frame.masks[rows], visible[rows], self.weights))
        return weighted({name: torch.stack([d[name] for d in decodes]).sum() for name in TERMS},
                        self.weights)


def jitter_boxes(boxes: Tensor, fraction: float) -> Tensor:
    """
    Move each corner of (B, 4) x1, y1, x2, y2 boxes by up to `fraction` of the box size.

    The draw is uniform per coordinate, as clips.ClipSampler jitters a clip's prompt box;
    torch's generator makes it (seeded per step by the trainer).
    """
    size = (boxes[:, 2:] - boxes[:, :2]).clamp(min=1.0).repeat(1, 2)
    noise = torch.rand(boxes.shape, device=boxes.device) * 2.0 - 1.0
    return boxes + noise * fraction * size


__all__ = ['DecoderLoss', 'TERMS', 'jitter_boxes']
