"""Long videos cut into consecutive samples (`hjepa shard --segment`): every frame in exactly one, in order.

A sample is decoded from its start for every clip read from it, so a long video held as one sample
costs decoding time in proportion to its length; segments of `--segment` seconds bound that cost.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from hjepa.data.video import VideoEncoder

# A video longer than this, held as one sample, gets a warning that names --segment.
LONG_VIDEO_SECONDS = 60.0


class Segment(NamedTuple):
    """One sample's encoded video: output frames [first, stop) of its source."""

    video: bytes
    first: int
    stop: int


def segment_frames(seconds: float, fps: float, where: str) -> int:
    """Frames in a segment of `seconds` at `fps`; ValueError naming --segment (and `where`) below 2 frames."""
    frames = round(seconds * fps)
    if frames < 2:
        raise ValueError(
            f"--segment: {seconds:g} s is {frames} frame(s) at {fps:g} fps ({where}); a sample needs "
            f"at least 2 frames (a transition): give at least {2 / fps:g} s"
        )
    return frames


class SegmentEncoder:
    """Encodes RGB frames into consecutive videos of `length` frames (one video when None).

    A last segment of a single frame would hold no transition: that frame joins the segment before.
    """

    def __init__(self, fps: float, codec: str, length: int | None = None) -> None:
        self.fps, self.codec, self.length = fps, codec, length
        self.segments: list[Segment] = []
        self._encoder: VideoEncoder | None = None
        self._held: np.ndarray | None = None  # first frame of the next segment, begun once a second one comes

    def write(self, image: np.ndarray) -> None:
        """Append one `(H, W, 3)` uint8 RGB frame."""
        if self._encoder is None:
            self._encoder = VideoEncoder(image.shape[1], image.shape[0], self.fps, self.codec)
        elif self.length is not None and self._encoder.frames >= self.length:
            if self._held is None:
                self._held = image
                return
            self._close()
            self._encoder = VideoEncoder(image.shape[1], image.shape[0], self.fps, self.codec)
            self._encoder.write(self._held)
            self._held = None
        self._encoder.write(image)

    def finish(self) -> list[Segment]:
        """Close the last segment; every segment written, in order."""
        if self._held is not None:
            self._encoder.write(self._held)
            self._held = None
        if self._encoder is not None:
            self._close()
        return self.segments

    def _close(self) -> None:
        first = self.segments[-1].stop if self.segments else 0
        frames = self._encoder.frames
        self.segments.append(Segment(self._encoder.finish(), first, first + frames))
        self._encoder = None
