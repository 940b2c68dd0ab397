"""
How a built model runs: device, precision, memory layout and compilation, behind options.

CPU float32 is the default everywhere. On a GPU, `RuntimeOptions(device='cuda',
dtype='bfloat16')` runs the forward under autocast (weights stay float32, matmuls and
convolutions in bf16), `channels_last=True` stores convolution weights and inputs NHWC (faster
on tensor cores), and `compile_trunk=True` wraps the Hiera trunk in `torch.compile`.
"""

import contextlib
from dataclasses import dataclass
from typing import Iterator

import torch

DTYPES = {'float32': torch.float32, 'bfloat16': torch.bfloat16, 'float16': torch.float16}


@dataclass(frozen=True)
class RuntimeOptions:
    """Execution settings of a model (the node and `sata bench` expose them as parameters)."""

    device: str = 'cpu'  # 'cpu', 'cuda' or 'cuda:N'
    dtype: str = 'float32'  # autocast precision: 'float32' (off), 'bfloat16', 'float16'
    channels_last: bool = False  # NHWC memory layout for convolutions and inputs
    compile_trunk: bool = False  # torch.compile the Hiera trunk (the first call compiles)

    def __post_init__(self) -> None:
        """Check the options against this machine, with a message saying what to change."""
        if self.dtype not in DTYPES:
            raise ValueError(f'dtype must be one of {sorted(DTYPES)}, got {self.dtype!r}')
        if self.device.startswith('cuda') and not torch.cuda.is_available():
            raise ValueError(f'device {self.device!r} requested but torch sees no CUDA GPU '
                             f"(torch {torch.__version__}); use device='cpu'")
        if not (self.device == 'cpu' or self.device.startswith('cuda')):
            raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {self.device!r}")
        if self.dtype == 'float16' and self.device == 'cpu':
            raise ValueError("float16 autocast is for CUDA; on CPU use 'bfloat16' or 'float32'")

    @property
    def torch_device(self) -> torch.device:
        """Return the torch.device of these options."""
        return torch.device(self.device)

    def prepare(self, model: torch.nn.Module) -> torch.nn.Module:
        """Move `model` to the device and layout; compile its encoder if asked. Returns it."""
        model = model.to(self.torch_device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        if self.compile_trunk and hasattr(model, 'sam'):
            model.sam.image_encoder.trunk = torch.compile(model.sam.image_encoder.trunk)
        return model

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Move an input image batch (B, 3, H, W) to the device and layout."""
        x = x.to(self.torch_device, non_blocking=True)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """Context for inference: inference mode plus autocast when dtype is not float32."""
        with torch.inference_mode():
            if self.dtype == 'float32':
                yield
            else:
                with torch.autocast(self.torch_device.type, dtype=DTYPES[self.dtype]):
                    yield
