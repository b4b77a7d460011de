import numpy as np
import pytest

from hjepa.data.video import DecodeError, VideoEncoder, decode_video, encode_video, resolve_decoder
from tests.data.synthetic import psnr

BACKENDS = ["pyav", "decord"]


def rendered_like(frames: int = 16) -> np.ndarray:
    """Flat background with a moving disc, like the worlds' renders."""
    yy, xx = np.mgrid[:64, :64]
    video = np.empty((frames, 64, 64, 3), np.uint8)
    video[:] = (40, 40, 60)
    for t in range(frames):
        disc = (yy - 20 - t) ** 2 + (xx - 10 - 2 * t) ** 2 <= 9
        video[t][disc] = (250, 200, 40)
    return video


@pytest.mark.parametrize("backend", BACKENDS)
def test_lossless_codec_round_trips_exactly(backend):
    frames = np.random.default_rng(0).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    assert np.array_equal(decode_video(encode_video(frames, 10, "ffv1"), None, backend), frames)


@pytest.mark.parametrize("backend", BACKENDS)
def test_h264_is_close_to_the_rendered_frames(backend):
    frames = rendered_like()
    decoded = decode_video(encode_video(frames, 10, "h264"), None, backend)
    assert decoded.shape == frames.shape
    assert psnr(decoded, frames) > 35.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_decoding_selected_indices_in_any_order(backend):
    frames = np.random.default_rng(1).integers(0, 256, (10, 16, 16, 3), dtype=np.uint8)
    data = encode_video(frames, 10, "ffv1")
    assert np.array_equal(decode_video(data, [7, 2, 2, 9], backend), frames[[7, 2, 2, 9]])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("indices", [None, [7, 2, 2, 9], [0], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]])
@pytest.mark.parametrize(("codec", "height", "width"), [("ffv1", 16, 24), ("ffv1", 15, 37), ("h264", 64, 64)])
def test_frames_decoded_into_a_given_array_are_the_frames(backend, indices, codec, height, width):
    # odd widths: the converter pads each row of its RGB buffer, which must not reach the frames
    frames = rendered_like(10)[:, :height, :width] if codec == "h264" else None
    if frames is None:
        frames = np.random.default_rng(2).integers(0, 256, (10, height, width, 3), dtype=np.uint8)
    data = encode_video(frames, 10, codec)
    decoded, wanted = decode_video(data, indices, backend), frames if indices is None else frames[indices]
    assert decoded.flags["C_CONTIGUOUS"] and decoded.shape == wanted.shape
    if codec == "ffv1":  # lossless: the frames themselves
        assert np.array_equal(decoded, wanted)
    else:
        assert psnr(decoded, wanted) > 35.0
    if indices is not None:
        out = np.full_like(decoded, 7)
        assert decode_video(data, indices, backend, out=out) is out and np.array_equal(out, decoded)


@pytest.mark.parametrize("backend", BACKENDS)
def test_decoded_frames_outlive_the_decoder_and_later_decodes(backend):
    # decord's frames come through DLPack without a copy: they must stay the caller's, whatever is decoded next
    rng = np.random.default_rng(3)
    first, other = (rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8) for _ in range(2))
    decoded = decode_video(encode_video(first, 10, "ffv1"), [5, 0, 3], backend)
    other_data = encode_video(other, 10, "ffv1")
    for _ in range(20):
        assert np.array_equal(decode_video(other_data, [5, 0, 3], backend), other[[5, 0, 3]])
    assert np.array_equal(decoded, first[[5, 0, 3]])


def test_encoding_is_deterministic():
    frames = rendered_like(8)
    for codec in ("h264", "ffv1"):
        assert encode_video(frames, 10, codec) == encode_video(frames, 10, codec)


@pytest.mark.parametrize("backend", BACKENDS)
def test_garbage_bytes_raise_decode_error(backend):
    with pytest.raises(DecodeError, match=backend):
        decode_video(b"not a video" * 50, None, backend)


def test_frame_past_the_end_is_an_error():
    data = encode_video(rendered_like(4), 10, "ffv1")
    with pytest.raises(DecodeError, match="video has 4 decodable frames, frame 10 requested"):
        decode_video(data, [1, 10], "pyav")


def test_bad_encoder_input_names_the_field():
    with pytest.raises(ValueError, match="codec"):
        VideoEncoder(16, 16, 10, "vp9000")
    with pytest.raises(ValueError, match="even"):
        VideoEncoder(15, 16, 10, "h264")
    encoder = VideoEncoder(16, 16, 10, "ffv1")
    with pytest.raises(ValueError, match="frame"):
        encoder.write(np.zeros((8, 8, 3), np.uint8))


def test_decoder_choice():
    assert resolve_decoder("auto") in ("decord", "pyav")
    with pytest.raises(ValueError, match="decoder"):
        resolve_decoder("opencv")


def test_torchcodec_without_ffmpeg_says_why():
    try:
        resolve_decoder("torchcodec")
    except ImportError as error:
        assert "FFmpeg" in str(error) and "pyav" in str(error)
