"""
Checkpoints: sata_ros files that rebuild their model alone, and official SAM 2.1 weights.

A sata_ros checkpoint is a torch file holding {'format', 'sata_ros_version', 'config',
'state_dict', 'extra'}: `build_sata(checkpoint=path)` or `load_checkpoint(path)` rebuilds the
exact model from it, and loading is strict (any missing or unexpected key is an error).

`load_sam2_weights(model, path)` loads an official SAM 2.1 checkpoint (a dict with key 'model',
as Meta publishes them) into the parts SATA shares with SAM 2.1: every Hiera block MLP becomes
that block's frozen DeMoE shared expert, everything else keeps its name. The DeMoE experts and
routers are new and keep their initialisation.
"""

from dataclasses import dataclass
import pathlib
import re
from typing import Any, Optional, Union

from sata_ros import __version__
from sata_ros.model.config import SataConfig, VARIANTS
import torch

FORMAT = 'sata_ros.checkpoint/1'
PathLike = Union[str, pathlib.Path]
_MLP_KEY = re.compile(r'^(image_encoder\.trunk\.blocks\.\d+\.mlp\.)')
# SATA-only parameters: the DeMoE parts of a block MLP other than its shared expert.
_NEW_KEY = re.compile(r'^image_encoder\.trunk\.blocks\.\d+\.mlp\.(?!shared\.)')


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: the message names the file and the problem."""


def save_checkpoint(model: torch.nn.Module, path: PathLike, extra: Optional[dict] = None,
                    half: bool = False) -> None:
    """
    Write `model` (a SataModel) with its config to `path`; `extra` is kept verbatim.

    `half` stores floating-point tensors as float16 (half the file; loading casts them back
    to the model's dtype, so a model loaded from it computes in float32 with weights rounded
    to float16 precision).
    """
    state = model.state_dict()
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    torch.save({'format': FORMAT, 'sata_ros_version': __version__,
                'config': model.config.to_dict(), 'state_dict': state,
                'extra': extra or {}}, path)


def _read(path: PathLike) -> Any:
    path = pathlib.Path(path)
    if not path.is_file():
        raise CheckpointError(f'{path}: no such checkpoint file')
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except Exception as exc:  # noqa: B902 - torch raises many types for a corrupt file
        raise CheckpointError(f'{path}: not a readable torch checkpoint ({exc})') from exc


def read_checkpoint(path: PathLike) -> tuple[SataConfig, dict]:
    """Return (config, file contents) of a sata_ros checkpoint, validating its format."""
    data = _read(path)
    if not isinstance(data, dict) or data.get('format') != FORMAT:
        hint = (' (a SAM 2.1 file: use load_sam2_weights)'
                if isinstance(data, dict) and 'model' in data else '')
        keys = sorted(data)[:5] if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(f'{path}: not a sata_ros checkpoint (expected format {FORMAT!r}, '
                              f'found {keys}){hint}')
    try:
        config = SataConfig.from_dict(data['config'])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f'{path}: bad config in checkpoint: {exc}') from exc
    return config, data


def load_checkpoint_into(model: torch.nn.Module, path: PathLike, *,
                         initialise: bool = False,
                         contents: Optional[tuple[SataConfig, dict]] = None) -> None:
    """
    Load a sata_ros checkpoint into `model` strictly.

    Its config must describe the same architecture as model.config: fields that only say how
    the model was trained (SataConfig.TRAINING_FIELDS) may differ. With `initialise` (a
    training run starting from the checkpoint) the weight-neutral fields
    (SataConfig.WEIGHT_NEUTRAL_FIELDS) may differ too: the run trains the new behaviour.
    `contents` is `read_checkpoint(path)` when the caller has read the file already.
    """
    config, data = contents or read_checkpoint(path)
    ours = model.config
    same = config.architecture() == ours.architecture() and (initialise or all(
        getattr(config, name) == getattr(ours, name) for name in ours.WEIGHT_NEUTRAL_FIELDS))
    if not same:
        raise CheckpointError(f'{path}: checkpoint is for {config.variant} with settings '
                              f'{config.to_dict()}, the model is {ours.variant} with '
                              f'{ours.to_dict()}')
    missing, unexpected = model.load_state_dict(data['state_dict'], strict=False)
    if missing or unexpected:
        raise CheckpointError(f'{path}: state does not match the model: missing '
                              f'{missing[:5]}, unexpected {unexpected[:5]}')


def load_checkpoint(path: PathLike, device: Union[str, torch.device] = 'cpu') -> torch.nn.Module:
    """Rebuild the model stored in a sata_ros checkpoint, in eval mode (reads the file once)."""
    from sata_ros.model.sata import build_sata
    contents = read_checkpoint(path)
    model = build_sata(contents[0])
    load_checkpoint_into(model, path, contents=contents)
    return model.to(device)


@dataclass
class Sam2LoadReport:
    """What load_sam2_weights did."""

    loaded: int  # tensors copied from the file
    new: list[str]  # SATA parameters the file cannot have (DeMoE experts, routers, TaMOT heads)
    missing: list[str]  # shared-part parameters the file lacked (left as initialised)
    unexpected: list[str]  # file entries with no counterpart in the model (ignored)


def _guess_variant(state: dict) -> str:
    """Name the SATA variant whose patch embedding matches the file's, for error messages."""
    key = 'image_encoder.trunk.patch_embed.proj.weight'
    if key not in state:
        return 'unknown'
    width = state[key].shape[0]
    names = [name for name, cfg in VARIANTS.items() if cfg.sam2_config.endswith(
        {96: ('_t.yaml', '_s.yaml'), 112: ('_b+.yaml',), 144: ('_l.yaml',)}.get(width, ('?',)))]
    return ' or '.join(n for n in names if n != 'sata_nano') or f'a trunk of width {width}'


def sam2_to_sata_keys(state: dict) -> dict:
    """Rename a SAM 2.1 state dict to SATA's layout: block MLPs become DeMoE shared experts."""
    return {_MLP_KEY.sub(r'\1shared.', k): v for k, v in state.items()}


def load_sam2_weights(model: torch.nn.Module, path: PathLike) -> Sam2LoadReport:
    """
    Load an official SAM 2.1 checkpoint into a SataModel's shared parts.

    Raises:
        CheckpointError: unreadable file, no 'model' entry, or tensors whose shapes do not
            match (a checkpoint of another variant: the message names the key, both shapes
            and the variant the file seems to be for).

    """
    data = _read(path)
    if not isinstance(data, dict) or 'model' not in data:
        found = sorted(data)[:5] if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(f'{path}: not a SAM 2.1 checkpoint: expected a dict with key '
                              f"'model', found {found}")
    state = sam2_to_sata_keys(data['model'])
    own = model.sam.state_dict()
    # Image-encoder keys first: a trunk mismatch is the one that tells which variant it is.
    for key in sorted(own, key=lambda k: not k.startswith('image_encoder.')):
        value = state.get(key)
        if value is not None and own[key].shape != value.shape:
            raise CheckpointError(
                f'{path}: {key} has shape {list(value.shape)} in the file but '
                f'{list(own[key].shape)} in {model.config.variant}; the file looks like a '
                f'checkpoint for {_guess_variant(data["model"])}')
    unexpected = sorted(k for k in state if k not in own)
    usable = {k: v for k, v in state.items() if k in own}
    model.sam.load_state_dict(usable, strict=False)
    shared_names = {k for k in own if not _NEW_KEY.match(k)}
    return Sam2LoadReport(
        loaded=len(usable),
        new=sorted(k for k in own if _NEW_KEY.match(k)) + sorted(
            k for k in model.state_dict() if not k.startswith('sam.')),
        missing=sorted(k for k in shared_names if k not in state),
        unexpected=unexpected)
