"""Read an uploaded video for real with PyAV (FFmpeg, bundled in the wheel): codecs, size, duration, a poster frame.

Runs in the worker after the cheap container checks (`inspection.check_video_structure`). The work is bounded so
a hostile file cannot hold the worker: the demuxer is fixed by the sniffed kind (no format guessing), every
packet is demuxed but not decoded (to measure the real duration, up to a packet budget), only the first ~1 s of
the video stream is decoded (up to `MAX_DECODE_PACKETS`), single-threaded, and the decoder refuses frames over the
pixel cap (FFmpeg's own `max_pixels`). Any refusal raises `Rejected(reason)`; FFmpeg errors become rejections too.
"""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass

import av
from PIL import Image

from services.posters.adapters.inspection import Rejected
from services.posters.domain.files import Kind

log = logging.getLogger(__name__)

DEMUXERS = {Kind.MP4: "mp4", Kind.WEBM: "webm"}
LABELS = {Kind.MP4: "MP4", Kind.WEBM: "WebM"}
# What browsers play in each container (Chrome, Firefox, Safari, Edge). HEVC is left out on purpose: Firefox and
# Chrome without hardware support show a black box. MPEG-4 Part 2, Theora, ProRes... do not play at all.
BROWSER_VIDEO = {Kind.MP4: {"h264", "av1"}, Kind.WEBM: {"vp8", "vp9", "av1"}}
BROWSER_AUDIO = {Kind.MP4: {"aac", "mp3"}, Kind.WEBM: {"vorbis", "opus"}}
CODEC_NAMES = {"h264": "H.264", "hevc": "HEVC (H.265)", "mpeg4": "mpeg4 (MPEG-4 Part 2)"}
EXPORT_HINT = "export as H.264 MP4 or VP9 WebM"

POSTER_FRAME_AT_S = 1.0  # the very first frame is often black (fade-in); 1 s in usually shows the title
MAX_DECODE_PACKETS = 300  # video packets decoded at most to find the poster frame (~10 s at 30 fps)
PACKETS_PER_SECOND = 400  # demux budget per allowed second: 60 fps video + 48 kHz audio is ~110 packets/s
MIN_PACKET_BUDGET = 20_000
DURATION_GRACE_S = 0.5  # audio priming and container rounding make a 5:00 export last 5:00.02


@dataclass(frozen=True)
class VideoInfo:
    duration_s: float
    width: int
    height: int
    video_codec: str
    audio_codec: str | None
    frame: Image.Image  # the poster frame, upright, RGB


def probe(kind: Kind, data: bytes, *, max_seconds: int, max_pixels: int) -> VideoInfo:
    try:
        container = av.open(io.BytesIO(data), format=DEMUXERS[kind])
    except av.FFmpegError as exc:
        log.info("video refused by the demuxer", extra={"error": str(exc)})
        raise Rejected(f"the video cannot be read (damaged, or not really {LABELS[kind]}); {EXPORT_HINT}") from None
    try:
        with container:
            return _probe(kind, container, max_seconds, max_pixels)
    except av.FFmpegError as exc:
        log.info("video refused by FFmpeg", extra={"error": str(exc)})
        raise Rejected(f"the video is damaged and cannot be decoded; {EXPORT_HINT}") from None


def _probe(kind: Kind, container: av.container.InputContainer, max_seconds: int, max_pixels: int) -> VideoInfo:
    stream = _video_stream(kind, container)
    audio = _audio_codec(kind, container)
    context = stream.codec_context
    width, height = context.width, context.height
    if width <= 0 or height <= 0:
        raise Rejected("the video has no picture size; it is damaged or incomplete")
    if width * height > max_pixels:
        raise Rejected(f"the video is {width}x{height} pixels; at most {max_pixels:,} pixels per frame are accepted")
    # FFmpeg itself then refuses any frame over the cap, even if the stream changes size after its header.
    context.options = {"max_pixels": str(max_pixels), "threads": "1"}
    context.thread_count = 1

    header_s = container.duration / av.time_base if container.duration and container.duration > 0 else 0.0
    if header_s > max_seconds + DURATION_GRACE_S:  # no need to read further: the header already says too long
        raise Rejected(_too_long(header_s, max_seconds))
    frame, span_s = _scan(container, stream, max(MIN_PACKET_BUDGET, max_seconds * PACKETS_PER_SECOND))
    duration = max(header_s, span_s)
    if duration > max_seconds + DURATION_GRACE_S:
        raise Rejected(_too_long(duration, max_seconds))
    if duration <= 0:
        raise Rejected("the video has no length; it is damaged or incomplete")
    if frame is None:
        raise Rejected(f"no picture in the video could be decoded; it is damaged or incomplete; {EXPORT_HINT}")
    return VideoInfo(
        duration_s=round(duration, 3),
        width=width,
        height=height,
        video_codec=_codec(stream),
        audio_codec=audio,
        frame=_upright(frame),
    )


def _codec(stream: av.stream.Stream) -> str:
    """The format's name ("av1"), not the decoder's ("libdav1d"); "unknown" when FFmpeg has no decoder for it."""
    codec = getattr(stream.codec_context, "codec", None)
    return codec.canonical_name if codec is not None else "unknown"


def _video_stream(kind: Kind, container: av.container.InputContainer) -> av.video.stream.VideoStream:
    """The stream browsers show; cover art (an attached picture) is not a video."""
    videos = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not videos:
        raise Rejected(f"the file has no video track (sound only, or empty); {EXPORT_HINT}")
    for stream in videos:
        name = _codec(stream)
        if name == "unknown":
            raise Rejected(f"the video's codec cannot be identified (damaged or unusual file); {EXPORT_HINT}")
        if name not in BROWSER_VIDEO[kind]:
            shown = CODEC_NAMES.get(name, name)
            raise Rejected(f"the video codec {shown} does not play in browsers in {LABELS[kind]}; {EXPORT_HINT}")
    return videos[0]


def _audio_codec(kind: Kind, container: av.container.InputContainer) -> str | None:
    names = [_codec(s) for s in container.streams.audio]
    for name in names:
        if name not in BROWSER_AUDIO[kind]:
            wanted = "AAC" if kind is Kind.MP4 else "Opus"
            raise Rejected(
                f"the audio codec {name} does not play in browsers in {LABELS[kind]}; export the sound as {wanted}"
            )
    return names[0] if names else None


def _scan(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, budget: int
) -> tuple[av.VideoFrame | None, float]:
    """One pass over every packet: the time span they cover (the real duration, whatever the header says) and
    the poster frame, decoded from the first video packets only."""
    first: float | None = None
    last = 0.0
    frame: av.VideoFrame | None = None
    decoded = 0
    # demux() ends with an empty packet per stream (a decoder flush); we flush once ourselves, below.
    for count, packet in enumerate(container.demux(), start=1):
        if count > budget:
            raise Rejected(f"the video has more than {budget:,} packets; export it at a usual frame rate")
        if packet.pts is not None and packet.time_base is not None:
            start = float(packet.pts * packet.time_base)
            end = start + float((packet.duration or 0) * packet.time_base)
            first = start if first is None else min(first, start)
            last = max(last, end)
        if packet.size and packet.stream is stream and not _found(frame) and decoded < MAX_DECODE_PACKETS:
            decoded += 1
            frame = _pick(frame, stream.codec_context.decode(packet))
    if not _found(frame) and decoded:
        frame = _pick(frame, stream.codec_context.decode(None))  # flush: short clips may still sit in the decoder
    return frame, (last - (first or 0.0)) if first is not None else 0.0


def _found(frame: av.VideoFrame | None) -> bool:
    return frame is not None and frame.time is not None and frame.time >= POSTER_FRAME_AT_S


def _pick(best: av.VideoFrame | None, frames: list[av.VideoFrame]) -> av.VideoFrame | None:
    """Keep the latest frame up to POSTER_FRAME_AT_S, or the first one at or past it."""
    for frame in frames:
        if _found(best):
            break
        best = frame
    return best


def _upright(frame: av.VideoFrame) -> Image.Image:
    """Phones store portrait video sideways with a display rotation; the thumbnail shows it the way players do."""
    image = frame.to_image()  # RGB
    rotation = round(frame.rotation or 0) % 360
    if rotation in (90, 180, 270):  # counter-clockwise, like PIL's rotate
        image = image.rotate(rotation, expand=True)
    return image


def _too_long(duration_s: float, max_seconds: int) -> str:
    shown = max(math.floor(duration_s + 0.5), max_seconds + 1)  # never "lasts 5 min; the limit is 5 min"
    return f"the video lasts {_clock(shown)}; the limit is {_clock(max_seconds)}"


def _clock(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"
