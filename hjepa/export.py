"""Safe, self-describing world-model files: safetensors weights + JSON config, loadable without Lightning.

An export folder holds `model.safetensors` and `config.json`
(`{"format": "hjepa-world-model", "version": 1, "levels": [1], "world_model_config": {...}, "weights_sha256": ...}`).
The SHA-256 of `model.safetensors` is checked on load (exports written before it was recorded are checked for
non-finite weights only), so a damaged file is refused instead of giving NaN.
Level-1 weights (the `WorldModel` state dict, `encoder.*`, `predictor.*`) sit at the top level; the
level-n model of the hierarchy (seed paper sec. 4.6) lives under the prefix `level<n>.`, which a
level-1 reader skips. A two-level export has `"levels": [1, 2]` and `"level2_config"`; its `level2.*`
weights are the `Level2WorldModel`'s without the level-1 encoder it shares (`encoder.level1.*`),
which is read from the top level; a level-2 latent z is `level2.latent.*`, its fields in `level2_config`.
Lightning `.ckpt` files are read with `torch.load(weights_only=True)` only; hjepa keeps the configs in the
checkpoint's `hjepa_configs` entry (older checkpoints: in `hyper_parameters`).
`WorldModelExport` puts the same folder on the Hugging Face Hub (`save_pretrained`, `from_pretrained`,
`push_to_hub`); a downloaded folder is read by the same checked reader.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import torch
import yaml
from huggingface_hub import ModelCard, ModelHubMixin, snapshot_download
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from hjepa.models import FrameEncoder, WorldModel, build_world_model
from hjepa.models.level2 import Level2Encoder, Level2WorldModel, build_level2_world_model

FORMAT = "hjepa-world-model"
VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
CKPT_CONFIGS = "hjepa_configs"  # checkpoint entry of world_model_config and level2_config (JEPAModule writes it)
CKPT_PREFIX = "world_model."  # the LightningModule's attribute holding the WorldModel
CKPT_LEVEL2_PREFIX = "level2.world_model."  # ... and the level-2 world model
UPPER_LEVEL = re.compile(r"^level\d+\.")  # weights of levels >= 2, see the module docstring
LEVEL2_PREFIX = "level2."
SHARED_LEVEL1 = "encoder.level1."  # the level-1 encoder inside a Level2WorldModel
MODEL_CARD = """---
{{ card_data }}
---

An hjepa world model (H-JEPA, LeCun 2022): `model.safetensors` + `config.json`, which names its levels and
configs. Load it with `hjepa.export.WorldModelExport.from_pretrained("<repo id>")`, or a downloaded folder
with `hjepa.load_world_model(folder)`.

## Configuration
{% for section, fields in config_sections.items() %}
### {{ section }}

| field | value |
| --- | --- |
{% for name, value in fields.items() -%}
| `{{ name }}` | `{{ value }}` |
{% endfor %}{% endfor %}
{%- if training %}
## Training

```yaml
{{ training }}```
{% endif %}
{%- if probe_figures %}
## Probe figures

| figure | value |
| --- | --- |
{% for name, value in probe_figures.items() -%}
| {{ name }} | {{ value }} |
{% endfor %}{% endif %}"""  # README.md of a folder written by save_pretrained; see WorldModelExport.generate_model_card


def _check_level(levels: list[int], level: int, source: Path) -> None:
    if level not in levels:
        raise ValueError(f"{source}: has no level-{level} world model (levels: {levels})")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_finite(weights: dict[str, Tensor], source: str) -> None:
    """ValueError naming the first tensor holding NaN or infinity: such a model only ever predicts NaN."""
    for name, tensor in weights.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ValueError(f"{source}: tensor {name} holds non-finite values (NaN or inf); the weights are damaged")


def restore_world_model(
    config: dict[str, Any], weights: dict[str, Tensor] | None = None, source: str = "weights", level: int = 1
) -> WorldModel | Level2WorldModel:
    """The architecture of `config` in eval mode, with `weights` loaded strictly (fresh init when None);
    weights that do not fit it -> ValueError naming `source` and the parameters.

    Level 1: `config` is the world_model_config; level 2: {"world_model_config", "level2_config"}.
    `encoder.pretrained` and `encoder.checkpoint_path` are switched off: the weights come from the file, not from a
    download or the file the backbone started from.
    """
    level1 = config["world_model_config"] if level == 2 else config
    encoder = {**(level1.get("encoder") or {}), "pretrained": False, "checkpoint_path": None}
    level1 = {**level1, "encoder": encoder}
    try:
        model = build_world_model(level1)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{source}: world_model_config: {error}") from error
    if level == 2:
        try:
            model = build_level2_world_model(model.encoder, config["level2_config"])
        except (TypeError, ValueError) as error:
            raise ValueError(f"{source}: level2_config: {error}") from error
    if weights is not None:
        try:
            model.load_state_dict(weights, strict=True)
        except RuntimeError as error:  # torch names the missing, unexpected and mis-shaped parameters
            raise ValueError(f"{source}: weights do not match world_model_config: {error}") from error
    return model.eval()


def _read_meta(folder: Path) -> dict[str, Any]:
    """The checked config.json of an export folder."""
    config_path, weights_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    for path in (config_path, weights_path):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing; is {folder} an hjepa export folder?")
    try:
        meta = json.loads(config_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{config_path}: not JSON: {error}") from error
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{config_path}: format is not {FORMAT!r}; not an hjepa world-model export")
    if not isinstance(meta.get("version"), int) or meta["version"] > VERSION:
        raise ValueError(f"{config_path}: version {meta.get('version')!r}; this hjepa reads versions <= {VERSION}")
    if not isinstance(meta.get("world_model_config"), dict):
        raise ValueError(f"{config_path}: no world_model_config")
    if 2 in meta.get("levels", [1]) and not isinstance(meta.get("level2_config"), dict):
        raise ValueError(f"{config_path}: levels include 2 but there is no level2_config")
    return meta


def _read_export(folder: Path, level: int) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """(config, level weights) of an export folder."""
    meta = _read_meta(folder)
    _check_level(meta.get("levels", [1]), level, folder)
    weights_path = folder / WEIGHTS_FILE
    if "weights_sha256" in meta and meta["weights_sha256"] != _sha256(weights_path):
        raise ValueError(
            f"{weights_path}: its SHA-256 differs from weights_sha256 in {folder / CONFIG_FILE}; the file "
            "is damaged or was changed after export"
        )
    try:
        weights = load_file(weights_path)
    except (SafetensorError, OSError) as error:
        raise ValueError(f"{weights_path}: not a safetensors file: {error}") from error
    level1 = {k: v for k, v in weights.items() if not UPPER_LEVEL.match(k)}
    if level == 1:
        return meta["world_model_config"], level1
    level2 = {k[len(LEVEL2_PREFIX) :]: v for k, v in weights.items() if k.startswith(LEVEL2_PREFIX)}
    shared = {SHARED_LEVEL1 + k[len("encoder.") :]: v for k, v in level1.items() if k.startswith("encoder.")}
    return {"world_model_config": meta["world_model_config"], "level2_config": meta["level2_config"]}, level2 | shared


def _load_checkpoint(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(checkpoint, its world_model_config and level2_config) of an hjepa Lightning checkpoint, read without
    unpickling objects."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # any non-checkpoint: random bytes, text, pickles of arbitrary objects
        # Keep torch's diagnosis (e.g. the refused global), not its advice to retry unsafely.
        detail = re.search(r"WeightsUnpickler error:\s*(.+?)(?: Please|$)", str(error), re.MULTILINE)
        reason = detail.group(1) if detail else type(error).__name__
        message = f"{path}: not an hjepa checkpoint (torch.load(weights_only=True) refused it: {reason})"
        raise ValueError(message) from error
    configs = ckpt.get(CKPT_CONFIGS) if isinstance(ckpt, dict) else None
    if not isinstance(configs, dict):  # checkpoints written before the configs had their own entry
        configs = ckpt.get("hyper_parameters") if isinstance(ckpt, dict) else None
    config = configs.get("world_model_config") if isinstance(configs, dict) else None
    if not isinstance(config, dict):
        raise ValueError(f"{path}: not an hjepa checkpoint: no {CKPT_CONFIGS}.world_model_config")
    return ckpt, configs


def _checkpoint_levels(configs: dict[str, Any]) -> list[int]:
    return [1, 2] if isinstance(configs.get("level2_config"), dict) else [1]


def _read_checkpoint(path: Path, level: int) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """(config, level weights) of a Lightning checkpoint (level 1 frozen or trained, it is always there)."""
    ckpt, configs = _load_checkpoint(path)
    _check_level(_checkpoint_levels(configs), level, path)
    config = configs["world_model_config"]
    if level == 2:
        config = {"world_model_config": config, "level2_config": configs["level2_config"]}
    prefix = CKPT_LEVEL2_PREFIX if level == 2 else CKPT_PREFIX
    state = ckpt.get("state_dict")
    state = state if isinstance(state, dict) else {}
    weights = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    if not weights:
        raise ValueError(f"{path}: state_dict holds no {prefix}* weights")
    return config, weights


def model_levels(path: str | Path) -> list[int]:
    """The levels of the hierarchy held by an export folder or a Lightning `.ckpt` file."""
    path = Path(path)
    if path.is_dir():
        return list(_read_meta(path).get("levels", [1]))
    if path.is_file():
        return _checkpoint_levels(_load_checkpoint(path)[1])
    raise FileNotFoundError(f"{path}: no such export folder or checkpoint file")


def read_world_model(path: str | Path, level: int = 1) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """(config, weights) of level `level` from an export folder or a Lightning `.ckpt` file; the config
    is the world_model_config at level 1, {"world_model_config", "level2_config"} at level 2."""
    path = Path(path)
    if path.is_dir():
        config, weights = _read_export(path, level)
    elif path.is_file():
        config, weights = _read_checkpoint(path, level)
    else:
        raise FileNotFoundError(f"{path}: no such export folder or checkpoint file")
    _check_finite(weights, str(path / WEIGHTS_FILE if path.is_dir() else path))
    return config, weights


def load_world_model(path: str | Path, level: int = 1) -> WorldModel | Level2WorldModel:
    """The world model (eval mode, CPU) of an export folder or a Lightning `.ckpt` file.

    Level 1: `WorldModel`, frames (B, T, C, H, W) -> states (B, T // t, D1). Level 2: `Level2WorldModel`,
    frames -> level-2 states (B, T // (t W), D2), unrolled under window-summed actions (B, H, A).
    """
    config, weights = read_world_model(path, level)
    return restore_world_model(config, weights, str(path), level)


def load_encoder(path: str | Path, level: int = 1) -> FrameEncoder | Level2Encoder:
    """The encoder (eval mode, CPU): frames (B, T, C, H, W) in [0, 1] -> states (B, T // t, D1) at level 1
    (t: encoder.tubelet), level-2 states (B, T // (t W), D2) at level 2 (through level 1 and pooling)."""
    return load_world_model(path, level).encoder


def _cpu_copies(model: torch.nn.Module) -> dict[str, Tensor]:
    """Own contiguous CPU copies of the state dict: safetensors refuses tensors that share storage (tied weights)."""
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}


def export_world_model(
    world_model: WorldModel,
    config: dict[str, Any],
    out: str | Path,
    level2: tuple[Level2WorldModel, dict[str, Any]] | None = None,
) -> Path:
    """Write `out/model.safetensors` and `out/config.json` for a level-1 world model built from `config`,
    and for a level-2 world model on its encoder when `level2` = (model, level2_config) is given.

    The weights are checked against the configs first, so an export that would not load is never written.
    """
    out = Path(out)
    weights = _cpu_copies(world_model)
    restore_world_model(config, weights, str(out))
    meta = {"format": FORMAT, "version": VERSION, "levels": [1], "world_model_config": config}
    if level2 is not None:
        model2, config2 = level2
        if model2.encoder.level1 is not world_model.encoder:
            raise ValueError(f"{out}: the level-2 world model does not read this level-1 encoder")
        weights2 = _cpu_copies(model2)
        restore_world_model({"world_model_config": config, "level2_config": config2}, weights2, str(out), level=2)
        weights |= {LEVEL2_PREFIX + k: v for k, v in weights2.items() if not k.startswith(SHARED_LEVEL1)}
        meta |= {"levels": [1, 2], "level2_config": config2}
    _check_finite(weights, str(out))
    try:
        json.dumps(meta)
    except TypeError as error:  # caught before anything is written
        raise ValueError(f"{out}: world_model_config is not plain JSON data: {error}") from error
    out.mkdir(parents=True, exist_ok=True)
    save_file(weights, out / WEIGHTS_FILE)
    meta["weights_sha256"] = _sha256(out / WEIGHTS_FILE)
    (out / CONFIG_FILE).write_text(json.dumps(meta, indent=2))
    return out


def _load_levels(path: Path) -> tuple[WorldModel, Level2WorldModel | None]:
    """Every level of an export folder or a Lightning `.ckpt` file: level 1, and level 2 reading level 1's
    encoder (None when there is no level 2)."""
    world_model = load_world_model(path)
    if 2 not in model_levels(path):
        return world_model, None
    level2 = load_world_model(path, level=2)
    level2.encoder.level1 = world_model.encoder  # the same weights, shared as in training
    return world_model, level2


class WorldModelExport(
    ModelHubMixin, library_name="hjepa", tags=["world-model", "jepa"], model_card_template=MODEL_CARD
):
    """The world models of one export folder on the Hugging Face Hub: `save_pretrained(folder)`,
    `from_pretrained(folder or repo id)`, `push_to_hub(repo id)`, in this module's format (plus a model card).

    `world_model` is level 1, `level2` the level-2 world model reading its encoder, or None. Both must come
    from `build_world_model` / `build_level2_world_model` (or a loader), which give them their `config`.
    The model card lists that config; probe figures join it through the mixin's card arguments:
    `save_pretrained(folder, model_card_kwargs={"probe_figures": {"classify_top1_trained": 0.83, ...}})`.
    """

    def __init__(self, world_model: WorldModel, level2: Level2WorldModel | None = None) -> None:
        for name, model in (("world_model", world_model), ("level2", level2)):
            if model is not None and model.config is None:
                raise ValueError(f"{name}: has no config; build it with build_world_model or build_level2_world_model")
        self.world_model, self.level2 = world_model, level2

    def generate_model_card(self, *args: Any, **kwargs: Any) -> ModelCard:
        """The card of MODEL_CARD: each config section (encoder, predictor, latent, level2) as a table of its
        fields, and when passed, `training` (the run's config, e.g. the `config.yaml` a `hjepa fit` run saves, as a
        dict) as YAML and `probe_figures` (name -> value, e.g. from classify.json or plan.json)."""
        sections = dict(self.world_model.config)
        if self.level2 is not None:
            sections["level2"] = self.level2.config
        tables = {name: {k: json.dumps(v) for k, v in fields.items()} for name, fields in sections.items() if fields}
        if kwargs.get("training"):
            kwargs["training"] = yaml.safe_dump(kwargs["training"], sort_keys=False)
        return super().generate_model_card(*args, config_sections=tables, **kwargs)

    def _save_pretrained(self, save_directory: Path) -> None:
        level2 = None if self.level2 is None else (self.level2, self.level2.config)
        export_world_model(self.world_model, self.world_model.config, save_directory, level2)

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir: str | Path | None,
        force_download: bool,
        local_files_only: bool,
        token: str | bool | None,
    ) -> WorldModelExport:
        """A local export folder is read in place; a repo id is downloaded first (its two files only)."""
        folder = Path(model_id)
        if not folder.is_dir():
            folder = Path(
                snapshot_download(
                    model_id,
                    revision=revision,
                    cache_dir=cache_dir,
                    force_download=force_download,
                    local_files_only=local_files_only,
                    token=token,
                    allow_patterns=[WEIGHTS_FILE, CONFIG_FILE],
                )
            )
        return cls(*_load_levels(folder))


def export_checkpoint(ckpt_path: str | Path, out: str | Path) -> Path:
    """Lightning checkpoint -> export folder (its world models only; expanders and optimizer state dropped).

    A checkpoint of a run with level 2 exports both levels.
    """
    world_model, level2 = _load_levels(Path(ckpt_path))
    return export_world_model(world_model, world_model.config, out, None if level2 is None else (level2, level2.config))
