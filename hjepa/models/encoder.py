"""Perception module Enc(x) -> s (seed paper sec. 4.4, fig. 2): a 2-D backbone applied to every frame."""

import difflib
from pathlib import Path
from typing import Any, Self

import timm
import torch
from torch import Tensor, nn


class ConvNetTiny(nn.Module):
    """`stages` stride-2 conv blocks (four by default) and a 4x4 pool: a fast CPU backbone that keeps coarse
    position. Three stages keep an 8x8 feature map of a 64 px frame, the grid of a spatial state."""

    def __init__(self, in_chans: int = 3, width: int = 32, stages: int = 4) -> None:
        super().__init__()
        if stages < 1:
            raise ValueError(f"encoder.stages: expected >= 1 stride-2 conv blocks, got {stages}")
        chans = [in_chans] + [width * 2 ** min(i, 2) for i in range(stages)]
        layers: list[nn.Module] = []
        for c_in, c_out in zip(chans[:-1], chans[1:]):
            # GroupNorm, not BatchNorm: an encoding must not depend on the other frames in the batch.
            layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.GroupNorm(8, c_out), nn.GELU()]
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(4), nn.Flatten())
        self.num_features_map = chans[-1]
        self.num_features = chans[-1] * 16

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, num_features)."""
        return self.features(x)

    def forward_features(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> the last feature map (N, C', H / 2^stages, W / 2^stages), before the 4x4 pool."""
        return self.features[:-2](x)

    def pool(self, feature_map: Tensor) -> Tensor:
        """The rest of `forward`: feature map (N, C, h, w) -> (N, C * 16), the 4x4 grid of cells, channel-major."""
        return self.features[-2:](feature_map)


LOCAL_BACKBONES = {"convnet_tiny": ConvNetTiny}


def spatial_state_shape(channels: int, h: int, w: int, embed_dim: int, prefix: str, grid: str) -> tuple[int, int, int]:
    """(channels, h, w), the map of a spatial state; ValueError naming `<prefix>embed_dim` and the value it needs
    when `embed_dim` is not channels * h * w (`grid` says whose h x w map it is)."""
    if embed_dim != channels * h * w:
        raise ValueError(
            f"{prefix}embed_dim: a spatial state of {channels} channels on {grid} {h}x{w} map has "
            f"{channels * h * w} values; set embed_dim: {channels * h * w} (got {embed_dim})"
        )
    return channels, h, w


def _unknown_name_error(name: str) -> ValueError:
    """ValueError for an unknown backbone, suggesting timm names that start with, contain or resemble it."""
    close = sorted(timm.list_models(f"*{name}*"), key=lambda m: (not m.startswith(name), len(m)))[:8]
    close = close or difflib.get_close_matches(name, timm.list_models() + list(LOCAL_BACKBONES), n=8)
    hint = f"; close names: {', '.join(close)}" if close else ""
    local = ", ".join(LOCAL_BACKBONES)
    return ValueError(f"encoder.name: unknown backbone {name!r} (local: {local}, or any timm model){hint}")


def _create_timm(
    name: str,
    img_size: int,
    in_chans: int,
    pretrained: bool,
    timm_kwargs: dict[str, Any],
    checkpoint_path: str | None = None,
) -> nn.Module:
    """timm backbone without classifier; img_size goes to models that take it (ViTs), not to CNNs.

    A local `checkpoint_path` (safetensors) goes through timm's pretrained loading, which drops the file's
    classifier and adapts its first layer to `in_chans`, as for weights from the hub."""
    kwargs = dict(num_classes=0, in_chans=in_chans, pretrained=pretrained, **timm_kwargs)
    if checkpoint_path is not None:
        path = Path(checkpoint_path)
        if path.suffix != ".safetensors" or not path.is_file():
            raise ValueError(
                f"encoder.checkpoint_path: {path} is not a .safetensors file (a pickle is never loaded; "
                "convert with safetensors.torch.save_file(model.state_dict(), ...))"
            )
        kwargs.update(pretrained=True, pretrained_cfg_overlay={"file": str(path)})
    try:
        try:
            model = timm.create_model(name, img_size=img_size, **kwargs)
        except TypeError as err:
            if "img_size" not in str(err):
                raise
            model = timm.create_model(name, **kwargs)  # CNNs pool globally and take any image size
    except TypeError as err:
        fields = ", ".join(f"encoder.{k}" for k in sorted(timm_kwargs)) or "encoder"
        raise ValueError(f"{fields}: rejected by the timm backbone {name!r}: {err}") from err
    except RuntimeError as err:  # load_state_dict: names, shapes of another architecture's weights
        if checkpoint_path is None:
            raise
        raise ValueError(
            f"encoder.checkpoint_path: {checkpoint_path} does not hold weights of the backbone {name!r} "
            f"(encoder.name): {err}"
        ) from err
    patch = getattr(getattr(model, "patch_embed", None), "patch_size", None)
    # timm ViTs silently drop the remainder pixels, so refuse sizes that do not tile.
    if patch is not None and any(img_size % p for p in patch):
        raise ValueError(f"encoder.img_size: {img_size} is not a multiple of {name!r}'s patch size {tuple(patch)}")
    return model


class FrameEncoder(nn.Module):
    """Encodes each frame, or each tubelet of `tubelet` consecutive frames stacked channel-wise,
    independently: frames (B, T, C, H, W) in [0, 1] -> states (B, T // tubelet, D).

    With `spatial_channels` the state is the backbone's feature map, `spatial_channels` per position by a 1x1
    conv, flattened: D = C * h * w, `state_shape` (C, h, w); a wall then stays local to where it is, as in the
    spatial representations that plan in PLDM and eb_jepa. Otherwise the pooled features are projected to D.
    """

    def __init__(
        self,
        name: str = "convnet_tiny",
        embed_dim: int = 128,
        img_size: int = 64,
        in_chans: int = 3,
        pretrained: bool = False,
        tubelet: int = 1,
        checkpoint_path: str | None = None,
        freeze: bool = False,
        spatial_channels: int = 0,
        **timm_kwargs: Any,
    ) -> None:
        super().__init__()
        if tubelet < 1:
            raise ValueError(f"encoder.tubelet: expected >= 1 frames per tubelet, got {tubelet}")
        self.embed_dim = embed_dim
        self.img_size = img_size
        self.tubelet = tubelet
        frame_chans, in_chans = in_chans, in_chans * tubelet  # a tubelet stacks its frames channel-wise
        if name in LOCAL_BACKBONES:
            if pretrained or checkpoint_path is not None:
                field = "checkpoint_path" if checkpoint_path is not None else "pretrained"
                raise ValueError(
                    f"encoder.{field}: local backbone {name!r} loads no pretrained weights; use a timm backbone"
                )
            try:
                self.backbone = LOCAL_BACKBONES[name](in_chans=in_chans, **timm_kwargs)
            except TypeError as err:
                fields = ", ".join(f"encoder.{k}" for k in sorted(timm_kwargs))
                raise ValueError(f"{fields}: unknown field for the local backbone {name!r} ({err})") from err
            mean = std = (0.5,) * frame_chans
        elif timm.is_model(name):
            self.backbone = _create_timm(name, img_size, in_chans, pretrained, timm_kwargs, checkpoint_path)
            cfg = self.backbone.pretrained_cfg
            # Pretrained weights expect their own normalisation; it is defined for 3-channel input only.
            same_chans = frame_chans == len(cfg.get("mean", ()))
            mean, std = (cfg["mean"], cfg["std"]) if same_chans else ((0.5,) * frame_chans, (0.5,) * frame_chans)
        else:
            raise _unknown_name_error(name)
        self.register_buffer("mean", torch.tensor(mean).view(-1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(-1, 1, 1), persistent=False)
        self.state_shape: tuple[int, int, int] | None = None
        if spatial_channels:
            self.state_shape = self._spatial_shape(spatial_channels, in_chans)
            self.proj = nn.Conv2d(self.backbone.num_features_map, spatial_channels, 1)
        else:
            self.proj = nn.Linear(self.backbone.num_features, embed_dim)
        # A frozen backbone (the DINO-WM recipe) keeps its weights and its normalisation statistics: no gradient,
        # so no optimizer state, and eval mode whatever mode the rest of the model is in; `proj` still learns.
        self.frozen = freeze
        if freeze:
            self.backbone.requires_grad_(False).eval()

    def _spatial_shape(self, channels: int, in_chans: int) -> tuple[int, int, int]:
        """The state's map (C, h, w): `channels` per position of the backbone's last feature map (sec. 4.4's
        perception keeping where things are); checks that `embed_dim` is its size, C * h * w."""
        if not isinstance(self.backbone, ConvNetTiny):
            raise ValueError("encoder.spatial_channels: a spatial state needs the local backbone 'convnet_tiny'")
        with torch.no_grad():
            _, _, h, w = self.backbone.forward_features(torch.zeros(1, in_chans, self.img_size, self.img_size)).shape
        return spatial_state_shape(channels, h, w, self.embed_dim, "encoder.", "the backbone's")

    def train(self, mode: bool = True) -> Self:
        super().train(mode)
        if self.frozen:
            self.backbone.eval()
        return self

    def _images(self, frames: Tensor) -> Tensor:
        """Frames (B, T, C, H, W) in [0, 1] -> normalised backbone inputs (B * T // tubelet, tubelet * C, H, W)."""
        b, t, c, h, w = frames.shape
        if (h, w) != (self.img_size, self.img_size):
            raise ValueError(f"encoder.img_size is {self.img_size} but frames are {h}x{w}")
        if t % self.tubelet:
            raise ValueError(f"encoder.tubelet={self.tubelet} does not divide the clip's {t} frames")
        x = (frames - self.mean) / self.std
        return x.reshape(b * (t // self.tubelet), self.tubelet * c, h, w)

    def forward(self, frames: Tensor) -> Tensor:
        """(B, T, C, H, W) -> (B, T // tubelet, D)."""
        b, t = frames.shape[:2]
        x = self._images(frames)
        if self.state_shape is not None:  # the map itself, flattened channel-major: (C, h, w) per state
            return self.proj(self.backbone.forward_features(x)).reshape(b, t // self.tubelet, self.embed_dim)
        return self.proj(self.backbone(x)).view(b, t // self.tubelet, self.embed_dim)

    def patch_tokens(self, frames: Tensor) -> Tensor:
        """(B, T, C, H, W) -> per-patch tokens (B, T // tubelet, N, D), N patches in row-major order.

        A ViT's tokens are its `forward_features` without the prefix (class, register) tokens, a CNN's the
        positions of its last feature map (N = h * w), each through `proj`. A CNN pooling that map by its mean
        gives the state as the mean of its tokens; `convnet_tiny`, whose state keeps a 4x4 grid of cells,
        projects each position with the weights of the cells it falls in (times N), so its tokens too average
        to the state: a token is its patch's share of it.
        """
        if self.state_shape is not None:
            raise ValueError("encoder.spatial_channels: a spatial state is its own map; it has no patch tokens")
        b, t = frames.shape[:2]
        x = self._images(frames)
        if isinstance(self.backbone, ConvNetTiny):
            tokens = self._cell_tokens(self.backbone.forward_features(x))
        else:
            features = self.backbone.forward_features(x)
            if features.ndim == 4:  # a feature map: NCHW, or NHWC where timm says so (e.g. Swin)
                nhwc = getattr(self.backbone, "output_fmt", "NCHW") == "NHWC"
                features = features.flatten(1, 2) if nhwc else features.flatten(2).transpose(1, 2)
            else:
                features = features[:, getattr(self.backbone, "num_prefix_tokens", 0) :]
            if features.shape[-1] != self.proj.in_features:
                raise ValueError(
                    f"encoder.name: the backbone's tokens have {features.shape[-1]} features but its pooled output "
                    f"{self.proj.in_features}; patch tokens are not available for it"
                )
            tokens = self.proj(features)
        return tokens.view(b, t // self.tubelet, -1, self.embed_dim)

    def _cell_tokens(self, feature_map: Tensor) -> Tensor:
        """`convnet_tiny` feature map (M, C, h, w) -> tokens (M, h * w, D) that average to `proj` of its pooled grid."""
        m, c, h, w = feature_map.shape
        positions = torch.eye(h * w, dtype=feature_map.dtype, device=feature_map.device).view(h * w, 1, h, w)
        share = self.backbone.pool(positions)  # (h w, cells): the weight of each position in each pooled cell
        weight = self.proj.weight.unflatten(1, (c, -1))  # (D, C, cells), the pooled grid's channel-major order
        tokens = torch.einsum("mcp,pj,dcj->mpd", feature_map.flatten(2), share, weight)
        return h * w * tokens + self.proj.bias
