"""DeMoE: gate math, zero-init identity, routing by modality group, common prompt."""

import pytest
from sata_ros.model.demoe import DeMoE, GROUPS, Routing, routing_scope, top_k_gates
import torch
from torch import nn


def test_top_k_gates_renormalise_over_the_kept_experts():
    logits = torch.tensor([[1.0, 3.0, 2.0, 0.0]])
    gates = top_k_gates(logits, 2)
    e3, e2 = torch.exp(torch.tensor(3.0)), torch.exp(torch.tensor(2.0))
    expected = torch.tensor([[0.0, e3 / (e3 + e2), e2 / (e3 + e2), 0.0]])
    assert torch.allclose(gates, expected)
    assert top_k_gates(torch.randn(5, 4), 2).count_nonzero(dim=1).tolist() == [2] * 5


def _demoe(dim=16, seed=0):
    torch.manual_seed(seed)
    shared = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
    return DeMoE(shared, dim).eval()  # eval: no router exploration noise


def test_router_noise_only_while_training():
    layer = _demoe()
    layer.reset_outputs(std=0.1)
    y = torch.randn(1, 3, 5, 16)
    assert torch.equal(layer(y), layer(y))
    layer.train()
    assert not torch.equal(layer(y), layer(y))


def test_untrained_demoe_is_exactly_the_shared_mlp():
    layer = _demoe()
    y = torch.randn(4, 3, 5, 16)  # two streams of B = 2
    with routing_scope(Routing(batch=2, two_streams=True,
                               aux_group=torch.tensor([1, 3]))):
        out = layer(y)
    assert torch.equal(out, layer.shared(y))
    assert all(not p.requires_grad for p in layer.shared.parameters())


def test_specific_experts_follow_the_aux_modality_group():
    layer = _demoe()
    layer.reset_outputs(std=0.1)
    y = torch.randn(2, 3, 5, 16)  # rgb + aux for B = 1
    outs = {}
    for g, name in enumerate(GROUPS):
        with routing_scope(Routing(batch=1, two_streams=True, aux_group=torch.tensor([g]),
                                   collect=True)) as routing:
            outs[name] = layer(y)
        assert routing.router_logits[0].shape == (1, len(GROUPS))
    # The RGB stream always uses the rgb group, whatever the aux modality ...
    assert all(torch.allclose(outs['rgb'][0], o[0]) for o in outs.values())
    # ... while the aux stream's output depends on the group its modality selects.
    assert not torch.allclose(outs['thermal'][1], outs['depth'][1])


def test_router_picks_the_group_when_none_is_given():
    layer = _demoe()
    with torch.no_grad():
        layer.modality_router.weight.zero_()
        layer.modality_router.bias.copy_(torch.tensor([0.0, 0.0, 5.0, 0.0]))  # favour depth
    layer.reset_outputs(std=0.1)
    y = torch.randn(2, 3, 5, 16)
    with routing_scope(Routing(batch=1, two_streams=True)):
        auto = layer(y)
    with routing_scope(Routing(batch=1, two_streams=True, aux_group=torch.tensor([2]))):
        forced = layer(y)
    assert torch.allclose(auto, forced)


def test_common_prompt_is_the_product_of_projected_stream_prompts():
    layer = _demoe()
    layer.reset_outputs(std=0.1)
    y = torch.randn(2, 3, 5, 16)
    with routing_scope(Routing(batch=1, two_streams=True, aux_group=torch.tensor([1]),
                               collect=True)) as routing:
        out = layer(y)
    p_rgb, p_aux = routing.common[0]
    common = layer.proj_rgb(p_rgb) * layer.proj_aux(p_aux)
    specific = routing.specific[0]
    expected = layer.shared(y) + common.reshape(1, 3, 5, 16) + specific
    assert torch.allclose(out, expected, atol=1e-6)


def test_batch_that_does_not_match_the_routing_is_an_error():
    layer = _demoe()
    with routing_scope(Routing(batch=3, two_streams=True)):
        with pytest.raises(RuntimeError, match='batch of 4 for 2 stream'):
            layer(torch.randn(4, 2, 2, 16))
