"""hjepa.export: safetensors + JSON round trip, Lightning checkpoints read without unpickling, named errors."""

import copy
import hashlib
import inspect
import json
import pickle
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from hjepa.export import (
    WorldModelExport,
    export_checkpoint,
    export_world_model,
    load_encoder,
    load_world_model,
    model_levels,
    read_world_model,
)
from hjepa.models import WorldModel, build_world_model
from hjepa.models.level2 import build_level2_world_model
from hjepa.train.module import JEPAModule

CFG = {
    "encoder": {"name": "convnet_tiny", "embed_dim": 16, "img_size": 32},
    "predictor": {"kind": "gru", "action_dim": 2, "hidden_dim": 16},
}


def write_ckpt(path: Path, cfg: dict = CFG) -> torch.nn.Module:
    """A checkpoint laid out like the LightningModule's: world_model.* weights plus other modules."""
    wm = build_world_model(cfg)
    state = {"world_model." + k: v for k, v in wm.state_dict().items()} | {"expander.0.weight": torch.zeros(3)}
    torch.save({"hyper_parameters": {"world_model_config": cfg}, "state_dict": state, "epoch": 3}, path)
    return wm.eval()


def lightning_checkpoint(module: JEPAModule) -> dict:
    """What Lightning saves of the module: hyperparameters, state dict and what on_save_checkpoint adds."""
    checkpoint = {"hyper_parameters": dict(module.hparams), "state_dict": module.state_dict()}
    module.on_save_checkpoint(checkpoint)
    return checkpoint


def assert_same_outputs(original, loaded):
    frames, actions = torch.rand(2, 3, 3, 32, 32), torch.randn(2, 4, 2)
    with torch.no_grad():
        s = original.encode(frames)
        assert torch.equal(loaded.encode(frames), s)
        assert torch.equal(loaded.unroll(s[:, 0], actions), original.unroll(s[:, 0], actions))


@pytest.fixture
def no_pickle(monkeypatch):
    """Make every use of the pickle module fail: loading must not need it."""

    def refuse(*args, **kwargs):
        raise AssertionError("pickle used")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)


def test_export_round_trip_gives_identical_outputs(tmp_path, no_pickle):
    torch.manual_seed(0)
    wm = build_world_model(CFG).eval()
    out = export_world_model(wm, CFG, tmp_path / "export")
    meta = json.loads((out / "config.json").read_text())
    sha256 = hashlib.sha256((out / "model.safetensors").read_bytes()).hexdigest()
    assert meta == {
        "format": "hjepa-world-model",
        "version": 1,
        "levels": [1],
        "world_model_config": CFG,
        "weights_sha256": sha256,
    }
    loaded = load_world_model(out)
    assert not loaded.training
    assert_same_outputs(wm, loaded)
    encoder = load_encoder(out)
    frames = torch.rand(2, 3, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(encoder(frames), wm.encode(frames)) and encoder(frames).shape == (2, 3, 16)


def test_checkpoint_loads_directly_and_through_an_export(tmp_path, no_pickle):
    wm = write_ckpt(tmp_path / "last.ckpt")
    assert_same_outputs(wm, load_world_model(tmp_path / "last.ckpt"))
    out = export_checkpoint(tmp_path / "last.ckpt", tmp_path / "export")
    assert_same_outputs(wm, load_world_model(out))
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]


def test_tied_weights_are_exported(tmp_path):
    wm = build_world_model(CFG)
    wm.predictor.head.bias = wm.encoder.proj.bias  # two state-dict names, one storage
    out = export_world_model(wm, CFG, tmp_path / "tied")
    loaded = load_world_model(out)
    assert torch.equal(loaded.predictor.head.bias, wm.encoder.proj.bias)
    assert torch.equal(loaded.encoder.proj.bias, wm.encoder.proj.bias)


def test_upper_level_weights_are_skipped_and_level_2_is_refused(tmp_path):
    from safetensors.torch import load_file, save_file

    wm = build_world_model(CFG).eval()
    out = export_world_model(wm, CFG, tmp_path / "export")
    save_file(
        load_file(out / "model.safetensors") | {"level2.encoder.weight": torch.ones(2)}, out / "model.safetensors"
    )
    meta = json.loads((out / "config.json").read_text())
    meta["weights_sha256"] = hashlib.sha256((out / "model.safetensors").read_bytes()).hexdigest()
    (out / "config.json").write_text(json.dumps(meta))
    assert_same_outputs(wm, load_world_model(out))  # a future level-2 export still loads as level 1
    with pytest.raises(ValueError, match=r"export.*no level-2 world model"):
        load_world_model(out, level=2)
    write_ckpt(tmp_path / "a.ckpt")
    with pytest.raises(ValueError, match=r"a\.ckpt.*no level-2"):
        load_encoder(tmp_path / "a.ckpt", level=2)


class Boom:
    """A pickle payload: unpickling it would create `sentinel`."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self):
        return (Path.touch, (self.sentinel,))


def test_not_a_checkpoint_is_named_and_never_unpickled(tmp_path):
    sentinel = tmp_path / "unpickled"
    bad = {
        "random.ckpt": bytes(range(256)) * 4,
        "notes.ckpt": b"hello, I am a text file\n",
        "raw.ckpt": pickle.dumps({"state_dict": Boom(sentinel)}, protocol=2),
    }
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
    torch.save({"hyper_parameters": {"world_model_config": CFG}, "state_dict": Boom(sentinel)}, tmp_path / "torch.ckpt")
    for name in [*bad, "torch.ckpt"]:
        with pytest.raises(ValueError, match=rf"{name}: not an hjepa checkpoint"):
            load_world_model(tmp_path / name)
    assert not sentinel.exists()


def test_missing_and_incomplete_inputs_name_the_file_or_field(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_world_model(tmp_path / "nowhere")
    torch.save({"hyper_parameters": {}, "state_dict": {}}, tmp_path / "nocfg.ckpt")
    with pytest.raises(ValueError, match=r"nocfg\.ckpt.*world_model_config"):
        load_world_model(tmp_path / "nocfg.ckpt")
    torch.save(
        {"hyper_parameters": {"world_model_config": CFG}, "state_dict": {"expander.w": torch.zeros(1)}},
        tmp_path / "noweights.ckpt",
    )
    with pytest.raises(ValueError, match=r"noweights\.ckpt.*world_model\.\*"):
        load_world_model(tmp_path / "noweights.ckpt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"config\.json"):
        load_world_model(tmp_path / "empty")
    out = export_world_model(build_world_model(CFG), CFG, tmp_path / "export")
    (out / "config.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match=r"config\.json.*format"):
        load_world_model(out)
    (out / "config.json").write_text(json.dumps({"format": "hjepa-world-model", "version": 1, "levels": [1]}))
    with pytest.raises(ValueError, match=r"config\.json.*world_model_config"):
        load_world_model(out)
    (out / "config.json").write_text(
        json.dumps({"format": "hjepa-world-model", "version": 2, "world_model_config": CFG})
    )
    with pytest.raises(ValueError, match=r"config\.json.*version 2"):
        load_world_model(out)


def test_weights_that_do_not_fit_the_architecture_name_the_parameter(tmp_path):
    write_ckpt(tmp_path / "wide.ckpt", {**CFG, "encoder": {**CFG["encoder"], "embed_dim": 32}})
    ckpt = torch.load(tmp_path / "wide.ckpt", weights_only=True)
    ckpt["hyper_parameters"]["world_model_config"] = CFG  # config says 16, weights are 32
    torch.save(ckpt, tmp_path / "mismatch.ckpt")
    mismatch = (
        r"(?s)mismatch\.ckpt: weights do not match world_model_config:.*size mismatch for "
        r"encoder\.proj\.weight: .*\[32, 2048\]\) from checkpoint, .* model is torch\.Size\(\[16, 2048\]\)"
    )
    with pytest.raises(ValueError, match=mismatch):
        load_world_model(tmp_path / "mismatch.ckpt")
    state = {k: v for k, v in write_ckpt(tmp_path / "a.ckpt").state_dict().items() if k != "predictor.head.bias"}
    state = {"world_model." + k: v for k, v in state.items()} | {"world_model.predictor.gate": torch.zeros(2)}
    torch.save({"hyper_parameters": {"world_model_config": CFG}, "state_dict": state}, tmp_path / "keys.ckpt")
    keys = (
        r"(?s)keys\.ckpt: weights do not match world_model_config:.*Missing key\(s\) in state_dict: "
        r'"predictor\.head\.bias"\..*Unexpected key\(s\) in state_dict: "predictor\.gate"'
    )
    with pytest.raises(ValueError, match=keys):
        load_world_model(tmp_path / "keys.ckpt")
    with pytest.raises(ValueError, match=r"encoder\.proj\.weight"):
        export_world_model(
            build_world_model({**CFG, "encoder": {**CFG["encoder"], "embed_dim": 32}}), CFG, tmp_path / "x"
        )
    assert not (tmp_path / "x").exists()
    with pytest.raises(ValueError, match=r"y: world_model_config is not plain JSON"):
        export_world_model(
            build_world_model(CFG), {**CFG, "encoder": {**CFG["encoder"], "img_size": np.int64(32)}}, tmp_path / "y"
        )
    assert not (tmp_path / "y").exists()
    bad_cfg = {**CFG, "predictor": {**CFG["predictor"], "hiden_dim": 8}}
    torch.save(
        {"hyper_parameters": {"world_model_config": bad_cfg}, "state_dict": ckpt["state_dict"]},
        tmp_path / "badcfg.ckpt",
    )
    with pytest.raises(ValueError, match=r"badcfg\.ckpt: world_model_config: predictor\.hiden_dim"):
        load_world_model(tmp_path / "badcfg.ckpt")


def test_two_level_export_round_trip_shares_the_level1_encoder(tmp_path, no_pickle):
    from safetensors.torch import load_file

    torch.manual_seed(0)
    level2 = {
        "window": 2,
        "horizon": 1,
        "pool": "attention",
        "embed_dim": 8,
        "hidden_dim": 16,
        "predictor": {"kind": "transformer", "hidden_dim": 16, "num_heads": 2, "max_len": 8},
        "expander": [16],
    }
    module = JEPAModule(
        encoder=CFG["encoder"], predictor={"kind": "gru", "hidden_dim": 16}, levels=[1, 2], level2=level2
    )
    with torch.no_grad():
        module.level2.world_model.encoder.pool.query.normal_()  # non-uniform attention: the weights matter
    torch.save(lightning_checkpoint(module), tmp_path / "two.ckpt")
    out = export_checkpoint(tmp_path / "two.ckpt", tmp_path / "export")
    meta = json.loads((out / "config.json").read_text())
    assert meta["levels"] == [1, 2] and meta["level2_config"] == module.level2.config
    keys = load_file(out / "model.safetensors").keys()
    assert any(k.startswith("level2.predictor.") for k in keys)
    assert not any(k.startswith("level2.encoder.level1.") for k in keys)  # stored once, at the top level

    frames, actions = torch.rand(2, 6, 3, 32, 32), torch.randn(2, 2, 2)
    original = module.level2.world_model.eval()
    for source in (out, tmp_path / "two.ckpt"):
        loaded = load_world_model(source, level=2)
        with torch.no_grad():
            s = original.encode(frames)
            assert s.shape == (2, 3, 8)  # (B, T // W, D2)
            assert torch.equal(loaded.encode(frames), s)
            assert torch.equal(loaded.unroll(s[:, 0], actions), original.unroll(s[:, 0], actions))
            assert torch.equal(load_encoder(source, level=2)(frames), s)
        assert_same_outputs(module.world_model.eval(), load_world_model(source))

    meta["levels"] = [1, 2]
    del meta["level2_config"]
    (out / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"config\.json: levels include 2 but there is no level2_config"):
        load_world_model(out, level=2)


def overwrite_tensor_bytes(path: Path, value: bytes = b"\xff") -> None:
    """Overwrite the tensor data of a safetensors file (0xFF... is NaN in float32), keeping its header intact."""
    data = bytearray(path.read_bytes())
    start = 8 + int.from_bytes(data[:8], "little")  # u64 header length, JSON header, then the tensors
    data[start:] = value * (len(data) - start)
    path.write_bytes(bytes(data))


def test_damaged_weights_are_refused_naming_the_file(tmp_path):
    out = export_world_model(build_world_model(CFG), CFG, tmp_path / "export")
    overwrite_tensor_bytes(out / "model.safetensors")
    with pytest.raises(ValueError, match=r"export/model\.safetensors: its SHA-256 differs from weights_sha256"):
        load_world_model(out)
    meta = json.loads((out / "config.json").read_text())
    del meta["weights_sha256"]  # an export written before the checksum was recorded
    (out / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"model\.safetensors: tensor encoder\.\S+ holds non-finite values"):
        load_world_model(out)
    wm = build_world_model(CFG)
    with torch.no_grad():
        wm.predictor.head.bias[0] = float("inf")
    with pytest.raises(ValueError, match=r"nan: tensor predictor\.head\.bias holds non-finite values"):
        export_world_model(wm, CFG, tmp_path / "nan")
    assert not (tmp_path / "nan").exists()


def test_config_field_of_the_wrong_type_is_named(tmp_path):
    out = export_world_model(build_world_model(CFG), CFG, tmp_path / "export")
    meta = json.loads((out / "config.json").read_text())
    meta["world_model_config"]["encoder"]["embed_dim"] = "16"
    (out / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"export: world_model_config: encoder\.embed_dim: expected int, got '16'"):
        load_world_model(out)
    meta["world_model_config"]["encoder"]["embed_dim"] = 16
    meta["world_model_config"]["predictor"]["action_scale"] = "20"
    (out / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"predictor\.action_scale: expected float, got '20'"):
        load_world_model(out)


def test_checkpoint_keeps_the_derived_configs_out_of_the_hyperparameters(tmp_path, no_pickle):
    module = JEPAModule(encoder=CFG["encoder"], predictor={"kind": "gru", "hidden_dim": 16})
    checkpoint = lightning_checkpoint(module)
    # LightningCLI parses hyper_parameters back as JEPAModule arguments (--ckpt_path): only those may be there
    assert set(checkpoint["hyper_parameters"]) <= set(inspect.signature(JEPAModule).parameters)
    assert checkpoint["hjepa_configs"] == {"world_model_config": module.world_model_config}
    torch.save(checkpoint, tmp_path / "new.ckpt")
    assert_same_outputs(module.world_model.eval(), load_world_model(tmp_path / "new.ckpt"))


def test_an_export_of_an_encoder_started_from_a_weights_file_loads_without_that_file(tmp_path, no_pickle):
    from tests.models.test_encoder import saved_timm_weights

    saved_timm_weights(tmp_path / "backbone.safetensors")
    config = {
        "encoder": {
            "name": "resnet10t",
            "embed_dim": 8,
            "img_size": 32,
            "freeze": True,
            "checkpoint_path": str(tmp_path / "backbone.safetensors"),
        },
        "predictor": {"kind": "gru", "action_dim": 2, "hidden_dim": 8},
    }
    wm = build_world_model(config).eval()
    out = export_world_model(wm, config, tmp_path / "export")
    (tmp_path / "backbone.safetensors").unlink()  # another machine: the weights come from the export alone
    assert_same_outputs(wm, load_world_model(out))


LEVEL2 = {
    "window": 2,
    "pool": "attention",
    "embed_dim": 8,
    "hidden_dim": 16,
    "predictor": {"kind": "transformer", "action_dim": 2, "hidden_dim": 16, "num_heads": 2, "max_len": 8},
}


@pytest.fixture
def no_network(monkeypatch):
    """Make every network connection fail: the Hub methods must work on local folders and caches alone."""

    def refuse(*args, **kwargs):
        raise AssertionError("network used")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_save_pretrained_writes_the_export_format_and_from_pretrained_reads_it(tmp_path, no_pickle, no_network):
    torch.manual_seed(0)
    cfg = copy.deepcopy(CFG)
    wm = build_world_model(cfg).eval()
    cfg["encoder"]["embed_dim"] = 99  # the model keeps its own copy of the config it was built from
    assert wm.config == CFG
    WorldModelExport(wm).save_pretrained(tmp_path / "hub")
    meta = json.loads((tmp_path / "hub" / "config.json").read_text())
    sha256 = hashlib.sha256((tmp_path / "hub" / "model.safetensors").read_bytes()).hexdigest()
    assert meta == {
        "format": "hjepa-world-model",
        "version": 1,
        "levels": [1],
        "world_model_config": CFG,
        "weights_sha256": sha256,
    }
    assert "WorldModelExport.from_pretrained" in (tmp_path / "hub" / "README.md").read_text()  # the model card

    loaded = WorldModelExport.from_pretrained(tmp_path / "hub")
    assert loaded.level2 is None and not loaded.world_model.training
    assert_same_outputs(wm, loaded.world_model)
    assert model_levels(tmp_path / "hub") == [1]  # the existing loaders read the folder
    assert_same_outputs(wm, load_world_model(tmp_path / "hub"))
    assert read_world_model(tmp_path / "hub")[0] == CFG
    loaded.save_pretrained(tmp_path / "again")  # a loaded model saves itself: the same weights file
    assert json.loads((tmp_path / "again" / "config.json").read_text())["weights_sha256"] == sha256

    with pytest.raises(ValueError, match=r"world_model: has no config"):
        WorldModelExport(WorldModel(wm.encoder, wm.predictor))


def test_two_level_save_pretrained_round_trip(tmp_path, no_pickle, no_network):
    torch.manual_seed(0)
    wm = build_world_model(CFG).eval()
    wm2 = build_level2_world_model(wm.encoder, LEVEL2).eval()
    with torch.no_grad():
        wm2.encoder.pool.query.normal_()  # non-uniform attention: the weights matter
    WorldModelExport(wm, wm2).save_pretrained(tmp_path / "hub")
    meta = json.loads((tmp_path / "hub" / "config.json").read_text())
    assert meta["levels"] == [1, 2] and meta["world_model_config"] == CFG and meta["level2_config"] == LEVEL2

    loaded = WorldModelExport.from_pretrained(tmp_path / "hub")
    assert loaded.level2.encoder.level1 is loaded.world_model.encoder  # shared, as in training
    assert_same_outputs(wm, loaded.world_model)
    frames, actions = torch.rand(2, 6, 3, 32, 32), torch.randn(2, 2, 2)
    with torch.no_grad():
        s = wm2.encode(frames)
        assert s.shape == (2, 3, 8)  # (B, T // W, D2)
        for level2 in (loaded.level2, load_world_model(tmp_path / "hub", level=2)):
            assert torch.equal(level2.encode(frames), s)
            assert torch.equal(level2.unroll(s[:, 0], actions), wm2.unroll(s[:, 0], actions))


def hub_cache(cache: Path, repo_id: str, export: Path) -> Path:
    """Lay `export` out as snapshot_download leaves a downloaded repo: refs/main names the snapshot folder."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    commit = "0" * 40
    (repo / "snapshots").mkdir(parents=True)
    shutil.copytree(export, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return repo / "snapshots" / commit


def test_from_pretrained_of_a_repo_id_reads_the_downloaded_folder_through_the_checked_reader(tmp_path, no_network):
    wm = build_world_model(CFG).eval()
    snapshot = hub_cache(tmp_path / "cache", "someone/two-rooms", export_world_model(wm, CFG, tmp_path / "export"))
    loaded = WorldModelExport.from_pretrained("someone/two-rooms", cache_dir=tmp_path / "cache", local_files_only=True)
    assert_same_outputs(wm, loaded.world_model)
    overwrite_tensor_bytes(snapshot / "model.safetensors")
    with pytest.raises(ValueError, match=r"snapshots/0+/model\.safetensors: its SHA-256 differs"):
        WorldModelExport.from_pretrained("someone/two-rooms", cache_dir=tmp_path / "cache", local_files_only=True)


def test_from_pretrained_refuses_damaged_weights_as_the_loader_does(tmp_path, no_network):
    WorldModelExport(build_world_model(CFG)).save_pretrained(tmp_path / "hub")
    overwrite_tensor_bytes(tmp_path / "hub" / "model.safetensors")
    for load in (load_world_model, WorldModelExport.from_pretrained):
        with pytest.raises(ValueError, match=r"hub/model\.safetensors: its SHA-256 differs from weights_sha256"):
            load(tmp_path / "hub")
    meta = json.loads((tmp_path / "hub" / "config.json").read_text())
    del meta["weights_sha256"]  # no checksum to compare: the non-finite weights are named instead
    (tmp_path / "hub" / "config.json").write_text(json.dumps(meta))
    for load in (load_world_model, WorldModelExport.from_pretrained):
        with pytest.raises(ValueError, match=r"model\.safetensors: tensor encoder\.\S+ holds non-finite values"):
            load(tmp_path / "hub")


def test_the_model_card_lists_the_config_sections_and_the_probe_figures_passed(tmp_path, no_network):
    cfg = CFG | {"latent": {"kind": "low_dim", "dim": 3}}
    wm = build_world_model(cfg).eval()
    figures = {"classify_top1_trained": 0.8125, "plan_success": 0.6}
    training = {"trainer": {"max_steps": 1000}, "model": {"lr": 0.002}, "data": {"shards": "data/two_rooms"}}
    WorldModelExport(wm, build_level2_world_model(wm.encoder, LEVEL2).eval()).save_pretrained(
        tmp_path / "hub", model_card_kwargs={"probe_figures": figures, "training": training}
    )
    card = (tmp_path / "hub" / "README.md").read_text()
    sections = card.split("\n### ")[1:]  # one per config section, the figures after the last
    assert [section.split("\n")[0] for section in sections] == ["encoder", "predictor", "latent", "level2"]
    encoder, predictor, latent, level2 = sections
    assert '| `name` | `"convnet_tiny"` |' in encoder and "| `embed_dim` | `16` |" in encoder
    assert '| `kind` | `"gru"` |' in predictor and "| `hidden_dim` | `16` |" in predictor
    assert '| `kind` | `"low_dim"` |' in latent and "| `dim` | `3` |" in latent
    assert "| `window` | `2` |" in level2 and f"| `predictor` | `{json.dumps(LEVEL2['predictor'])}` |" in level2
    assert "## Probe figures" in level2 and "## Training" in level2
    trained = card.split("## Training\n\n```yaml\n")[1].split("```")[0]
    assert yaml.safe_load(trained) == training  # the run's config, as given
    assert "| classify_top1_trained | 0.8125 |" in card and "| plan_success | 0.6 |" in card

    WorldModelExport(wm).save_pretrained(tmp_path / "plain")  # no figures passed: no figures section
    plain = (tmp_path / "plain" / "README.md").read_text()
    assert (
        "### latent" in plain and "### level2" not in plain and "Probe figures" not in plain and "Training" not in plain
    )
