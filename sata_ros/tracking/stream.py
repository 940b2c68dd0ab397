"""
One camera's tracking session: targets, their memories, ids, frame history and lifecycle.

A `Stream` owns all per-stream state; the model (shared by every stream of a Tracker) holds
none. Per frame (`track`): the image encoder runs once; every prompted target's memory becomes
its cross-attention tokens, and targets whose token sequences have the same length (all of them
once their memories are full) go through memory attention and the mask decoder as one batch;
one memory-encoder call then writes every target's new memory. In 'detected' / 'both' mode the
detection head's boxes (or boxes the caller passes) prompt the decoder as one batch, the masks
refine the boxes, the MEM embeds the instances and the gated Hungarian matching carries their
ids (SATA's TaMOT).

Ids are positive integers, increasing in creation order and never reused within a stream, for
prompted and detected instances alike. Errors in the input (ValueError) are raised before any
state changes. A Stream is not thread-safe: call it from one thread (the node's worker).
"""

from collections import deque
from dataclasses import dataclass
import time
from typing import Optional, Sequence, TYPE_CHECKING

import numpy as np
from sata_ros.data.sequence import Frame
from sata_ros.model import sam_steps
from sata_ros.model.box_ops import box_iou, masks_to_boxes
from sata_ros.model.instance_embedding import crop_masks
from sata_ros.model.matching import affinity, associate
from sata_ros.model.roi_align import roi_align
from sata_ros.model.sam_steps import FrameFeatures, MemoryEntry
from sata_ros.model.tracklets import TrackletBank
from sata_ros.tracking import prompt_motion
from sata_ros.tracking.config import TrackerConfig
from sata_ros.tracking.memory import TargetMemory
from sata_ros.tracking.preprocess import frame_size, prepare_frame
from sata_ros.tracking.prompts import Prompt
from sata_ros.tracking.results import FrameResult, InstanceResult
import torch
import torch.nn.functional as F

if TYPE_CHECKING:  # pragma: no cover
    from sata_ros.tracking.tracker import Tracker


@dataclass
class Detections:
    """
    Boxes from an external detector, in input-image pixels (e.g. from another ROS node).

    Attributes:
        boxes: (N, 4) float (x1, y1, x2, y2) pixels.
        scores: (N,) float in [0, 1].
        labels: N class names.

    """

    boxes: np.ndarray
    scores: np.ndarray
    labels: Sequence[str]


@dataclass
class _HeldFrame:
    index: int
    stamp_ns: int
    size: tuple[int, int]  # (height, width)
    features: FrameFeatures


@dataclass
class _Target:
    target_id: int
    label: str
    memory: TargetMemory
    misses: int = 0
    # (1, S/4, S/4) float32 mask of the last tracked frame: the dense prompt of the next one
    # (moved by prompt_motion); None for models without dense_prompts.
    last_mask: Optional[torch.Tensor] = None
    # The same one tracked frame earlier (its motion); None right after a prompt.
    mask_before: Optional[torch.Tensor] = None


@dataclass
class _Decoded:
    """One target's decoder output on one frame (model-input resolution)."""

    low: torch.Tensor  # (1, S/4, S/4) mask logits
    high: torch.Tensor  # (1, S, S) mask logits
    obj_ptr: torch.Tensor  # (C,)
    object_score: torch.Tensor  # (1,) presence logit
    iou: float  # predicted IoU of the chosen mask


@dataclass
class _DetectedInfo:
    label: str
    embedding: torch.Tensor  # (D,) L2-normalised MEM embedding of the last match
    box: np.ndarray  # (4,) last matched box, input pixels
    score: float
    mask: Optional[np.ndarray]  # mask of this frame's match, None when unmatched now


class Stream:
    """
    An independent tracking session over one camera's frames (see the module docstring).

    Create it with `Tracker.open_stream`.
    """

    def __init__(self, tracker: 'Tracker', name: str, config: TrackerConfig) -> None:
        self.name = name
        self.config = config
        self._tracker = tracker
        sam = tracker.model.sam
        self._feature_window = sam.num_maskmem - 1
        self._pointer_window = sam.max_obj_ptrs_in_encoder - 1
        self._memory_dtype = getattr(torch, config.memory_dtype)
        self._next_id = 1
        self._bank = TrackletBank(config.max_tracklets, config.tracklet_history,
                                  config.drop_after, id_source=self._allocate_id)
        self._clear()

    # ------------------------------------------------------------------ state

    def _clear(self) -> None:
        self._size: Optional[tuple[int, int]] = None
        self._frame_index = 0
        self._history: deque[_HeldFrame] = deque(maxlen=self.config.frame_history)
        self._targets: dict[int, _Target] = {}
        self._detected: dict[int, _DetectedInfo] = {}
        self._bank.reset()
        self._seen: set[str] = set()
        self._maskmem_pos: Optional[torch.Tensor] = None

    def _allocate_id(self) -> int:
        target_id = self._next_id
        self._next_id += 1
        return target_id

    def reset(self) -> None:
        """Forget every target, instance and held frame; ids keep increasing (never reused)."""
        self._clear()

    @property
    def target_ids(self) -> list[int]:
        """Ids of live instances (prompted and detected), ascending."""
        return sorted(list(self._targets) + self._bank.track_ids)

    @property
    def frame_index(self) -> int:
        """Return the index the next tracked frame gets."""
        return self._frame_index

    @property
    def held_stamps(self) -> list[int]:
        """Stamps (ns) of the frames a prompt may refer to, oldest first."""
        return [h.stamp_ns for h in self._history]

    def memory_stats(self) -> dict[str, int]:
        """Return sizes of every bounded structure (for tests, diagnostics and benchmarks)."""
        memories = [t.memory for t in self._targets.values()]
        return {
            'targets': len(self._targets),
            'tracklets': len(self._bank),
            'held_frames': len(self._history),
            'max_prompt_frames': max((len(m.cond) for m in memories), default=0),
            'max_feature_maps': max((m.feature_maps() for m in memories), default=0),
            'max_pointers': max((len(m.recent) for m in memories), default=0),
            'max_tracklet_history': max(
                (len(self._bank.get(t).history) for t in self._bank.track_ids), default=0),
            'detected_infos': len(self._detected),
            'memory_bytes': sum(m.nbytes() for m in memories),
        }

    # ------------------------------------------------------------------ targets

    def add_target(self, prompt: Prompt, target_id: Optional[int] = None,
                   label: Optional[str] = None, stamp_ns: Optional[int] = None
                   ) -> InstanceResult:
        """
        Start a target from a prompt, or correct a live prompted target with a new prompt.

        Args:
            prompt: box, points or mask in the referenced frame's pixels.
            target_id: None assigns the next id; a live prompted target's id adds a correction
                prompt to it; any other id must never have been used in this stream (ids are
                never reused) and becomes the new target's id.
            label: class name (default: the corrected target's label, else 'object').
            stamp_ns: stamp of the frame the prompt refers to; None or 0 means the latest
                tracked frame. Older held frames are tracked again for this target up to the
                latest one.

        Returns:
            The target's result on the latest frame.

        Raises:
            ValueError: no frame tracked yet, the stamp is not held, the prompt is invalid, the
                id is taken or the stream is full; the stream is unchanged.

        """
        held = self._held_frame(stamp_ns)
        height, width = held.size
        prompt = prompt.validate(width, height)
        existing = self._targets.get(target_id) if target_id is not None else None
        if existing is None:
            target_id = self._check_new_id(target_id)
        if label is None:
            label = existing.label if existing is not None else 'object'

        sam = self._tracker.model.sam
        runtime = self._tracker.runtime
        with runtime.autocast():
            if existing is None:
                memory = TargetMemory(self.config.max_prompt_frames, self._feature_window,
                                      self._pointer_window, self._memory_dtype)
            else:
                memory = existing.memory
            point_inputs, mask_inputs = self._prompt_inputs(prompt, held.size)
            if existing is None or mask_inputs is not None:
                pix = sam_steps.condition(sam, held.features, None, batch=1)
                multimask = sam._use_multimask(True, point_inputs)
            else:
                # A correction decodes with the target's memory up to (not including) the frame.
                memory.truncate_from(held.index)
                tokens, pos, num_ptr = sam_steps.memory_tokens(sam, memory, held.index,
                                                               self._maskmem_pos)
                pix = sam_steps.condition(sam, held.features, [(tokens, pos)], num_ptr)
                multimask = None
            dense = self._tracker.model.config.dense_prompts
            out = sam_steps.decode(sam, pix, held.features, point_inputs, mask_inputs,
                                   multimask, box_rectangles=dense)
            feats, self._maskmem_pos = sam_steps.encode_memory(
                sam, held.features, out.high, out.object_score, point_inputs is not None)
            memory.add_prompt(held.index, MemoryEntry(feats[0], out.obj_ptr[0]))
            decoded = _rows(out)[0]
            target = existing or _Target(target_id, label, memory)
            target.label = label
            if dense:
                target.last_mask = sam_steps.mask_prompt_from_logits(out.low)[0]
                target.mask_before = None  # the prompt, not motion, made this mask
            for later in [h for h in self._history if h.index > held.index]:
                decoded = self._step_targets(later, [target])[0]
        self._targets[target.target_id] = target
        self._next_id = max(self._next_id, target.target_id + 1)
        present = self._present(decoded)
        target.misses = 0 if present else target.misses + 1
        latest = self._history[-1]
        return self._instance(target.target_id, target.label, 'prompted', decoded, present,
                              target.misses, latest.size)

    def remove_target(self, target_id: int) -> None:
        """
        Stop tracking an instance (prompted or detected); its id is never reused.

        Raises:
            ValueError: unknown id (the message lists the live ids).

        """
        if target_id in self._targets:
            del self._targets[target_id]
        elif target_id in self._bank:
            self._bank.remove(target_id)
            self._detected.pop(target_id, None)
        else:
            raise ValueError(f'unknown target id {target_id}; live ids: {self.target_ids}')

    def _check_new_id(self, target_id: Optional[int]) -> int:
        if len(self._targets) >= self.config.max_targets:
            raise ValueError(f'stream {self.name!r} already tracks {len(self._targets)} prompted '
                             f'targets (max_targets); remove one first')
        if target_id is None:
            return self._next_id
        if isinstance(target_id, bool) or not isinstance(target_id, (int, np.integer)) or (
                target_id < 1):
            raise ValueError(f'target id must be a positive integer, got {target_id!r}')
        if target_id in self._bank:
            raise ValueError(f'target id {target_id} is a detected instance; remove it first '
                             'or leave the id empty')
        if target_id < self._next_id:
            raise ValueError(f'target id {target_id} was already used in this stream (ids are '
                             f'never reused); use an id >= {self._next_id} or leave it empty')
        return int(target_id)

    def _held_frame(self, stamp_ns: Optional[int]) -> _HeldFrame:
        if not self._history:
            raise ValueError('no frame has been tracked yet: call track() with a frame first; '
                             'a prompt refers to a frame the stream holds')
        if not stamp_ns:
            return self._history[-1]
        for held in self._history:
            if held.stamp_ns == stamp_ns:
                return held
        raise ValueError(f'no held frame has stamp {stamp_ns} ns; the stream holds the last '
                         f'{len(self._history)} frames, stamps {self.held_stamps[0]} .. '
                         f'{self.held_stamps[-1]} ns (0 = latest)')

    def _prompt_inputs(self, prompt: Prompt, size: tuple[int, int]
                       ) -> tuple[Optional[dict], Optional[torch.Tensor]]:
        """Scale a validated prompt to model-input pixels as sam2's predictor does."""
        height, width = size
        side = self._tracker.model.image_size
        device = self._tracker.runtime.torch_device
        if prompt.mask is not None:
            mask = torch.from_numpy(prompt.mask.astype(np.float32))[None, None]
            mask = F.interpolate(mask, size=(side, side), mode='bilinear', align_corners=False,
                                 antialias=True) >= 0.5
            return None, mask.to(device)
        scale = np.array([side / width, side / height])
        coords, labels = [], []
        if prompt.box is not None:
            coords.append(np.asarray(prompt.box).reshape(2, 2) * scale)
            labels.append(np.array([2, 3]))
        if prompt.points is not None:
            coords.append(prompt.points * scale)
            labels.append(prompt.point_labels)
        point_coords = torch.tensor(np.concatenate(coords), dtype=torch.float32, device=device)
        point_labels = torch.tensor(np.concatenate(labels), dtype=torch.int32, device=device)
        return {'point_coords': point_coords[None], 'point_labels': point_labels[None]}, None

    # ------------------------------------------------------------------ frames

    def track(self, frame: Frame, detections: Optional[Detections] = None) -> FrameResult:
        """
        Track every target on a new frame.

        Args:
            frame: RGB plus whichever auxiliary inputs arrived (data.sequence.Frame).
            detections: boxes from an external detector (modes 'detected' / 'both'); None uses
                the model's detection head in those modes.

        Returns:
            FrameResult with every live instance.

        Raises:
            ValueError: the frame's size differs from the stream's, an input has the wrong
                shape or dtype, or the detections are malformed; the stream is unchanged.

        """
        start = time.perf_counter()
        height, width = frame_size(frame)
        if self._size is not None and (height, width) != self._size:
            raise ValueError(f'frame is {width} x {height} but stream {self.name!r} receives '
                             f'{self._size[1]} x {self._size[0]} frames; open one stream per '
                             'camera, or reset() the stream first')
        if detections is not None:
            if self.config.mode == 'prompted':
                raise ValueError("detections were given but the tracker mode is 'prompted'; "
                                 "use mode 'detected' or 'both'")
            detections = _check_detections(detections, width, height)
        model = self._tracker.model
        runtime = self._tracker.runtime
        inputs = prepare_frame(frame, model.image_size, self.config)
        timing = {'preprocess': _ms(start)}

        tick = time.perf_counter()
        with runtime.autocast():
            aux = None if inputs.aux is None else runtime.inputs(inputs.aux)
            group = None if inputs.aux_group is None else inputs.aux_group.to(
                runtime.torch_device)
            backbone = model.encode(runtime.inputs(inputs.rgb), aux, group)
            features = sam_steps.frame_features(model.sam, backbone)
        timing['encode'] = _ms(tick)
        self._size = (height, width)
        held = _HeldFrame(self._frame_index, int(frame.stamp_ns), (height, width), features)

        tick = time.perf_counter()
        instances, dropped = self._track_prompted(held)
        timing['prompted'] = _ms(tick)
        tick = time.perf_counter()
        if self.config.mode != 'prompted':
            if detections is None:
                detections = self._detect(backbone, held.size)
            found, gone = self._track_detected(held, detections, instances)
            instances += found
            dropped += gone
        timing['detected'] = _ms(tick)

        self._history.append(held)
        self._frame_index += 1
        aux_names = set(inputs.present[1:])
        missing = tuple(sorted(self._seen - aux_names))
        self._seen |= aux_names
        timing['total'] = _ms(start)
        return FrameResult(held.index, held.stamp_ns, (height, width),
                           sorted(instances, key=lambda i: i.target_id), inputs.present,
                           inputs.aux_modality, missing, sorted(dropped), timing)

    def _track_prompted(self, held: _HeldFrame) -> tuple[list[InstanceResult], list[int]]:
        targets = list(self._targets.values())
        if not targets:
            return [], []
        with self._tracker.runtime.autocast():
            decoded = self._step_targets(held, targets)
        results, dropped = [], []
        for target, dec in zip(targets, decoded):
            present = self._present(dec)
            target.misses = 0 if present else target.misses + 1
            if target.misses >= self.config.drop_after:
                del self._targets[target.target_id]
                dropped.append(target.target_id)
                continue
            results.append(self._instance(target.target_id, target.label, 'prompted', dec,
                                          present, target.misses, held.size))
        return results, dropped

    def _step_targets(self, held: _HeldFrame, targets: list[_Target]) -> list[_Decoded]:
        """Track `targets` on `held` (batched by memory length) and store their new memory."""
        sam = self._tracker.model.sam
        groups: dict[tuple[int, int], list[int]] = {}
        tokens = []
        for row, target in enumerate(targets):
            tok, pos, num_ptr = sam_steps.memory_tokens(sam, target.memory, held.index,
                                                        self._maskmem_pos)
            tokens.append((tok, pos))
            groups.setdefault((len(tok), num_ptr), []).append(row)
        decoded: list[Optional[_Decoded]] = [None] * len(targets)
        dense = self._tracker.model.config.dense_prompts
        for (_, num_ptr), rows in groups.items():
            pix = sam_steps.condition(sam, held.features, [tokens[r] for r in rows], num_ptr)
            previous = (torch.stack([self._carried(targets[r]) for r in rows]) if dense
                        else None)
            out = sam_steps.decode(sam, pix, held.features, mask_inputs=previous)
            for row, dec in zip(rows, _rows(out)):
                decoded[row] = dec
                if dense:
                    target = targets[row]
                    target.mask_before = target.last_mask
                    target.last_mask = sam_steps.mask_prompt_from_logits(dec.low)
        high = torch.stack([d.high for d in decoded])
        scores = torch.stack([d.object_score for d in decoded])
        feats, self._maskmem_pos = sam_steps.encode_memory(sam, held.features, high, scores,
                                                           False)
        for row, target in enumerate(targets):
            target.memory.add_recent(held.index, MemoryEntry(feats[row], decoded[row].obj_ptr))
        return decoded

    def _carried(self, target: _Target) -> torch.Tensor:
        """Return the (1, S/4, S/4) mask prompt `target` carries to its next frame."""
        cells = round(self.config.prompt_motion * target.last_mask.shape[-1])
        return prompt_motion.moved_prompt(target.mask_before, target.last_mask, cells)

    # ------------------------------------------------------------------ detected instances

    def _detect(self, backbone: dict, size: tuple[int, int]) -> Detections:
        """Run the model's detection head; boxes come back in input-image pixels."""
        model = self._tracker.model
        height, width = size
        with self._tracker.runtime.autocast():
            outputs = model.detector(backbone['fpn_raw'])
            found = model.detector.decode(
                outputs, (model.image_size, model.image_size), self.config.detection_score,
                self.config.detection_nms_iou, self.config.max_detections)[0]
        scale = np.array([width, height, width, height]) / model.image_size
        names = model.config.det_classes
        return Detections(found.boxes.float().cpu().numpy() * scale,
                          found.scores.float().cpu().numpy(),
                          [names[int(i)] for i in found.labels.cpu()])

    def _track_detected(self, held: _HeldFrame, detections: Detections,
                        prompted: list[InstanceResult]) -> tuple[list[InstanceResult], list[int]]:
        """Box-prompt the decoder with detections, embed them (MEM) and match tracklets."""
        keep = detections.scores >= self.config.detection_score
        boxes, scores = detections.boxes[keep], detections.scores[keep]
        labels = [lab for lab, k in zip(detections.labels, keep) if k]
        order = np.argsort(-scores, kind='stable')[:self.config.max_detections]
        boxes, scores, labels = boxes[order], scores[order], [labels[i] for i in order]
        visible = [p.box for p in prompted if p.visible]
        if len(boxes) and visible:
            overlap = box_iou(torch.as_tensor(boxes, dtype=torch.float32),
                              torch.as_tensor(np.array(visible), dtype=torch.float32))
            own = (overlap > self.config.prompted_overlap).any(dim=1).numpy()
            boxes, scores = boxes[~own], scores[~own]
            labels = [lab for lab, o in zip(labels, own) if not o]

        track_ids = self._bank.track_ids
        masks: list[np.ndarray] = []
        if len(boxes):
            with self._tracker.runtime.autocast():
                embeddings, queries, boxes, masks = self._embed(held, boxes, track_ids)
            scores_matrix = self._affinity(embeddings, boxes, track_ids)
            assoc = associate(scores_matrix, self.config.match_threshold)
            matches = [(i, track_ids[j]) for i, j in assoc.matches]
            assigned = self._bank.update(list(queries), matches, assoc.unmatched_instances)
        else:
            assigned = self._bank.update([], [], [])
        for info in self._detected.values():
            info.mask = None
        for i, track_id in enumerate(assigned):
            if track_id is not None:
                self._detected[track_id] = _DetectedInfo(labels[i], embeddings[i].float(),
                                                         boxes[i], float(scores[i]), masks[i])
        live = set(self._bank.track_ids)
        dropped = [t for t in self._detected if t not in live]
        for track_id in dropped:
            del self._detected[track_id]
        results = []
        height, width = held.size
        for track_id in self._bank.track_ids:
            info = self._detected[track_id]
            misses = self._bank.get(track_id).misses
            seen = info.mask is not None
            results.append(InstanceResult(
                track_id, info.label, tuple(float(v) for v in info.box) if seen else _NO_BOX,
                info.mask if seen else np.zeros((height, width), bool),
                info.score if seen else 0.0, self._state(misses), 'detected', misses))
        return results, dropped

    def _embed(self, held: _HeldFrame, boxes: np.ndarray, track_ids: list[int]
               ) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, list[np.ndarray]]:
        """Decode masks for boxes, refine the boxes, and compute MEM embeddings."""
        model = self._tracker.model
        sam = model.sam
        side = model.image_size
        height, width = held.size
        device = self._tracker.runtime.torch_device
        to_model = torch.tensor([side / width, side / height] * 2, dtype=torch.float32,
                                device=device)
        boxes_m = torch.as_tensor(boxes, dtype=torch.float32, device=device) * to_model
        count = len(boxes_m)
        coords, point_labels = sam_steps.box_points(boxes_m)
        pix = sam_steps.condition(sam, held.features, None, batch=count)
        out = sam_steps.decode(sam, pix, held.features,
                               {'point_coords': coords, 'point_labels': point_labels},
                               multimask=False, box_rectangles=model.config.dense_prompts)
        logits = out.high[:, 0].float()
        refined, valid = masks_to_boxes(logits > self.config.mask_threshold)
        boxes_m = torch.where(valid[:, None], refined.to(boxes_m), boxes_m)
        mem = model.mem
        top = held.features.top_map(1)
        rois = torch.cat([boxes_m.new_zeros(count, 1), boxes_m], dim=1)
        roi = roi_align(top.float(), rois, mem.roi_size, top.shape[-1] / side)
        crops = crop_masks(torch.sigmoid(logits), boxes_m, mem.roi_size)
        history, padding = self._provisional_history(boxes, track_ids, count)
        result = mem(roi, crops, boxes_m / side, history, padding)
        embeddings = F.normalize(result.embedding.float(), dim=1)
        low = F.interpolate(out.low.float(), size=(height, width), mode='bilinear',
                            align_corners=False)[:, 0] > self.config.mask_threshold
        masks = list(low.cpu().numpy())
        boxes_px = (boxes_m / to_model).cpu().numpy().astype(np.float64)
        return embeddings, result.queries.float(), boxes_px, masks

    def _provisional_history(self, boxes: np.ndarray, track_ids: list[int], count: int
                             ) -> tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        """Give each instance the history of the tracklet whose last box overlaps it most."""
        if not track_ids:
            return None, None
        last = np.array([self._detected[t].box for t in track_ids])
        overlap = box_iou(torch.as_tensor(boxes, dtype=torch.float32),
                          torch.as_tensor(last, dtype=torch.float32))
        best_iou, best = overlap.max(dim=1)
        history, padding = self._bank.padded_histories(track_ids)
        chosen = history[best]
        chosen_padding = padding[best] | (best_iou <= 0.3)[:, None].to(padding.device)
        return chosen.to(self._tracker.runtime.torch_device), chosen_padding.to(
            self._tracker.runtime.torch_device)

    def _affinity(self, embeddings: torch.Tensor, boxes: np.ndarray, track_ids: list[int]
                  ) -> np.ndarray:
        if not track_ids:
            return np.zeros((len(boxes), 0))
        association = self.config.association
        parts = []
        if association in ('embedding', 'embedding+iou'):
            tracklets = torch.stack([self._detected[t].embedding for t in track_ids])
            parts.append(affinity(embeddings.cpu(), tracklets.cpu(),
                                  self.config.affinity_temperature).numpy())
        if association in ('iou', 'embedding+iou'):
            last = np.array([self._detected[t].box for t in track_ids])
            parts.append(box_iou(torch.as_tensor(boxes, dtype=torch.float32),
                                 torch.as_tensor(last, dtype=torch.float32)).numpy())
        return np.mean(parts, axis=0)

    # ------------------------------------------------------------------ results

    def _present(self, dec: _Decoded) -> bool:
        return bool(dec.object_score.item() > 0) and bool(
            (dec.low > self.config.mask_threshold).any())

    def _state(self, misses: int) -> str:
        if misses == 0:
            return 'tracked'
        return 'occluded' if misses < self.config.lost_after else 'lost'

    def _instance(self, target_id: int, label: str, origin: str, dec: _Decoded, present: bool,
                  misses: int, size: tuple[int, int]) -> InstanceResult:
        height, width = size
        if not present:
            return InstanceResult(target_id, label, _NO_BOX, np.zeros(size, bool), 0.0,
                                  self._state(misses), origin, misses)
        logits = F.interpolate(dec.low[None].float(), size=(height, width), mode='bilinear',
                               align_corners=False)[0, 0]
        mask = logits > self.config.mask_threshold
        box, valid = masks_to_boxes(mask[None])
        if not bool(valid[0]):
            return InstanceResult(target_id, label, _NO_BOX, np.zeros(size, bool), 0.0,
                                  self._state(max(misses, 1)), origin, max(misses, 1))
        score = float(torch.sigmoid(dec.object_score.float()).item()) * min(max(dec.iou, 0.0),
                                                                            1.0)
        return InstanceResult(target_id, label, tuple(float(v) for v in box[0]),
                              mask.cpu().numpy(), score, 'tracked', origin, 0)


_NO_BOX = (0.0, 0.0, 0.0, 0.0)


def _ms(since: float) -> float:
    return 1000.0 * (time.perf_counter() - since)


def _rows(out: sam_steps.DecoderOutput) -> list[_Decoded]:
    """Split a batched decoder output into per-target records."""
    best_iou = out.ious.float().max(dim=1).values
    return [_Decoded(out.low[i], out.high[i], out.obj_ptr[i], out.object_score[i],
                     float(best_iou[i])) for i in range(out.low.shape[0])]


def _check_detections(detections: Detections, width: int, height: int) -> Detections:
    boxes = np.asarray(detections.boxes, np.float64).reshape(-1, 4) if np.size(
        detections.boxes) else np.zeros((0, 4))
    scores = np.asarray(detections.scores, np.float64).reshape(-1)
    labels = list(detections.labels)
    if not (len(boxes) == len(scores) == len(labels)):
        raise ValueError(f'detections need one score and label per box: {len(boxes)} boxes, '
                         f'{len(scores)} scores, {len(labels)} labels')
    if not np.all(np.isfinite(boxes)) or np.any(boxes[:, 2] <= boxes[:, 0]) or np.any(
            boxes[:, 3] <= boxes[:, 1]):
        raise ValueError('detection boxes must be finite (x1, y1, x2, y2) pixels with '
                         'x2 > x1 and y2 > y1')
    boxes = np.stack([boxes[:, 0].clip(0, width), boxes[:, 1].clip(0, height),
                      boxes[:, 2].clip(0, width), boxes[:, 3].clip(0, height)], axis=1)
    return Detections(boxes, scores, labels)
