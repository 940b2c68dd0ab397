"""RuntimeOptions: validation against this machine, autocast precision, layout."""

import pytest
from sata_ros.model.runtime import RuntimeOptions
from sata_ros.model.sata import build_sata
import torch


def test_defaults_are_cpu_float32():
    opts = RuntimeOptions()
    assert (opts.device, opts.dtype, opts.channels_last, opts.compile_trunk) == (
        'cpu', 'float32', False, False)
    assert opts.torch_device == torch.device('cpu')


@pytest.mark.parametrize('kwargs, message', [
    ({'dtype': 'int8'}, 'dtype must be one of'),
    ({'device': 'tpu'}, "device must be 'cpu' or 'cuda"),
    ({'dtype': 'float16'}, 'float16 autocast is for CUDA'),
])
def test_bad_options_say_what_to_change(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RuntimeOptions(**kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the no-GPU message')
def test_cuda_without_a_gpu_is_refused_clearly():
    with pytest.raises(ValueError, match="torch sees no CUDA GPU.*use device='cpu'"):
        RuntimeOptions(device='cuda')


def test_bf16_autocast_and_channels_last_stay_close_to_float32():
    torch.manual_seed(0)
    model = build_sata('sata_nano')
    for layer in model.demoe_layers():
        layer.reset_outputs(std=0.02)
    x, aux = torch.randn(1, 3, 256, 256), torch.randn(1, 3, 256, 256)
    ref_opts = RuntimeOptions()
    with ref_opts.autocast():
        ref = model.encode(x, aux, torch.tensor([2]))['vision_features']
    opts = RuntimeOptions(dtype='bfloat16', channels_last=True)
    fast = opts.prepare(model)
    with opts.autocast():
        out = fast.encode(opts.inputs(x), opts.inputs(aux), torch.tensor([2]))
    got = out['vision_features'].float()
    assert got.shape == ref.shape
    # bf16 keeps 8 mantissa bits: agreement to a few percent of the feature scale.
    assert (got - ref).abs().max() < 0.1 * ref.abs().max()
    assert not torch.equal(got, ref), 'autocast had no effect'
