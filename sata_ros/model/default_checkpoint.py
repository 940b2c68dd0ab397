"""
The checkpoints shipped inside the package, and how a checkpoint setting is resolved.

`sata_nano` ships `sata_ros/checkpoints/sata_nano_synthetic.pt`: trained from scratch on
synthetic scenes on a CPU by `sata train` with config/train/nano_synthetic.yaml, then
nano_synthetic_dense.yaml and nano_synthetic_track.yaml, each from the one before; it uses
dense prompts (SataConfig.dense_prompts, adopted by build_sata from the file). The README
gives its training time and accuracy. Larger variants ship nothing: they start from Meta's
SAM 2.1 weights (checkpoint.load_sam2_weights) and need GPU training.

A checkpoint setting (node parameter `checkpoint`, `--checkpoint` of the commands) is:
'default' = the shipped checkpoint of the variant; 'none' = untrained weights (tests,
ablations); anything else = the path of a sata_ros checkpoint.
"""

import pathlib
from typing import Optional

PACKAGE_DIR = pathlib.Path(__file__).resolve().parents[1]
SHIPPED = {'sata_nano': PACKAGE_DIR / 'checkpoints' / 'sata_nano_synthetic.pt'}
DEFAULT, UNTRAINED = 'default', 'none'


def resolve_checkpoint(setting: str, variant: str) -> Optional[pathlib.Path]:
    """
    Turn a checkpoint setting into a path, or None for untrained weights.

    Raises:
        ValueError: 'default' for a variant that ships no checkpoint, or a path that does not
            exist; the message says what to set instead.

    """
    if setting == UNTRAINED:
        return None
    if setting in (DEFAULT, ''):
        path = SHIPPED.get(variant)
        if path is None:
            raise ValueError(f'variant {variant!r} ships no default checkpoint (only '
                             f'{sorted(SHIPPED)} do); give the path of a trained sata_ros '
                             "checkpoint, or 'none' for untrained weights")
        if not path.is_file():
            raise ValueError(f'the shipped checkpoint {path} is missing from this install; '
                             're-install sata_ros or give a checkpoint path')
        return path
    path = pathlib.Path(setting).expanduser()
    if not path.is_file():
        raise ValueError(f"checkpoint {setting!r}: no such file (use 'default' for the shipped "
                         f"checkpoint or 'none' for untrained weights)")
    return path


__all__ = ['DEFAULT', 'PACKAGE_DIR', 'SHIPPED', 'UNTRAINED', 'resolve_checkpoint']
