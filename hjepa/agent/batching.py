"""One world-model call for the rollouts that agents acting at the same time ask for (batched evaluation).

Mode-2 planners (seed paper sec. 3.1.4) price a few hundred candidates per call; agents of several episodes run
in threads, and their calls are gathered and priced together, so the model sees one large batch instead of
many small ones. Each agent keeps its own planner, random stream and memory, so an episode's decisions are
those it takes alone, up to the floating-point effect of the batch size on the model's kernels.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass

import torch
from torch import Tensor

from hjepa.agent.planners import RolloutModel


@dataclass
class _Request:
    """One `unroll` call waiting for its batch: s0 (N, D), actions (N, H, A) -> states (N, H, D)."""

    model: RolloutModel
    s0: Tensor
    actions: Tensor
    states: Tensor | None = None
    error: BaseException | None = None
    done: bool = False


class BatchedRollouts:
    """Gathers `unroll` calls of threads and runs each batch when every acting thread waits on a rollout.

    The `acting` threads take part from the start, each until it calls `leave()`; a batch runs as soon as all
    acting threads have a call pending, so no call waits for a thread that is stepping its environment and will ask
    later, and none runs before a thread still starting has asked. Calls on the same model with the same shapes are
    concatenated into one call. Gradient planners differentiate their own rollouts, so calls made with autograd on
    run at once, alone.
    """

    def __init__(self, acting: int = 0) -> None:
        self._lock = threading.Condition()
        self._acting = acting
        self._pending: list[_Request] = []
        self.calls = 0  # batched world-model calls made

    def leave(self) -> None:
        """One acting thread stops taking part (its episodes ended); the others' pending calls may now run."""
        with self._lock:
            self._acting -= 1
            self._run_if_ready()

    def wrap(self, model: RolloutModel) -> RolloutModel:
        """A view of `model` whose `unroll` joins this batch."""
        return _BatchedModel(self, model)

    def unroll(self, model: RolloutModel, s0: Tensor, actions: Tensor) -> Tensor:
        """model.unroll(s0 (N, D), actions (N, H, A)) -> (N, H, D), priced with the other acting threads' calls."""
        if torch.is_grad_enabled():
            return model.unroll(s0, actions)
        request = _Request(model, s0, actions)
        with self._lock:
            self._pending.append(request)
            self._run_if_ready()
            while not request.done:
                self._lock.wait()
        if request.error is not None:
            raise request.error
        assert request.states is not None
        return request.states

    def _run_if_ready(self) -> None:
        """With the lock held: price the pending calls when no acting thread is still on its way to one."""
        if not self._pending or len(self._pending) < self._acting:
            return
        batch, self._pending = self._pending, []
        groups: dict[tuple, list[_Request]] = defaultdict(list)
        for request in batch:
            key = (
                id(request.model),
                request.s0.shape[1:],
                request.actions.shape[1:],
                request.s0.dtype,
                request.s0.device,
            )
            groups[key].append(request)
        for requests in groups.values():
            try:
                with torch.no_grad():
                    states = requests[0].model.unroll(
                        torch.cat([r.s0 for r in requests]), torch.cat([r.actions for r in requests])
                    )
                self.calls += 1
                for request, part in zip(requests, states.split([len(r.s0) for r in requests])):
                    request.states = part
            except Exception as error:  # every caller of the failed batch gets the error
                for request in requests:
                    request.error = error
            for request in requests:
                request.done = True
        self._lock.notify_all()


class _BatchedModel:
    """A rollout model whose `unroll` goes through a `BatchedRollouts`."""

    def __init__(self, batch: BatchedRollouts, model: RolloutModel) -> None:
        self.batch, self.model = batch, model

    def unroll(self, s0: Tensor, actions: Tensor) -> Tensor:
        """s0 (N, D), actions (N, H, A) -> (N, H, D)."""
        return self.batch.unroll(self.model, s0, actions)
