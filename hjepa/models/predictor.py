"""World-model predictor Pred(s_t, a_t, z_t) -> s_{t+1} (seed paper sec. 4.4, fig. 2).

Three kinds: a GRU, a causal transformer and a conv net on spatial states; all share one rollout,
`Predictor.unroll`.
"""

import abc
import inspect
from typing import Any

import torch
from torch import Tensor, nn

from hjepa.fields import check_field_types


class Predictor(nn.Module, abc.ABC):
    """Causal, action-conditioned, residual predictor: s_{t+1} = s_t + f(s_<=t, a_<=t, z_<=t).

    Time is aligned with the data: actions[:, t] and z[:, t] act on state t, counted from the first
    state given. Subclasses define a parallel `forward` over known states and an incremental `step`.
    """

    history = 1
    """States a planning rollout starts from: the present one alone, or also the last one for a predictor that
    sees the last change (`ConvPredictor(history=2)`, given it by `hjepa.agent.last_step.AfterLastStep`)."""

    def __init__(self, state_dim: int, action_dim: int, latent_dim: int, action_scale: float = 1.0) -> None:
        super().__init__()
        self.state_dim = state_dim
        self.action_dim = action_dim
        self.latent_dim = latent_dim
        # Raw actions can be tiny (displacements of a few hundredths); scaling them to O(1) lets the
        # network use them from the first step. Part of the model, so planners pass raw actions.
        self.action_scale = action_scale

    @property
    def input_dim(self) -> int:
        """Width of the per-step conditioning input [a_t, z_t]."""
        return self.action_dim + self.latent_dim

    @staticmethod
    def _join(states: Tensor, inputs: Tensor) -> Tensor:
        """[s_t, a_t, z_t]: (..., D) and (..., A + Dz) -> (..., D + A + Dz) in the states' dtype."""
        return torch.cat([states, inputs.to(states.dtype)], dim=-1)

    @abc.abstractmethod
    def forward(self, states: Tensor, inputs: Tensor) -> Tensor:
        """states (B, T, D), inputs (B, T, A + Dz) -> (B, T, D), where output t predicts s_{t+1}."""

    @abc.abstractmethod
    def step(self, state: Tensor, inputs: Tensor, cache: Any) -> tuple[Tensor, Any]:
        """One transition: state (B, D), inputs (B, A + Dz), cache of the past (None at first) -> (next, cache)."""

    def _inputs(self, actions: Tensor, z: Tensor | None) -> Tensor:
        """Checks actions (B, T, A) and latent z (B, T, Dz) and concatenates them to (B, T, A + Dz)."""
        if actions.dim() != 3 or actions.shape[-1] != self.action_dim:
            got = tuple(actions.shape)
            raise ValueError(f"actions must be (B, T, {self.action_dim}) (predictor.action_dim), got {got}")
        actions = actions * self.action_scale
        if self.latent_dim == 0:
            if z is not None:
                raise ValueError("a latent z was given but predictor.latent_dim is 0")
            return actions
        if z is None or z.shape != (*actions.shape[:2], self.latent_dim):
            got = None if z is None else tuple(z.shape)
            raise ValueError(f"z must be (B, T, {self.latent_dim}) (predictor.latent_dim), T as actions; got {got}")
        return torch.cat([actions, z.to(actions.dtype)], dim=-1)

    def predict_teacher_forced(self, states: Tensor, actions: Tensor, z: Tensor | None = None) -> Tensor:
        """One-step predictions of s_{t+1} from the true s_<=t.

        states (B, T, D), actions (B, T-1, A), z (B, T-1, Dz) or None -> (B, T-1, D).
        """
        inputs = self._inputs(actions, z)
        if inputs.shape[1] != states.shape[1] - 1:
            raise ValueError(f"need T-1 actions for T states, got {inputs.shape[1]} for {states.shape[1]}")
        return self(states[:, :-1], inputs)

    def unroll(self, s0: Tensor, actions: Tensor, z: Tensor | None = None) -> Tensor:
        """Autoregressive rollout, the one used by training, probes and planners.

        s0: a state (B, D) or a context of true states (B, T0, D); actions (B, T0 - 1 + H, A) start at the
        first context state (so (B, H, A) for a single s0), z likewise. Returns the H predicted states
        after the context, (B, H, D); differentiable w.r.t. s0, actions and z.
        """
        context = s0[:, None] if s0.dim() == 2 else s0
        inputs = self._inputs(actions, z)
        t0 = context.shape[1]
        if inputs.shape[1] < t0:
            raise ValueError(f"a context of {t0} states needs at least {t0} actions, got {inputs.shape[1]}")
        cache = None
        for t in range(t0 - 1):  # consume the context's own transitions
            _, cache = self.step(context[:, t], inputs[:, t], cache)
        state, preds = context[:, -1], []
        for t in range(t0 - 1, inputs.shape[1]):
            state, cache = self.step(state, inputs[:, t], cache)
            preds.append(state)
        return torch.stack(preds, dim=1)


class GRUPredictor(Predictor):
    """Recurrent predictor: a GRU over [s_t, a_t, z_t] whose hidden state carries the past."""

    def __init__(
        self,
        state_dim: int = 128,
        action_dim: int = 0,
        latent_dim: int = 0,
        hidden_dim: int = 256,
        num_layers: int = 1,
        action_scale: float = 1.0,
    ) -> None:
        super().__init__(state_dim, action_dim, latent_dim, action_scale)
        self.gru = nn.GRU(state_dim + self.input_dim, hidden_dim, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_dim, state_dim)

    def forward(self, states: Tensor, inputs: Tensor) -> Tensor:
        out, _ = self.gru(self._join(states, inputs))
        return states + self.head(out)

    def step(self, state: Tensor, inputs: Tensor, cache: Tensor | None) -> tuple[Tensor, Tensor]:
        out, hidden = self.gru(self._join(state, inputs)[:, None], cache)
        return state + self.head(out[:, 0]), hidden


class TransformerPredictor(Predictor):
    """Causal transformer over state tokens, each a linear embedding of [s_t, a_t, z_t] (state token plus
    embedded action) with a learned position; the cache of `step` is the past token sequence."""

    def __init__(
        self,
        state_dim: int = 128,
        action_dim: int = 0,
        latent_dim: int = 0,
        hidden_dim: int = 256,
        num_layers: int = 2,
        num_heads: int = 4,
        max_len: int = 64,
        action_scale: float = 1.0,
    ) -> None:
        super().__init__(state_dim, action_dim, latent_dim, action_scale)
        self.max_len = max_len
        self.embed = nn.Linear(state_dim + self.input_dim, hidden_dim)
        self.pos = nn.Parameter(torch.randn(max_len, hidden_dim) * 0.02)
        layer = nn.TransformerEncoderLayer(
            hidden_dim, num_heads, 4 * hidden_dim, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(
            layer, num_layers, norm=nn.LayerNorm(hidden_dim), enable_nested_tensor=False
        )
        self.head = nn.Linear(hidden_dim, state_dim)

    def _attend(self, tokens: Tensor) -> Tensor:
        """Causal self-attention over tokens (B, T, H) -> (B, T, H)."""
        t = tokens.shape[1]
        if t > self.max_len:
            raise ValueError(f"sequence of {t} steps exceeds predictor.max_len={self.max_len}")
        mask = nn.Transformer.generate_square_subsequent_mask(t, device=tokens.device, dtype=tokens.dtype)
        return self.blocks(tokens + self.pos[:t], mask=mask, is_causal=True)

    def forward(self, states: Tensor, inputs: Tensor) -> Tensor:
        tokens = self.embed(self._join(states, inputs))
        return states + self.head(self._attend(tokens))

    def step(self, state: Tensor, inputs: Tensor, cache: Tensor | None) -> tuple[Tensor, Tensor]:
        token = self.embed(self._join(state, inputs))[:, None]
        tokens = token if cache is None else torch.cat([cache, token], dim=1)
        return state + self.head(self._attend(tokens)[:, -1]), tokens


class ConvPredictor(Predictor):
    """Predictor of spatial states (`encoder.spatial_channels`): each state (D,) is viewed as its map (C, h, w),
    [a_t, z_t] is broadcast over the map as extra channels, and a stack of 3x3 convs predicts the change of each
    cell from its neighbourhood: motion and walls are local on the map, and the same weights apply everywhere.

    `history` 1 is Markov: the map is the whole state, and there is no cache. `history` 2 also sees the last
    change of the map, s_t - s_{t-1} (zero at the first state: at rest), for worlds where a frame does not show
    the speed things move at (PushT's agent follows its target under inertia); the cache is the previous state.
    """

    def __init__(
        self,
        state_dim: int = 128,
        action_dim: int = 0,
        latent_dim: int = 0,
        state_shape: tuple[int, int, int] | None = None,
        hidden_dim: int = 32,
        num_layers: int = 3,
        history: int = 1,
        action_scale: float = 1.0,
    ) -> None:
        super().__init__(state_dim, action_dim, latent_dim, action_scale)
        if history not in (1, 2):
            raise ValueError(f"predictor.history: expected 1 (Markov) or 2 (also the last change), got {history}")
        if (
            state_shape is None
            or len(state_shape) != 3
            or state_dim != state_shape[0] * state_shape[1] * state_shape[2]
        ):
            raise ValueError(
                f"predictor.kind: 'conv' predicts spatial states; set the encoder's spatial_channels "
                f"(states are {state_dim} values, map {state_shape})"
            )
        if num_layers < 2:
            raise ValueError(f"predictor.num_layers: expected >= 2 conv layers, got {num_layers}")
        self.state_shape, self.history = tuple(state_shape), history
        chans = [history * state_shape[0] + self.input_dim] + [hidden_dim] * (num_layers - 1)
        layers: list[nn.Module] = []
        for c_in, c_out in zip(chans[:-1], chans[1:]):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.GELU()]  # no norm over the map: it stays local
        self.net = nn.Sequential(*layers, nn.Conv2d(hidden_dim, state_shape[0], 3, padding=1))

    def _delta(self, states: Tensor, previous: Tensor, inputs: Tensor) -> Tensor:
        """states and the states before them (N, D), inputs (N, A + Dz) -> the predicted change (N, D)."""
        n = states.shape[0]
        c, h, w = self.state_shape
        maps = [states.reshape(n, c, h, w)]
        if self.history == 2:
            maps.append((states - previous).reshape(n, c, h, w))
        conditioning = inputs.to(states.dtype)[:, :, None, None].expand(-1, -1, h, w)
        return self.net(torch.cat([*maps, conditioning], dim=1)).reshape(n, -1)

    def forward(self, states: Tensor, inputs: Tensor) -> Tensor:
        b, t, d = states.shape
        previous = torch.cat([states[:, :1], states[:, :-1]], dim=1)  # the first state's own: at rest
        flat = (b * t, d)
        return states + self._delta(states.reshape(flat), previous.reshape(flat), inputs.reshape(b * t, -1)).view(
            b, t, d
        )

    def step(self, state: Tensor, inputs: Tensor, cache: Tensor | None) -> tuple[Tensor, Tensor | None]:
        previous = state if cache is None else cache
        return state + self._delta(state, previous, inputs), state if self.history == 2 else None


PREDICTORS: dict[str, type[Predictor]] = {
    "gru": GRUPredictor,
    "transformer": TransformerPredictor,
    "conv": ConvPredictor,
}


def build_predictor(kind: str = "gru", **fields: Any) -> Predictor:
    """Predictor from config fields; unknown kind or field -> ValueError naming `predictor.<field>`."""
    if kind not in PREDICTORS:
        raise ValueError(f"predictor.kind: unknown kind {kind!r}; choose one of {sorted(PREDICTORS)}")
    known = set(inspect.signature(PREDICTORS[kind]).parameters)
    for name in fields:
        if name not in known:
            raise ValueError(f"predictor.{name}: unknown field for kind {kind!r}; known: {sorted(known)}")
    check_field_types(fields, PREDICTORS[kind], "predictor.")
    return PREDICTORS[kind](**fields)
