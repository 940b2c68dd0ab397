"""RoIAlign against a loop-by-loop reference of the Mask R-CNN definition and exact cases."""

import math

import pytest
from sata_ros.model.roi_align import roi_align
import torch


def _bilinear(fmap: torch.Tensor, y: float, x: float) -> torch.Tensor:
    """Read (C, H, W) `fmap` at continuous cell-index (y, x), following the definition."""
    _, height, width = fmap.shape
    if y < -1.0 or y > height or x < -1.0 or x > width:
        return torch.zeros(fmap.shape[0], dtype=fmap.dtype)
    y = min(max(y, 0.0), height - 1.0)
    x = min(max(x, 0.0), width - 1.0)
    y0, x0 = int(math.floor(y)), int(math.floor(x))
    y1, x1 = min(y0 + 1, height - 1), min(x0 + 1, width - 1)
    ly, lx = y - y0, x - x0
    return ((1 - ly) * (1 - lx) * fmap[:, y0, x0] + (1 - ly) * lx * fmap[:, y0, x1]
            + ly * (1 - lx) * fmap[:, y1, x0] + ly * lx * fmap[:, y1, x1])


def _reference(features, boxes, out_h, out_w, scale, ratio, aligned):
    out = torch.zeros(len(boxes), features.shape[1], out_h, out_w, dtype=features.dtype)
    offset = 0.5 if aligned else 0.0
    for k, (b, x1, y1, x2, y2) in enumerate(boxes.tolist()):
        fmap = features[int(b)]
        sx, sy = x1 * scale - offset, y1 * scale - offset
        w, h = x2 * scale - offset - sx, y2 * scale - offset - sy
        if not aligned:
            w, h = max(w, 1.0), max(h, 1.0)
        gh = ratio if ratio > 0 else max(math.ceil(h / out_h), 0)
        gw = ratio if ratio > 0 else max(math.ceil(w / out_w), 0)
        bh, bw = h / out_h, w / out_w
        for p in range(out_h):
            for q in range(out_w):
                acc = torch.zeros(features.shape[1], dtype=features.dtype)
                for i in range(gh):
                    for j in range(gw):
                        y = sy + p * bh + (i + 0.5) * bh / gh
                        x = sx + q * bw + (j + 0.5) * bw / gw
                        acc += _bilinear(fmap, y, x)
                out[k, :, p, q] = acc / max(gh * gw, 1)
    return out


def _random_boxes(gen, count, batch, size):
    # Corners may fall outside the image (up to 30% of it), to exercise the border rules.
    corners = torch.rand(count, 4, generator=gen, dtype=torch.float64) * 1.6 - 0.3
    x = torch.sort(corners[:, [0, 2]], dim=1).values * size
    y = torch.sort(corners[:, [1, 3]], dim=1).values * size
    index = torch.randint(0, batch, (count,), generator=gen).to(torch.float64)
    return torch.stack([index, x[:, 0], y[:, 0], x[:, 1], y[:, 1]], dim=1)


@pytest.mark.parametrize('aligned', [True, False])
@pytest.mark.parametrize('ratio', [2, 1, 3, 0])
def test_matches_reference_on_random_boxes(aligned, ratio):
    gen = torch.Generator().manual_seed(3 + ratio)
    features = torch.randn(2, 3, 6, 7, generator=gen, dtype=torch.float64)
    boxes = _random_boxes(gen, 12, 2, 28.0)
    # A degenerate box and one entirely off the map.
    boxes = torch.cat([boxes, torch.tensor([[1.0, 8.0, 8.0, 8.0, 8.0],
                                            [0.0, -40.0, -40.0, -20.0, -30.0]],
                                           dtype=torch.float64)])
    got = roi_align(features, boxes, (3, 2), 0.25, sampling_ratio=ratio, aligned=aligned)
    want = _reference(features, boxes, 3, 2, 0.25, ratio, aligned)
    assert got.shape == (14, 3, 3, 2)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_single_row_and_column_maps():
    features = torch.arange(5.0, dtype=torch.float64).reshape(1, 1, 1, 5)
    boxes = torch.tensor([[0.0, 0.5, -1.0, 4.0, 2.0]], dtype=torch.float64)
    torch.testing.assert_close(roi_align(features, boxes, 2, 1.0),
                               _reference(features, boxes, 2, 2, 1.0, 2, True))
    features = features.transpose(2, 3).contiguous()
    boxes = boxes[:, [0, 2, 1, 4, 3]]
    torch.testing.assert_close(roi_align(features, boxes, 2, 1.0),
                               _reference(features, boxes, 2, 2, 1.0, 2, True))


def test_constant_map_gives_constant_output():
    features = torch.full((2, 4, 10, 12), 2.5)
    boxes = torch.tensor([[0.0, 4.0, 4.0, 40.0, 36.0], [1.0, 2.0, 3.0, 9.0, 30.0],
                          [1.0, 10.0, 10.0, 10.5, 10.5]])
    out = roi_align(features, boxes, 7, 0.25)
    torch.testing.assert_close(out, torch.full((3, 4, 7, 7), 2.5))


def test_linear_ramp_gives_bin_centre_values():
    # Bilinear interpolation reproduces a linear function exactly and the bin's sample points
    # are symmetric about its centre, so each bin equals the ramp at the bin centre.
    height, width, stride = 16, 20, 4.0
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float64),
                            torch.arange(width, dtype=torch.float64), indexing='ij')
    # Cell (i, j) has its centre at (i + 0.5, j + 0.5) feature pixels: f = a x + b y + c with x,
    # y the continuous coordinates of that centre in feature pixels.
    a, b, c = 0.7, -1.3, 4.0
    features = (a * (xs + 0.5) + b * (ys + 0.5) + c)[None, None]
    x1, y1, x2, y2 = 10.0, 14.0, 61.0, 50.0  # input pixels, well inside the map
    out = roi_align(features, torch.tensor([[0.0, x1, y1, x2, y2]], dtype=torch.float64),
                    (3, 5), 1.0 / stride, sampling_ratio=2)
    bin_h, bin_w = (y2 - y1) / stride / 3, (x2 - x1) / stride / 5
    for p in range(3):
        for q in range(5):
            cx = x1 / stride + (q + 0.5) * bin_w
            cy = y1 / stride + (p + 0.5) * bin_h
            assert out[0, 0, p, q].item() == pytest.approx(a * cx + b * cy + c, abs=1e-12)


def test_empty_boxes_and_dtype():
    features = torch.randn(1, 5, 8, 8, dtype=torch.float16)
    out = roi_align(features, torch.zeros(0, 5), (4, 3), 0.5)
    assert out.shape == (0, 5, 4, 3) and out.dtype == torch.float16
    out = roi_align(features, torch.tensor([[0.0, 1.0, 1.0, 9.0, 9.0]]), 2, 0.5)
    assert out.shape == (1, 5, 2, 2) and out.dtype == torch.float16


def test_bad_shapes_rejected():
    with pytest.raises(ValueError):
        roi_align(torch.zeros(3, 8, 8), torch.zeros(1, 5), 2, 1.0)
    with pytest.raises(ValueError):
        roi_align(torch.zeros(1, 3, 8, 8), torch.zeros(1, 4), 2, 1.0)


def test_gradients_flow_to_features():
    gen = torch.Generator().manual_seed(0)
    features = torch.randn(2, 2, 5, 6, generator=gen, dtype=torch.float64, requires_grad=True)
    boxes = _random_boxes(gen, 4, 2, 24.0)
    assert torch.autograd.gradcheck(
        lambda f: roi_align(f, boxes, 2, 0.25, sampling_ratio=2), (features,))
    roi_align(features, boxes, 2, 0.25).sum().backward()
    assert features.grad is not None and features.grad.abs().sum() > 0
