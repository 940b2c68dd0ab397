"""
DeMoE: the Decoupled Mixture-of-Experts that replaces the MLP of every Hiera block.

Per block, with y = norm2(T) the normalised tokens after attention (SATA paper, section 2.3):

    out(y) = g_S(y)                    shared expert: the block's original MLP, frozen
           + P_G                        common prompt (CpMoE), the same for both streams
           + sum_top2 s_n * g_n^X(y)    specific experts (SaMoE) of the stream's modality group

    P_X = sum_top2 r_n^X * g_n^C(y_X)   common experts, one router, per stream X in {rgb, aux}
    P_G = proj_rgb(P_rgb) * proj_aux(P_aux)

The block adds `out` to its residual, so F_l^X = H^{G,X} + H^{S,X} + T^X as in the paper.
Experts are bottleneck MLPs c -> c/8 -> c whose output layers start at zero: an untrained DeMoE
returns exactly g_S(y), so an untrained SATA encoder computes SAM 2.1's features.

The two token streams travel through the trunk as one batch [rgb; aux] (2B items). The routing
of a forward pass (how the batch splits into streams, each aux sample's modality group, whether
to collect auxiliary-loss terms) lives in a `Routing` object installed per thread with
`routing_scope`, so the sam2 block code runs unchanged and concurrent forwards on different
threads do not see each other's routing.
"""

import contextlib
from dataclasses import dataclass, field
import threading
from typing import Iterator, Optional

import torch
from torch import nn
import torch.nn.functional as F

# Modality groups of the specific experts; index = group id used by routers and labels.
GROUPS = ('rgb', 'thermal', 'depth', 'event')


@dataclass
class Routing:
    """
    How one trunk forward is laid out, plus what the DeMoE layers record during it.

    Attributes:
        batch: B, the number of images per stream.
        two_streams: True when the trunk batch is [rgb (B); aux (B)]; False for RGB only (B).
        aux_group: (B,) long tensor of the aux samples' group ids (GROUPS), or None to let each
            layer's cross-modal router pick the group (argmax).
        collect: record per-layer terms for the auxiliary losses (training).
        common: per layer, (P_rgb, P_aux) common-expert outputs, each (B, ..., C).
        specific: per layer, the specific-expert output H^S of both streams, (2B or B, ..., C).
        shared: per layer, the frozen shared-expert output g_S(y).
        router_logits: per layer, the cross-modal router's (B, len(GROUPS)) logits.

    """

    batch: int
    two_streams: bool
    aux_group: Optional[torch.Tensor] = None
    collect: bool = False
    common: list = field(default_factory=list)
    specific: list = field(default_factory=list)
    shared: list = field(default_factory=list)
    router_logits: list = field(default_factory=list)


_local = threading.local()


@contextlib.contextmanager
def routing_scope(routing: Routing) -> Iterator[Routing]:
    """Install `routing` for DeMoE layers running on this thread during the `with` block."""
    previous = getattr(_local, 'routing', None)
    _local.routing = routing
    try:
        yield routing
    finally:
        _local.routing = previous


def current_routing(batch: int) -> Routing:
    """Return this thread's routing, or a plain single-stream one outside any scope."""
    routing = getattr(_local, 'routing', None)
    return routing if routing is not None else Routing(batch=batch, two_streams=False)


class Experts(nn.Module):
    """
    N bottleneck experts c -> c/r -> c computed together, combined by sparse gates.

    All experts run on all tokens (dense): at c/8 width four experts cost half of one c -> 4c
    MLP, and a dense batched matmul is faster than gathering tokens per expert at these sizes.
    """

    def __init__(self, dim: int, num_experts: int, ratio: int) -> None:
        super().__init__()
        hidden = max(1, dim // ratio)
        self.w1 = nn.Parameter(torch.empty(num_experts, dim, hidden))
        self.b1 = nn.Parameter(torch.zeros(num_experts, hidden))
        # Output layer starts at zero so that a new expert adds nothing (zero-init).
        self.w2 = nn.Parameter(torch.zeros(num_experts, hidden, dim))
        self.b2 = nn.Parameter(torch.zeros(num_experts, dim))
        nn.init.kaiming_uniform_(self.w1.view(-1, hidden).T, a=5 ** 0.5)

    def forward(self, y: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
        """
        Combine expert outputs.

        Args:
            y: (N, C) tokens.
            gates: (N, E) combination weights, zero for unselected experts.

        Returns:
            (N, C) sum_e gates[:, e] * expert_e(y).

        """
        e, c, hidden = self.w1.shape
        # All experts as two matmuls: hidden units of expert e scaled by its gate, so that
        # sum_e g_e * (h_e @ W2_e + b2_e) = (h * g) @ W2 + g @ b2, with no (E, N, C) temporary.
        h = F.gelu(y @ self.w1.permute(1, 0, 2).reshape(c, e * hidden) + self.b1.reshape(-1))
        h = (h.view(-1, e, hidden) * gates.unsqueeze(-1)).view(-1, e * hidden)
        return h @ self.w2.reshape(e * hidden, c) + gates @ self.b2


def top_k_gates(logits: torch.Tensor, k: int) -> torch.Tensor:
    """
    Return sparse gates: softmax renormalised over each row's k largest logits, zero elsewhere.

    Args:
        logits: (N, E) router logits.
        k: experts kept per token (k <= E).

    Returns:
        (N, E) gates; each row sums to 1 and has at most k non-zeros.

    """
    k = min(k, logits.shape[-1])
    top, idx = logits.topk(k, dim=-1)
    return torch.zeros_like(logits).scatter(-1, idx, torch.softmax(top, dim=-1))


class DeMoE(nn.Module):
    """
    The DeMoE replacement of one Hiera block's MLP (see the module docstring).

    Args:
        shared: the block's original MLP; frozen here (requires_grad False).
        dim: token width c.
        num_common: common experts (CpMoE), 4 in the paper.
        num_specific: specific experts per modality group (SaMoE), 4 in the paper.
        top_k: experts per token for every router, 2 in the paper.
        ratio: expert bottleneck c -> c/ratio -> c, 8 in the paper.
        router_noise: std of Gaussian noise added to router logits in training mode, so that
            every expert gets tokens (and gradients) early on (Shazeer-style noisy top-k).

    """

    def __init__(self, shared: nn.Module, dim: int, num_common: int = 4,
                 num_specific: int = 4, top_k: int = 2, ratio: int = 8,
                 router_noise: float = 1.0) -> None:
        super().__init__()
        self.router_noise = router_noise
        self.shared = shared
        for p in self.shared.parameters():
            p.requires_grad_(False)
        self.top_k = top_k
        self.common_router = nn.Linear(dim, num_common, bias=False)
        self.common = Experts(dim, num_common, ratio)
        self.proj_rgb = nn.Linear(dim, dim, bias=False)
        self.proj_aux = nn.Linear(dim, dim, bias=False)
        self.specific_routers = nn.ModuleList(
            nn.Linear(dim, num_specific, bias=False) for _ in GROUPS)
        self.specific = nn.ModuleList(Experts(dim, num_specific, ratio) for _ in GROUPS)
        self.modality_router = nn.Linear(dim, len(GROUPS))
        for router in (self.common_router, *self.specific_routers):
            nn.init.normal_(router.weight, std=0.02)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """
        Apply the DeMoE to normalised tokens.

        Args:
            y: (S*B, H, W, C) tokens of S streams (S = 2: [rgb; aux], or 1: rgb only).

        Returns:
            (S*B, H, W, C) shared + common prompt + specific output, to be added to the
            block's residual.

        """
        routing = current_routing(y.shape[0])
        shared = self.shared(y)
        shape = y.shape
        b = routing.batch
        streams = 2 if routing.two_streams else 1
        if shape[0] != streams * b:
            raise RuntimeError(f'DeMoE got a batch of {shape[0]} for {streams} stream(s) of {b}')
        tokens = y.reshape(streams, b, -1, shape[-1])  # (S, B, L, C)
        flat = tokens.reshape(-1, shape[-1])

        gates = top_k_gates(self._noisy(self.common_router(flat)), self.top_k)
        prompts = self.common(flat, gates).reshape(tokens.shape)
        p_rgb = prompts[0]
        # RGB only: the RGB prompt stands in for the missing auxiliary one.
        p_aux = prompts[1] if streams == 2 else prompts[0]
        common = self.proj_rgb(p_rgb) * self.proj_aux(p_aux)  # (B, L, C), shared by streams

        groups, logits = self._aux_groups(tokens, routing)
        specific = self._specific(tokens, groups, streams)  # (S, B, L, C)

        out = shared.reshape(tokens.shape) + common.unsqueeze(0) + specific
        if routing.collect:
            routing.common.append((p_rgb, p_aux))
            routing.specific.append(specific.reshape(shape))
            routing.shared.append(shared)
            routing.router_logits.append(logits)
        return out.reshape(shape)

    def _aux_groups(self, tokens: torch.Tensor,
                    routing: Routing) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Return each aux sample's group id (B,) and the cross-modal router's logits."""
        b = tokens.shape[1]
        rgb = torch.zeros(b, dtype=torch.long, device=tokens.device)
        if tokens.shape[0] == 1:
            return rgb, None
        logits = self.modality_router(tokens[1].mean(dim=1))  # (B, G)
        if routing.aux_group is not None:
            return routing.aux_group.to(tokens.device), logits
        return logits.argmax(dim=-1), logits

    def _specific(self, tokens: torch.Tensor, aux_groups: torch.Tensor,
                  streams: int) -> torch.Tensor:
        """Route each stream's tokens to its modality group's experts; (S, B, L, C)."""
        out = torch.zeros_like(tokens)
        # Stream 0 is always RGB; stream 1 uses each sample's aux group.
        per_stream = [torch.zeros_like(aux_groups)] + ([aux_groups] if streams == 2 else [])
        for s, groups in enumerate(per_stream):
            for g in groups.unique().tolist():
                sel = groups == g
                x = tokens[s, sel]  # (n, L, C)
                flat = x.reshape(-1, x.shape[-1])
                gates = top_k_gates(self._noisy(self.specific_routers[g](flat)), self.top_k)
                # Under autocast the experts compute in bf16/fp16; the tokens stay float32.
                out[s, sel] = self.specific[g](flat, gates).reshape(x.shape).to(out.dtype)
        return out

    def _noisy(self, logits: torch.Tensor) -> torch.Tensor:
        """Add exploration noise to router logits while training; identity in eval mode."""
        if self.training and self.router_noise > 0:
            return logits + torch.randn_like(logits) * self.router_noise
        return logits

    def reset_outputs(self, std: float = 0.0) -> None:
        """Set every expert output layer to N(0, std) (0 = the zero-init of a new model)."""
        for experts in (self.common, *self.specific):
            with torch.no_grad():
                if std > 0:
                    experts.w2.normal_(0.0, std)
                else:
                    experts.w2.zero_()
