"""Latent variable z of the energy E(x, y, z) = D(s_y, Pred(s_x, z)) (seed paper sec. 4.5, fig. 13).

z carries what the context x cannot determine about the target y (which branch a fork takes). Its
information must be bounded, or z would carry all of y and the energy would be flat (low for any y):
a discrete code, a low dimension, an L1 penalty (sparse) or a noise channel (noisy) bound it.
Inference finds `ž = argmin_z E(x, y, z) + R(z)`: enumeration over the codes for discrete z, a few
batched gradient steps for continuous z. An amortized encoder `q(s_x, s_y)` learns to predict ž so
that inference at scale costs one forward pass. `sample` draws z from the prior, for rollouts of
several possible futures (sec. 4.8).

One z per clip: the same z conditions every step of a rollout (`over_time`), so enumeration costs
K rollouts rather than K^T. Every class here is self-contained: any level of the hierarchy that has
an energy function `energy_fn(z (N, B, Dz)) -> (N, B)` can infer, regularize and sample with it.
"""

from __future__ import annotations

import abc
import inspect
from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

EnergyFn = Callable[[Tensor], Tensor]
"""Energies of candidate latents: z (N, B, Dz) -> E (N, B), N candidates for each of B samples."""

ClipEnergy = Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]
"""A world model's `energy(context (B, T0, D), target (B, H, D), actions (B, H, A), z (N, B, Dz)) -> (N, B)`."""

LATENT_LOSSES = ("latent_relaxation", "latent_amortized")  # latent terms added to the training loss


class Inferred(NamedTuple):
    """Result of inference: ž (B, Dz), its energy E(x, y, ž) (B,), and the code index (B,) for discrete z."""

    z: Tensor
    energy: Tensor
    code: Tensor | None


def over_time(z: Tensor, steps: int) -> Tensor:
    """A clip latent (B, Dz) as the per-step input of a predictor: (B, steps, Dz), the same z at every step."""
    return z[:, None].expand(-1, steps, -1)


class Latent(nn.Module, abc.ABC):
    """A latent z (B, Dz) with its regularizer R(z), inference, amortized encoder q and prior.

    The amortized encoder q reads the last context state, the mean target state and the last target
    state, (B, 3 D), through a small MLP: one pass, far cheaper than a rollout.
    """

    kind: ClassVar[str]

    def __init__(self, dim: int, state_dim: int, amortizer_hidden: int, amortizer_out: int) -> None:
        super().__init__()
        if dim < 1:
            raise ValueError(f"model.latent.dim: expected >= 1, got {dim}")
        self.dim = dim
        self.amortizer = nn.Sequential(
            nn.Linear(3 * state_dim, amortizer_hidden), nn.GELU(), nn.Linear(amortizer_hidden, amortizer_out)
        )

    @abc.abstractmethod
    def infer(self, energy_fn: EnergyFn, batch_size: int, device: torch.device | str | None = None) -> Inferred:
        """ž = argmin_z E(x, y, z) + R(z) for B samples whose energies `energy_fn` computes (on `device`,
        by default the latent's own)."""

    @abc.abstractmethod
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws (n, Dz) from the prior, to roll out several possible futures (sec. 4.8)."""

    @abc.abstractmethod
    def amortize(self, context: Tensor, target: Tensor) -> Tensor:
        """z = q(s_x, s_y) in one pass: context (B, T0, D), target (B, H, D) -> (B, Dz)."""

    @abc.abstractmethod
    def amortized_loss(self, context: Tensor, target: Tensor, inferred: Inferred) -> Tensor:
        """Loss training q to predict ž (inputs and ž are detached: q learns without shaping the encoder)."""

    def regularizer(self, z: Tensor) -> Tensor:
        """R(z) per sample, (..., Dz) -> (...); zero where the form of z itself bounds its information."""
        return z.new_zeros(z.shape[:-1])

    def relaxation_loss(self, energy_fn: EnergyFn, inferred: Inferred) -> Tensor:
        """Extra training loss beside E(x, y, ž), differentiable w.r.t. the model; zero unless discrete."""
        return inferred.energy.new_zeros(())

    def channel(self, z: Tensor) -> Tensor:
        """What the predictor receives of z during training; identity unless the latent is noisy."""
        return z

    def _amortizer_input(self, context: Tensor, target: Tensor) -> Tensor:
        """[s_x last, mean s_y, s_y last]: (B, T0, D), (B, H, D) -> (B, 3 D), detached."""
        return torch.cat([context[:, -1], target.mean(1), target[:, -1]], dim=-1).detach()


class DiscreteLatent(Latent):
    """K learned codes (K, Dz); ž is the code of least energy, found by enumerating all K in one batched
    call. The choice is not differentiable; the gradient passes straight through it to the chosen
    code, as if it were fixed. At most log2(K) bits. q classifies the code.

    Pure winner-takes-all leaves codes that lose at initialisation untrained forever (dead codes);
    `relaxation` > 0 also trains the losing codes with that weight (relaxed winner-takes-all,
    Rupprecht et al. 2017), so every code stays a candidate until the codes split the outcomes.
    """

    kind = "discrete"

    def __init__(
        self, state_dim: int, num_codes: int = 2, dim: int = 8, relaxation: float = 0.05, amortizer_hidden: int = 64
    ) -> None:
        if num_codes < 2:
            raise ValueError(f"model.latent.num_codes: expected >= 2 codes, got {num_codes}")
        if not 0 <= relaxation < 1:
            raise ValueError(f"model.latent.relaxation: expected in [0, 1), got {relaxation}")
        super().__init__(dim, state_dim, amortizer_hidden, num_codes)
        self.num_codes = num_codes
        self.relaxation = relaxation
        # Codes start close together, as small perturbations of one prediction, and move apart as each
        # learns the clips it wins (as k-means from nearby seeds): far-apart random codes make one code
        # win every clip at first.
        self.codebook = nn.Parameter(0.05 * torch.randn(num_codes, dim))

    def infer(self, energy_fn: EnergyFn, batch_size: int, device: torch.device | str | None = None) -> Inferred:
        with torch.no_grad():
            candidates = self.codebook.detach()[:, None].expand(-1, batch_size, -1)  # (K, B, Dz)
            energy, code = energy_fn(candidates).min(dim=0)
        return Inferred(self.codebook[code], energy, code)

    def relaxation_loss(self, energy_fn: EnergyFn, inferred: Inferred) -> Tensor:
        """relaxation x mean energy of the codes that lost, (K, B) energies with gradients."""
        if self.relaxation == 0:
            return inferred.energy.new_zeros(())
        energies = energy_fn(self.codebook[:, None].expand(-1, len(inferred.code), -1))  # (K, B)
        losers = energies.sum(0) - energies.gather(0, inferred.code[None])[0]
        return self.relaxation * losers.mean() / (self.num_codes - 1)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Codes drawn uniformly."""
        code = torch.randint(self.num_codes, (n,), generator=generator, device=self.codebook.device)
        return self.codebook[code].detach()

    def amortize(self, context: Tensor, target: Tensor) -> Tensor:
        return self.codebook[self.amortizer(self._amortizer_input(context, target)).argmax(-1)]

    def amortized_loss(self, context: Tensor, target: Tensor, inferred: Inferred) -> Tensor:
        return F.cross_entropy(self.amortizer(self._amortizer_input(context, target)), inferred.code)


class ContinuousLatent(Latent):
    """Continuous z in R^Dz, unpenalized: its dimension alone bounds its information (`low_dim` with a
    small Dz). Inference: `steps` Adam steps of size `lr` on sum_b E_b + R(z_b), from z = 0, all samples
    at once (the energies are independent, so each z_b follows its own gradient). Prior N(0, I)."""

    kind = "low_dim"

    def __init__(
        self, state_dim: int, dim: int = 2, steps: int = 10, lr: float = 0.1, amortizer_hidden: int = 64
    ) -> None:
        super().__init__(dim, state_dim, amortizer_hidden, dim)
        if steps < 1:
            raise ValueError(f"model.latent.steps: expected >= 1 gradient steps, got {steps}")
        if lr <= 0:
            raise ValueError(f"model.latent.lr: expected > 0, got {lr}")
        self.steps = steps
        self.lr = lr

    def infer(self, energy_fn: EnergyFn, batch_size: int, device: torch.device | str | None = None) -> Inferred:
        # Gradients w.r.t. z are needed even where the caller runs without autograd (validation, probes).
        device = self.amortizer[0].weight.device if device is None else device
        with torch.inference_mode(False), torch.enable_grad():
            z = torch.zeros(batch_size, self.dim, device=device, requires_grad=True)
            optimizer = torch.optim.Adam([z], lr=self.lr)
            for _ in range(self.steps):
                objective = (energy_fn(z[None])[0] + self.regularizer(z)).sum()
                (z.grad,) = torch.autograd.grad(objective, z)
                optimizer.step()
        z = z.detach()
        with torch.no_grad():
            energy = energy_fn(z[None])[0]
        return Inferred(z, energy, None)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        device = self.amortizer[0].weight.device
        return torch.randn(n, self.dim, generator=generator, device=device)

    def amortize(self, context: Tensor, target: Tensor) -> Tensor:
        return self.amortizer(self._amortizer_input(context, target))

    def amortized_loss(self, context: Tensor, target: Tensor, inferred: Inferred) -> Tensor:
        return F.mse_loss(self.amortize(context, target), inferred.z.detach())


class SparseLatent(ContinuousLatent):
    """Sparse z: R(z) = l1 * ||z||_1 lets few of the Dz dimensions be used for any one sample."""

    kind = "sparse"

    def __init__(
        self,
        state_dim: int,
        dim: int = 16,
        l1: float = 0.05,
        steps: int = 10,
        lr: float = 0.1,
        amortizer_hidden: int = 64,
    ) -> None:
        super().__init__(state_dim, dim, steps, lr, amortizer_hidden)
        if l1 <= 0:
            raise ValueError(f"model.latent.l1: expected > 0, got {l1}")
        self.l1 = l1

    def regularizer(self, z: Tensor) -> Tensor:
        return self.l1 * z.abs().sum(-1)


class NoisyLatent(ContinuousLatent):
    """z through a Gaussian channel: in training the predictor gets z + noise_std * eps, and
    R(z) = power * ||z||^2 prices the signal, so the channel carries at most about
    Dz/2 log2(1 + |z|^2 / (Dz noise_std^2)) bits (Shannon)."""

    kind = "noisy"

    def __init__(
        self,
        state_dim: int,
        dim: int = 16,
        noise_std: float = 0.5,
        power: float = 0.01,
        steps: int = 10,
        lr: float = 0.1,
        amortizer_hidden: int = 64,
    ) -> None:
        super().__init__(state_dim, dim, steps, lr, amortizer_hidden)
        if noise_std <= 0:
            raise ValueError(f"model.latent.noise_std: expected > 0, got {noise_std}")
        if power <= 0:
            raise ValueError(f"model.latent.power: expected > 0, got {power}")
        self.noise_std = noise_std
        self.power = power

    def regularizer(self, z: Tensor) -> Tensor:
        return self.power * z.square().sum(-1)

    def channel(self, z: Tensor) -> Tensor:
        return z + self.noise_std * torch.randn_like(z) if self.training else z


def infer_clip_latent(
    latent: Latent | None, energy: ClipEnergy, states: Tensor, actions: Tensor
) -> tuple[Tensor | None, dict[str, Tensor]]:
    """ž = argmin_z E(s_0, s_1:, z) + R(z) per clip of states (B, T, D) under actions (B, T-1, A), as the
    predictor's input (B, T-1, Dz), and the latent's terms: E(ž), R(ž), the relaxation loss of the codes
    that lost (discrete z) and the amortized encoder's loss. None and no terms without a latent.

    ž is found with the model held fixed; given ž, R(ž) has no gradient w.r.t. the model, so it is
    logged, not added to the loss (it shapes ž through inference). Every level of the hierarchy uses it.
    """
    if latent is None:
        return None, {}
    with torch.inference_mode(False):  # validation runs in inference mode; inference needs autograd
        states, actions = states.detach().clone(), actions.detach().clone()
    context, target = states[:, :1], states[:, 1:]
    energy_fn = partial(energy, context, target, actions)
    inferred = latent.infer(energy_fn, len(states), states.device)
    terms = {
        "latent_energy": inferred.energy.mean(),
        "latent_regularizer": latent.regularizer(inferred.z.detach()).mean(),
        "latent_relaxation": latent.relaxation_loss(energy_fn, inferred),
        "latent_amortized": latent.amortized_loss(context, target, inferred),
    }
    return over_time(latent.channel(inferred.z), actions.shape[1]), terms


def latent_loss(terms: dict[str, Tensor]) -> Tensor | float:
    """The sum of the `LATENT_LOSSES` among `terms` (0 without a latent)."""
    return sum(terms[k] for k in LATENT_LOSSES if k in terms)


LATENTS: dict[str, type[Latent]] = {
    cls.kind: cls for cls in (DiscreteLatent, ContinuousLatent, SparseLatent, NoisyLatent)
}


def build_latent(cfg: dict[str, Any] | None, state_dim: int) -> Latent | None:
    """Latent from `{"kind": none | discrete | low_dim | sparse | noisy, fields}`; None for kind none.

    Unknown kinds or fields -> ValueError naming `model.latent.<field>`.
    """
    fields = dict(cfg or {})
    kind = fields.pop("kind", "none")
    if kind == "none":
        if fields:
            raise ValueError(f"model.latent: kind 'none' takes no fields, got {sorted(fields)}")
        return None
    if kind not in LATENTS:
        raise ValueError(f"model.latent.kind: unknown kind {kind!r}; choose one of {['none', *LATENTS]}")
    known = set(inspect.signature(LATENTS[kind]).parameters) - {"state_dim"}
    for name in fields:
        if name not in known:
            raise ValueError(f"model.latent.{name}: unknown field for kind {kind!r}; known: {sorted(known)}")
    return LATENTS[kind](state_dim=state_dim, **fields)
