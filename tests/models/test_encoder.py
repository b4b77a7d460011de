"""FrameEncoder: shapes for each backbone family, per-frame independence, errors that name the field."""

import pytest
import torch

from hjepa.models import FrameEncoder


def _frames(b=2, t=3, size=64):
    return torch.rand(b, t, 3, size, size, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(name="convnet_tiny"),
        dict(name="vit_tiny_patch16_224", patch_size=8, depth=1),
    ],
)
def test_shape_and_frames_encoded_independently(kwargs):
    enc = FrameEncoder(embed_dim=24, img_size=64, **kwargs).eval()
    frames = _frames()
    states = enc(frames)
    assert states.shape == (2, 3, 24)
    with torch.no_grad():
        alone = enc(frames[:, 1:2])[:, 0]
    torch.testing.assert_close(alone, states[:, 1].detach(), rtol=1e-4, atol=1e-5)


def test_resnet18_forward_at_64():
    enc = FrameEncoder("resnet18", embed_dim=16, img_size=64).eval()
    with torch.no_grad():
        assert enc(_frames(b=1, t=2)).shape == (1, 2, 16)


def test_unknown_backbone_names_field_and_suggests():
    with pytest.raises(ValueError, match=r"encoder\.name.*resnet18"):
        FrameEncoder("resnt18")


def test_vit_img_size_must_tile_into_patches():
    with pytest.raises(ValueError, match=r"encoder\.img_size"):
        FrameEncoder("vit_tiny_patch16_224", img_size=60, patch_size=8, depth=1)


@pytest.mark.parametrize(
    "kwargs,field",
    [
        (dict(name="convnet_tiny", depth=3), "encoder.depth"),
        (dict(name="resnet18", foo=1), "encoder.foo"),
        (dict(name="convnet_tiny", pretrained=True), "encoder.pretrained"),
    ],
)
def test_bad_fields_are_named(kwargs, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        FrameEncoder(**kwargs)


def test_frames_of_the_wrong_size_are_refused():
    with pytest.raises(ValueError, match=r"encoder\.img_size"):
        FrameEncoder(img_size=64)(_frames(size=32))


def test_tubelet_encoder_maps_groups_of_frames_to_one_state():
    encoder = FrameEncoder("convnet_tiny", embed_dim=8, img_size=32, width=8, tubelet=2)
    frames = torch.rand(3, 6, 3, 32, 32)
    states = encoder(frames)
    assert states.shape == (3, 3, 8)
    # tubelet i sees exactly frames 2i and 2i+1: changing frame 5 changes only the last state
    changed = frames.clone()
    changed[:, 5] = torch.rand(3, 3, 32, 32)
    after = encoder(changed)
    assert torch.equal(after[:, :2], states[:, :2]) and not torch.allclose(after[:, 2], states[:, 2])
    with pytest.raises(ValueError, match="encoder.tubelet"):
        encoder(torch.rand(1, 5, 3, 32, 32))


def saved_timm_weights(path, name: str = "resnet10t") -> dict[str, torch.Tensor]:
    """A timm model with its classifier, its weights written to a local safetensors file (no network)."""
    import timm
    from safetensors.torch import save_file

    torch.manual_seed(0)
    weights = {k: v.contiguous() for k, v in timm.create_model(name, num_classes=10).state_dict().items()}
    save_file(weights, str(path))
    return weights


def test_a_local_weights_file_is_loaded_through_timm(tmp_path):
    weights = saved_timm_weights(tmp_path / "resnet10t.safetensors")
    encoder = FrameEncoder(
        "resnet10t", embed_dim=8, img_size=32, checkpoint_path=str(tmp_path / "resnet10t.safetensors")
    )
    loaded = encoder.backbone.state_dict()
    assert loaded and all(torch.equal(loaded[k], weights[k]) for k in loaded)  # every backbone tensor, no classifier
    assert not any(k.startswith("fc.") for k in loaded)
    fresh = FrameEncoder("resnet10t", embed_dim=8, img_size=32).backbone.state_dict()
    assert not torch.equal(fresh["conv1.0.weight"], weights["conv1.0.weight"])  # not what a fresh init gives
    stacked = FrameEncoder(
        "resnet10t", embed_dim=8, img_size=32, tubelet=2, checkpoint_path=str(tmp_path / "resnet10t.safetensors")
    )
    assert stacked.backbone.conv1[0].weight.shape[1] == 6  # timm adapts the first layer to a tubelet's channels


def test_weights_of_another_architecture_are_refused_naming_the_file_and_the_backbone(tmp_path):
    saved_timm_weights(tmp_path / "resnet18.safetensors", "resnet18")
    with pytest.raises(
        ValueError,
        match=r"(?s)encoder.checkpoint_path: .*resnet18.safetensors does not hold weights of "
        r"the backbone 'resnet10t' \(encoder.name\): .*size mismatch",
    ):
        FrameEncoder("resnet10t", embed_dim=8, img_size=32, checkpoint_path=str(tmp_path / "resnet18.safetensors"))


def test_a_weights_file_must_be_safetensors(tmp_path):
    torch.save({}, tmp_path / "weights.pth")
    with pytest.raises(ValueError, match="encoder.checkpoint_path: .*weights.pth is not a .safetensors file"):
        FrameEncoder("resnet10t", embed_dim=8, img_size=32, checkpoint_path=str(tmp_path / "weights.pth"))
    with pytest.raises(ValueError, match="encoder.checkpoint_path: local backbone 'convnet_tiny' loads no"):
        FrameEncoder("convnet_tiny", embed_dim=8, img_size=32, checkpoint_path=str(tmp_path / "weights.pth"))


def test_a_frozen_backbone_keeps_its_weights_and_statistics_while_the_projection_learns():
    torch.manual_seed(0)
    encoder = FrameEncoder("resnet10t", embed_dim=8, img_size=32, freeze=True).train()
    assert not encoder.backbone.training and encoder.proj.training  # eval mode whatever the model's mode
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    trainable = [p for p in encoder.parameters() if p.requires_grad]
    assert trainable == list(encoder.proj.parameters())
    optimizer = torch.optim.SGD(trainable, lr=0.1)
    for _ in range(2):
        optimizer.zero_grad()
        encoder(torch.rand(4, 2, 3, 32, 32)).pow(2).mean().backward()
        optimizer.step()
    after = encoder.state_dict()
    backbone = [k for k in after if k.startswith("backbone.")]
    assert backbone and all(torch.equal(before[k], after[k]) for k in backbone)  # BatchNorm statistics included
    assert not torch.equal(before["proj.weight"], after["proj.weight"])


def test_the_pooled_output_is_the_normalised_frames_through_backbone_and_projection():
    encoder = FrameEncoder("convnet_tiny", embed_dim=8, img_size=32, tubelet=2).eval()
    frames = torch.rand(2, 4, 3, 32, 32)
    x = ((frames - 0.5) / 0.5).reshape(4, 6, 32, 32)  # tubelets stacked channel-wise, normalised to [-1, 1]
    with torch.no_grad():
        assert torch.equal(encoder(frames), encoder.proj(encoder.backbone(x)).view(2, 2, 8))


def cell_tokens_by_hand(encoder: FrameEncoder, frames: torch.Tensor) -> torch.Tensor:
    """convnet_tiny tokens one position at a time: the position's features alone in an empty map, times the
    number of positions, through the backbone's pooling and the projection."""
    x = (frames.flatten(0, 1) - 0.5) / 0.5
    feature_map = encoder.backbone.forward_features(x)  # (M, C, h, w)
    h, w = feature_map.shape[-2:]
    tokens = []
    for row in range(h):
        for col in range(w):
            alone = torch.zeros_like(feature_map)
            alone[:, :, row, col] = feature_map[:, :, row, col]
            tokens.append(encoder.proj(encoder.backbone.pool(h * w * alone)))
    return torch.stack(tokens, 1).view(*frames.shape[:2], h * w, -1)


@pytest.mark.parametrize("size", [32, 64, 96])  # feature maps 2x2 (pooled up to 4x4), 4x4, 6x6 (pooled down)
def test_convnet_tiny_patch_tokens_are_each_positions_share_and_average_to_the_state(size):
    torch.manual_seed(0)
    encoder = FrameEncoder("convnet_tiny", embed_dim=8, img_size=size, width=8).eval()
    frames = torch.rand(2, 3, 3, size, size)
    with torch.no_grad():
        tokens = encoder.patch_tokens(frames)
        assert tokens.shape == (2, 3, (size // 16) ** 2, 8)
        torch.testing.assert_close(tokens, cell_tokens_by_hand(encoder, frames), rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(tokens.mean(2), encoder(frames), rtol=1e-4, atol=1e-5)


VIT_AVG = dict(name="vit_tiny_patch16_224", patch_size=8, depth=1, global_pool="avg", fc_norm=False)


@pytest.mark.parametrize(
    "kwargs,size,patches",
    [
        (dict(name="resnet10t"), 64, 4),  # a 2x2 map, average-pooled
        # ViTs averaging their patch tokens (no final norm after the pool): class and register tokens left out
        (dict(VIT_AVG), 32, 16),
        (dict(VIT_AVG, reg_tokens=2), 32, 16),
    ],
)
def test_timm_patch_tokens_average_to_the_state_where_the_backbone_pools_by_the_mean(kwargs, size, patches):
    torch.manual_seed(0)
    encoder = FrameEncoder(embed_dim=8, img_size=size, tubelet=2, **kwargs).eval()
    frames = torch.rand(2, 4, 3, size, size)
    with torch.no_grad():
        tokens = encoder.patch_tokens(frames)
        assert tokens.shape == (2, 2, patches, 8)
        torch.testing.assert_close(tokens.mean(2), encoder(frames), rtol=1e-4, atol=1e-5)


def test_vit_patch_tokens_follow_the_patches_not_the_class_token():
    torch.manual_seed(0)
    encoder = FrameEncoder("vit_tiny_patch16_224", patch_size=8, depth=1, embed_dim=8, img_size=32).eval()
    frames = torch.rand(1, 1, 3, 32, 32)
    changed = frames.clone()
    changed[..., :8, :8] = 1 - changed[..., :8, :8]  # the top-left patch only
    with torch.no_grad():
        before, after = encoder.patch_tokens(frames)[0, 0], encoder.patch_tokens(changed)[0, 0]
    moved = (after - before).norm(dim=-1)
    assert moved.shape == (16,) and moved.argmax() == 0  # the changed patch's token moves most


def test_a_spatial_state_is_the_map_and_moves_with_the_object():
    """Three stride-2 stages keep an 8x8 map of a 64 px frame; the state is that map, channel-major, so an
    object moved by 8 px (one cell) on a plain background moves the map by one cell and changes nothing else."""
    enc = FrameEncoder(embed_dim=4 * 8 * 8, img_size=64, width=8, stages=3, spatial_channels=4).eval()
    assert enc.state_shape == (4, 8, 8)
    frames = torch.full((1, 2, 3, 64, 64), 0.2)
    frames[0, 0, :, 24:32, 24:32] = 0.9
    frames[0, 1, :, 24:32, 32:40] = 0.9
    with torch.no_grad():
        maps = enc(frames).view(2, 4, 8, 8)
    torch.testing.assert_close(maps[1, :, 1:7, 2:7], maps[0, :, 1:7, 1:6], rtol=1e-4, atol=1e-5)
    assert (maps[1] - maps[0]).abs().amax() > 1e-3  # the object did move on the map


def test_spatial_state_errors_name_the_field():
    with pytest.raises(ValueError, match=r"encoder\.embed_dim.*set embed_dim: 256"):
        FrameEncoder(embed_dim=32, img_size=64, stages=3, spatial_channels=4)
    with pytest.raises(ValueError, match=r"encoder\.spatial_channels"):
        FrameEncoder("resnet18", embed_dim=32, spatial_channels=4)
    with pytest.raises(ValueError, match=r"encoder\.spatial_channels"):
        FrameEncoder(embed_dim=256, stages=3, spatial_channels=4).patch_tokens(_frames(t=1))
    with pytest.raises(ValueError, match=r"encoder\.stages"):
        FrameEncoder(stages=0)
