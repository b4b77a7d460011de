"""Video bytes in and out: in-memory encoding with PyAV and pluggable decoders (decord, PyAV, torchcodec).

Clips are decoded from bytes inside DataLoader workers, so every backend takes the encoded bytes and
the frame indices it must return, and gives `(T, H, W, 3)` uint8 RGB.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction

import av
import numpy as np
import torch
from av.video.reformatter import VideoReformatter

VIDEO_EXTENSIONS: tuple[str, ...] = ("mp4", "mkv", "webm", "avi", "mov")

# codec name -> (container extension, FFmpeg muxer, FFmpeg encoder, pixel format, encoder options)
CODECS: dict[str, tuple[str, str, str, str, dict[str, str]]] = {
    # Lossy, small, decodable everywhere. crf 18 keeps 64x64 renders above 35 dB PSNR.
    "h264": ("mp4", "mp4", "libx264", "yuv420p", {"crf": "18", "preset": "veryfast", "tune": "zerolatency"}),
    # Lossless RGB: decoded frames equal the rendered ones bit for bit.
    "ffv1": ("mkv", "matroska", "ffv1", "bgr0", {}),
}

DECODERS: tuple[str, ...] = ("auto", "decord", "pyav", "torchcodec")

log = logging.getLogger(__name__)


class DecodeError(RuntimeError):
    """The bytes of a video could not be decoded into the requested frames."""


class FrameSizeMismatch(ValueError):
    """The frames do not fit the array given to decode them into (`decode_video(out=...)`): not damage."""


class VideoEncoder:
    """Encode RGB frames one at a time into a video file held in memory.

    Output is deterministic (single-threaded encoder, bit-exact muxing): the same frames give the
    same bytes, so generated shards are reproducible from their seed.
    """

    def __init__(self, width: int, height: int, fps: float, codec: str = "h264") -> None:
        if codec not in CODECS:
            raise ValueError(f"codec: expected one of {sorted(CODECS)}, got {codec!r}")
        _, muxer, encoder, pix_fmt, options = CODECS[codec]
        if encoder == "libx264" and (height % 2 or width % 2):
            raise ValueError(f"frames: h264 needs even height and width, got {height}x{width}")
        self.width, self.height = width, height
        self._buffer = io.BytesIO()
        self._container = av.open(self._buffer, mode="w", format=muxer, options={"fflags": "+bitexact"})
        self._stream = self._container.add_stream(encoder, rate=Fraction(fps).limit_denominator(1001))
        self._stream.width, self._stream.height, self._stream.pix_fmt = width, height, pix_fmt
        self._stream.codec_context.thread_count = 1
        self._stream.codec_context.flags |= av.codec.context.Flags.bitexact
        self._stream.options = dict(options)
        self.frames = 0

    def write(self, image: np.ndarray) -> None:
        """Append one `(H, W, 3)` uint8 RGB frame."""
        if image.shape != (self.height, self.width, 3) or image.dtype != np.uint8:
            raise ValueError(f"frame: expected ({self.height}, {self.width}, 3) uint8, got {image.shape} {image.dtype}")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        self._container.mux(self._stream.encode(frame))
        self.frames += 1

    def finish(self) -> bytes:
        """Flush the encoder, close the container and return the file's bytes."""
        self._container.mux(self._stream.encode(None))
        self._container.close()
        return self._buffer.getvalue()


def frame_rate(stream: av.video.stream.VideoStream) -> float:
    """Frames per second of a video stream (0.0 when the container does not say)."""
    return float(stream.average_rate or stream.guessed_rate or 0)


def timed_frames(stream: av.video.stream.VideoStream) -> Iterator[tuple[float, av.VideoFrame]]:
    """(time in seconds, frame) for every frame of `stream`, decoded one at a time."""
    rate = frame_rate(stream) or 1.0
    for index, frame in enumerate(stream.container.decode(stream)):
        yield (frame.time if frame.time is not None else index / rate), frame


def rgb_frame(frame: av.VideoFrame, size: int | None = None) -> np.ndarray:
    """A decoded frame as `(H, W, 3)` uint8 RGB; with `size`, the shorter side scaled to `size` and the
    centre cropped to a `(size, size)` square."""
    if size is None:
        return frame.to_ndarray(format="rgb24")
    scale = size / min(frame.height, frame.width)
    width, height = max(size, round(frame.width * scale)), max(size, round(frame.height * scale))
    top, left = (height - size) // 2, (width - size) // 2
    return frame.to_ndarray(width=width, height=height, format="rgb24")[top : top + size, left : left + size]


def encode_video(frames: np.ndarray, fps: float, codec: str = "h264") -> bytes:
    """Encode `(T, H, W, 3)` uint8 RGB frames into a video file held in memory (deterministic)."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames: expected (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    encoder = VideoEncoder(frames.shape[2], frames.shape[1], fps, codec)
    for image in frames:
        encoder.write(image)
    return encoder.finish()


def _decode_decord(data: bytes, indices: Sequence[int] | None) -> np.ndarray:
    import decord

    reader = decord.VideoReader(io.BytesIO(data), ctx=decord.cpu(0), num_threads=1)
    wanted = list(range(len(reader))) if indices is None else list(indices)
    try:
        # through DLPack, the frames decord decoded themselves: `asnumpy()` would copy them
        return torch.from_dlpack(reader.get_batch(wanted).to_dlpack()).numpy()
    except decord.DECORDError as error:
        # decord 0.6 cannot copy frames of some widths (16, 24, 48 px, ...): PyAV decodes those.
        if "size must exactly match" not in str(error):
            raise
        _warn_once("decord cannot return frames of this width; decoding such videos with PyAV")
        return _decode_pyav(data, indices)


_WARNED: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _WARNED:
        _WARNED.add(message)
        log.warning(message)


def _rgb_view(frame: av.VideoFrame) -> np.ndarray:
    """The `(H, W, 3)` pixels of an `rgb24` frame: a view of its buffer (rows padded to `line_size`), no copy."""
    plane = frame.planes[0]
    rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[: frame.height, : frame.width * 3]
    return rows.reshape(frame.height, frame.width, 3)


def _decode_pyav(data: bytes, indices: Sequence[int] | None, out: np.ndarray | None = None) -> np.ndarray:
    """Each frame wanted is converted to RGB once and copied from the converter's buffer straight into its slot(s)
    of the output: one copy of each frame."""
    slots: dict[int, list[int]] = {}
    for slot, index in enumerate(indices or ()):
        slots.setdefault(index, []).append(slot)
    last = None if indices is None else max(slots, default=-1)
    frames: list[np.ndarray] = []  # all frames when indices is None (their count is unknown until the end)
    checked = False  # out exists and fits the frames
    count = 0  # frames decoded
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        # one thread for decoding and for RGB conversion, as decord: DataLoader workers are the parallelism,
        # and FFmpeg's defaults start (cores + 1) threads per video and hand every frame to a thread pool
        stream.codec_context.thread_count = 1
        to_rgb = VideoReformatter()  # one for the video: `frame.to_ndarray(format=...)` sets one up per frame
        for index, frame in enumerate(container.decode(stream)):
            if last is not None and index > last:
                break
            count = index + 1
            if indices is not None and index not in slots:
                continue
            image = _rgb_view(to_rgb.reformat(frame, format="rgb24", threads=1))  # (H, W, 3)
            if indices is None:
                frames.append(image.copy())
                continue
            if not checked:
                shape = (len(indices), *image.shape)
                if out is None:
                    out = np.empty(shape, np.uint8)
                elif out.shape != shape:
                    raise FrameSizeMismatch(f"frames of {shape} do not fit an array of {out.shape}")
                checked = True
            for slot in slots.pop(index):
                out[slot] = image
            if not slots:
                break
    if indices is None:
        if not frames:
            raise DecodeError("video has no decodable frames")
        return np.stack(frames)
    if slots:
        raise DecodeError(f"video has {count} decodable frames, frame {min(slots)} requested")
    return out if out is not None else np.empty((0, 0, 0, 3), np.uint8)


def _decode_torchcodec(data: bytes, indices: Sequence[int] | None) -> np.ndarray:
    decoder_type = _import_torchcodec()
    decoder = decoder_type(data, dimension_order="NHWC")
    wanted = list(range(decoder.metadata.num_frames)) if indices is None else list(indices)
    return decoder.get_frames_at(indices=wanted).data.numpy()


def _import_torchcodec() -> type:
    try:
        from torchcodec.decoders import VideoDecoder
    except Exception as error:  # torchcodec raises RuntimeError/OSError when FFmpeg libraries are missing
        raise ImportError(
            "decoder 'torchcodec' is not usable here: it needs the system FFmpeg shared libraries "
            f"(libavcodec etc., FFmpeg 4-7) and the torchcodec package ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}). Use decoder 'decord' or 'pyav', "
            "or install FFmpeg (e.g. apt-get install ffmpeg) and torchcodec."
        ) from error
    return VideoDecoder


_BACKENDS: dict[str, Callable[[bytes, Sequence[int] | None], np.ndarray]] = {
    "decord": _decode_decord,
    "pyav": _decode_pyav,
    "torchcodec": _decode_torchcodec,
}


def backend_available(name: str) -> bool:
    """Whether decoder backend `name` can be imported on this machine."""
    try:
        if name == "decord":
            import decord  # noqa: F401
        elif name == "torchcodec":
            _import_torchcodec()
        elif name != "pyav":
            return False
    except ImportError:
        return False
    return True


def resolve_decoder(name: str) -> str:
    """Map a `decoder` config value to an importable backend; `auto` prefers decord, then PyAV."""
    if name not in DECODERS:
        raise ValueError(f"decoder: expected one of {list(DECODERS)}, got {name!r}")
    if name == "auto":
        return "decord" if backend_available("decord") else "pyav"
    if name == "torchcodec":
        _import_torchcodec()
    elif not backend_available(name):
        raise ImportError(f"decoder {name!r} is not installed; install it or use decoder 'pyav'")
    return name


def decode_video(
    data: bytes, indices: Sequence[int] | None = None, backend: str = "pyav", out: np.ndarray | None = None
) -> np.ndarray:
    """Decode the frames at `indices` (all when None) of an in-memory video -> `(T, H, W, 3)` uint8 RGB.
    With `out`, the frames are written into it and it is returned (PyAV decodes straight into it where indices
    are given); frames of another shape raise `FrameSizeMismatch`."""
    try:
        if backend == "pyav":
            frames = _decode_pyav(data, indices, None if indices is None else out)
        else:
            frames = _BACKENDS[backend](data, indices)
    except (DecodeError, FrameSizeMismatch):
        raise
    except Exception as error:  # backends raise many types (av.error.*, decord.DECORDError, RuntimeError)
        raise DecodeError(f"{backend} could not decode the video: {type(error).__name__}: {error}") from error
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise DecodeError(f"{backend} returned frames of shape {frames.shape}, expected (T, H, W, 3)")
    if out is None:
        return np.ascontiguousarray(frames)
    if frames is not out:
        if frames.shape != out.shape:
            raise FrameSizeMismatch(f"frames of {frames.shape} do not fit an array of {out.shape}")
        np.copyto(out, frames)
    return out
