"""Fork probe (seed paper sec. 4.5, 4.8): a latent variable lets the predictor represent several futures.

On the `Fork` world the object takes one of two branches at random, so from a frame before the
junction the future is bimodal. A predictor without a latent can only predict a compromise between
the branches; with a discrete latent each code predicts one branch, so the best code (min over z) is
close to whichever branch really happened. This module generates a small Fork dataset in memory,
trains a tiny JEPA with a discrete latent, and on its frozen encoder a predictor without a latent
(so both errors are measured in one representation space), and measures:

- `fork_error_none`, `fork_error_min_z`: rollout error after the junction, relative to the spread
  of the target states, without a latent and with the best code; `fork_error_ratio` = none / min-z
  (also per true branch).
- `fork_offset_*`: distance of the predicted y from the corridor's centre line y = 0.5 after the
  junction, read out by a linear probe: near 0 without a latent (between the branches), near the
  true offset with the best code.
- `mismatch_ratio_<name>`: min-over-z energy with a target from a different episode over the
  matched one; > 1 when the regularizer bounds what z can carry, ~1 when z can fit any target.
- `amortized_energy_ratio_<name>`: energy of the amortized encoder's z over that of ž.

The world, the model and the latents compared are the experiment `configs/probes/fork.yaml`. Run the full
comparison of regularizers: `python -m hjepa.eval.fork_probe --out runs/fork_probe --all`.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, StackDataset

from hjepa.data.pixels import images_to_frames
from hjepa.envs import Fork
from hjepa.eval.experiment import PROBES, check_options, read_experiment
from hjepa.eval.report import print_results
from hjepa.models.latent import LATENTS, over_time
from hjepa.models.predictor import Predictor, build_predictor
from hjepa.readout.linear_probe import fit_probe
from hjepa.train.module import JEPAModule

EXPERIMENT = PROBES / "fork.yaml"


@dataclass(frozen=True)
class ForkExperiment:
    """What the Fork probe trains (configs/probes/fork.yaml).

    Attributes:
        world: options of the `Fork` world the clips come from.
        model: `JEPAModule` fields of the tiny JEPA, its latent set by each run.
        latents: name -> latent config, compared by default (and by the demo).
        all_latents: name -> latent config, compared with `--all`.
    """

    world: dict[str, Any]
    model: dict[str, Any]
    latents: dict[str, dict[str, Any]]
    all_latents: dict[str, dict[str, Any]]

    def __post_init__(self) -> None:
        check_options(self.world, Fork, "world")
        check_options(self.model, JEPAModule, "model")
        for field in ("latents", "all_latents"):
            for name, latent in getattr(self, field).items():
                kind = latent.get("kind") if isinstance(latent, dict) else None
                if kind not in LATENTS:
                    raise ValueError(f"{field}.{name}.kind: expected one of {list(LATENTS)}, got {kind!r}")
                check_options({k: v for k, v in latent.items() if k != "kind"}, LATENTS[kind], f"{field}.{name}")


SHIPPED = read_experiment(EXPERIMENT, ForkExperiment)
WORLD = SHIPPED.world
"""The shipped Fork world, from which `fork_clips` draws by default."""


def fork_clips(
    episodes: int, frames: int, stride: int, image_size: int, seed: int, world_options: Mapping[str, Any] = WORLD
) -> dict[str, Tensor]:
    """Fork clips from the start of each episode of the world `world_options`: frames (N, T, 3, H, W) in [0, 1],
    actions (N, T-1, 0), states (N, T, 2) and branch (N,)."""
    world = Fork(image_size=image_size, **world_options)
    rng = np.random.default_rng(seed)
    world.reset(episodes, rng)
    images, states = [world.render()], [world.state.copy()]
    for step in range(1, (frames - 1) * stride + 1):
        world.step(world.exploration_actions(rng))
        if step % stride == 0:
            images.append(world.render())
            states.append(world.state.copy())
    video = images_to_frames(np.stack(images, axis=1))
    return {
        "frames": video,
        "actions": torch.zeros(episodes, frames - 1, 0),
        "states": torch.from_numpy(np.stack(states, axis=1)),
        "branch": torch.from_numpy(world.labels()["branch"]),
    }


def train_model(
    clips: dict[str, Tensor],
    latent: dict[str, Any] | None,
    steps: int,
    batch_size: int,
    seed: int,
    config: dict[str, Any] | None = None,
) -> JEPAModule:
    """A tiny JEPA (`JEPAModule` fields `config`, default those of the shipped experiment) trained on the clips for
    `steps` steps with Lightning."""
    torch.manual_seed(seed)
    model = JEPAModule(**{**(config or SHIPPED.model), "latent": latent})
    data = StackDataset(frames=clips["frames"], actions=clips["actions"])
    loader = DataLoader(data, batch_size=batch_size, shuffle=True, drop_last=True)
    trainer = L.Trainer(
        max_steps=steps,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        max_epochs=-1,
        limit_val_batches=0,
    )
    trainer.fit(model, loader)
    return model.eval()


def code_rollouts(model: JEPAModule, states: Tensor, actions: Tensor) -> Tensor:
    """Rollouts from the first state (N, T, D) under each of the K codes of a discrete latent: (K, N, T-1, D)."""
    wm = model.world_model
    return torch.stack(
        [
            wm.unroll(states[:, :1], actions, over_time(code.expand(len(states), -1), actions.shape[1]))
            for code in wm.latent.codebook.detach()
        ]
    )


def fit_without_latent(model: JEPAModule, states: Tensor, actions: Tensor, steps: int, seed: int) -> Predictor:
    """A predictor of the same architecture without a latent, trained on `model`'s frozen states (N, T, D) to
    minimise the same energy, the rollout error from the first state: its best answer is the mean future."""
    torch.manual_seed(seed)
    cfg = {**model.world_model_config["predictor"], "state_dim": states.shape[-1]}
    predictor = build_predictor(**cfg)
    optimizer = torch.optim.Adam(predictor.parameters(), lr=3e-3)
    for _ in range(steps):
        loss = (predictor.unroll(states[:, :1], actions) - states[:, 1:]).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return predictor.eval()


@torch.no_grad()
def fork_errors(
    model: JEPAModule, train: dict[str, Tensor], val: dict[str, Tensor], steps: int, seed: int
) -> dict[str, Any]:
    """Rollout error after the junction, in the discrete-latent model's representation space (relative to
    the spread of the target states): without a latent and min over the codes, overall and per true branch.
    Also the predicted distance from the centre line y = 0.5 read out by a linear probe, and how well the
    code of least energy (ž) tells the branches apart."""
    encode = model.world_model.encode
    train_states, states = encode(train["frames"]), encode(val["frames"])
    with torch.enable_grad():
        none = fit_without_latent(model, train_states, train["actions"], steps, seed)
    preds = {
        "none": none.unroll(states[:, :1], val["actions"])[None],
        "z": code_rollouts(model, states, val["actions"]),
    }
    target, true = states[:, 1:], val["states"][:, 1:]
    after = (true[..., 0] > 0.5 + 0.1).float()  # steps well into the branches, (N, T-1)
    scale = target.flatten(0, 1).var(0).sum()
    head = fit_probe(train_states, train["states"])
    branch, out = val["branch"], {}
    for name, pred in preds.items():  # (K, N, T-1, D)
        per_clip = ((pred - target).square().sum(-1) / scale * after).sum(-1) / after.sum(-1).clamp_min(1)  # (K, N)
        best, code = per_clip.min(0)
        offset = (head(pred[code, torch.arange(len(code))])[..., 1] - 0.5).abs()[after.bool()]
        out[name] = {
            "error": best.mean().item(),
            "error_branch": [best[branch == b].mean().item() for b in (0, 1)],
            "offset": offset.mean().item(),
        }
    out["offset_true"] = (true[..., 1] - 0.5).abs()[after.bool()].mean().item()
    code = (preds["z"] - target).square().mean(dim=(2, 3)).argmin(0)  # ž: the code of least energy E(x, y, z)
    # cluster purity: share of clips whose branch is the majority branch of their code ž
    majority = torch.stack(
        [branch[code == k].mode().values if (code == k).any() else branch.new_tensor(0) for k in range(len(preds["z"]))]
    )
    out["code_purity"] = (majority[code] == branch).float().mean().item()
    return out


def mismatch(model: JEPAModule, clips: dict[str, Tensor], seed: int = 0) -> dict[str, float]:
    """Min-over-z energy for each clip's own target and for the target of another episode, and the
    amortized encoder's energy against ž's (matched targets)."""
    wm = model.world_model
    with torch.no_grad():
        states = wm.encode(clips["frames"])
    actions, n = clips["actions"], len(states)
    shift = torch.randperm(n - 1, generator=torch.Generator().manual_seed(seed))[0].item() + 1
    other = torch.roll(states[:, 1:], shift, dims=0)  # every clip gets another episode's target

    def min_energy(target: Tensor) -> Tensor:
        return wm.latent.infer(lambda z: wm.energy(states[:, :1], target, actions, z), n).energy

    matched, mismatched = min_energy(states[:, 1:]), min_energy(other)
    with torch.no_grad():
        z_q = wm.latent.amortize(states[:, :1], states[:, 1:])
        amortized = wm.energy(states[:, :1], states[:, 1:], actions, z_q[None])[0]
    return {
        "energy_matched": matched.mean().item(),
        "energy_mismatched": mismatched.mean().item(),
        "mismatch_ratio": (mismatched.mean() / matched.mean()).item(),
        "energy_amortized": amortized.mean().item(),
        "amortized_energy_ratio": (amortized.mean() / matched.mean()).item(),
    }


def run_fork_probe(
    out_dir: str | Path,
    episodes: int = 256,
    frames: int = 8,
    stride: int = 3,
    image_size: int = 32,
    steps: int = 200,
    batch_size: int = 16,
    all_latents: bool = False,
    seed: int = 0,
    experiment: str | Path = EXPERIMENT,
) -> dict[str, Any]:
    """Train a tiny JEPA with each latent of the experiment at `experiment` (its `latents`, or its `all_latents`)
    on Fork clips, and for the first discrete one a predictor without a latent on its frozen encoder; return the
    figures (also written to `out_dir/fork_probe.json`)."""
    start = time.perf_counter()
    settings = read_experiment(experiment, ForkExperiment)
    latents = settings.all_latents if all_latents else settings.latents
    train = fork_clips(episodes, frames, stride, image_size, seed, settings.world)
    val = fork_clips(max(episodes // 4, 16), frames, stride, image_size, seed + 1, settings.world)
    results: dict[str, Any] = {}
    for name, cfg in latents.items():
        model = train_model(train, cfg, steps, batch_size, seed, settings.model)
        figures = mismatch(model, val, seed)
        results |= {
            f"mismatch_ratio_{name}": round(figures["mismatch_ratio"], 2),
            f"energy_matched_{name}": round(figures["energy_matched"], 5),
            f"energy_mismatched_{name}": round(figures["energy_mismatched"], 5),
            f"amortized_energy_ratio_{name}": round(figures["amortized_energy_ratio"], 3),
        }
        if cfg["kind"] == "discrete" and "fork_error_ratio" not in results:
            fit = fork_errors(model, train, val, 2 * steps, seed)
            results |= {
                "fork_error_none": round(fit["none"]["error"], 4),
                "fork_error_min_z": round(fit["z"]["error"], 4),
                "fork_error_ratio": round(fit["none"]["error"] / max(fit["z"]["error"], 1e-12), 2),
                "fork_error_ratio_branch": [
                    round(a / max(b, 1e-12), 2) for a, b in zip(fit["none"]["error_branch"], fit["z"]["error_branch"])
                ],
                "fork_offset_none": round(fit["none"]["offset"], 3),
                "fork_offset_min_z": round(fit["z"]["offset"], 3),
                "fork_offset_true": round(fit["offset_true"], 3),
                "fork_code_purity": round(fit["code_purity"], 3),
            }
    results["fork_probe_seconds"] = round(time.perf_counter() - start, 1)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "fork_probe.json").write_text(json.dumps(results, indent=2))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/fork_probe")
    parser.add_argument("--all", action="store_true", help="every regularizer and the unregularized control")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--experiment", default=EXPERIMENT, help="the probe's YAML (world, model, latents)")
    args = parser.parse_args()
    results = run_fork_probe(args.out, steps=args.steps, all_latents=args.all, experiment=args.experiment)
    print_results(results, {"value": lambda value: value}, name="figure")


if __name__ == "__main__":
    main()
