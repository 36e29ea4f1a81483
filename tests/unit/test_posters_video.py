"""The video probe (PyAV) on small real videos generated here: what browsers play is accepted with its duration
and a thumbnail from ~1 s in; other codecs, long or huge videos and undecodable files are rejected with a reason."""

from __future__ import annotations

import io
import random
import struct

import pytest
from PIL import Image

from services.posters.adapters import video
from services.posters.adapters.inspection import Rejected
from services.posters.adapters.processing import process
from services.posters.domain.files import Kind
from services.posters.settings import Limits, from_env
from tests.fixtures import posters as fx
from tests.fixtures.posters import videos

LIMITS = Limits.from_config({**from_env(), "VIDEO_MAX_SECONDS": 5, "THUMBNAIL_WIDTH": 32})


def _probe(kind: Kind, data: bytes, max_seconds: int = 5, max_pixels: int = 1_000_000) -> video.VideoInfo:
    return video.probe(kind, data, max_seconds=max_seconds, max_pixels=max_pixels)


@pytest.mark.parametrize(
    ("kind", "make", "codecs"),
    [
        pytest.param(Kind.MP4, lambda: videos.mp4(), ("h264", None), id="H.264 MP4"),
        pytest.param(Kind.MP4, lambda: videos.mp4(audio="aac"), ("h264", "aac"), id="H.264+AAC MP4"),
        pytest.param(Kind.WEBM, lambda: videos.webm(audio="libopus"), ("vp9", "opus"), id="VP9+Opus WebM"),
        pytest.param(Kind.WEBM, lambda: videos.webm(codec="libvpx"), ("vp8", None), id="VP8 WebM"),
    ],
)
def test_browser_playable_video_is_probed(kind: Kind, make, codecs: tuple[str, str | None]) -> None:  # type: ignore[no-untyped-def]
    info = _probe(kind, make())
    assert (info.video_codec, info.audio_codec) == codecs
    assert (info.width, info.height, info.frame.size, info.frame.mode) == (64, 48, (64, 48), "RGB")
    assert info.duration_s == pytest.approx(2, abs=0.05)


def test_video_gets_a_png_thumbnail_and_its_duration_but_no_pages() -> None:
    result = process(Kind.MP4, videos.mp4(), LIMITS)
    assert (result.page_count, result.pages, result.keep_original) == (0, [], True)
    assert result.duration_s == pytest.approx(2, abs=0.05)
    thumb = Image.open(io.BytesIO(result.thumbnail or b""))
    assert (thumb.format, thumb.size) == ("PNG", (32, 24))


def test_poster_frame_is_taken_about_one_second_in() -> None:
    # Frame i of the generated clip has red = 12 * i: one second in (frame 10) is ~120, the first frame 0.
    frame = _probe(Kind.MP4, videos.mp4()).frame
    assert frame.getpixel((32, 24))[0] == pytest.approx(12 * videos.FPS, abs=15)
    short = _probe(Kind.WEBM, videos.webm(seconds=0.5)).frame  # shorter than 1 s: its last frame
    assert short.getpixel((32, 24))[0] == pytest.approx(12 * 4, abs=15)


def test_sideways_phone_video_gets_an_upright_thumbnail() -> None:
    data = bytearray(videos.mp4())
    at = data.find(b"tkhd") + 44  # the track header's display matrix: rotate by 90 degrees
    data[at : at + 36] = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)
    info = _probe(Kind.MP4, bytes(data))
    assert ((info.width, info.height), info.frame.size) == ((64, 48), (48, 64))


def _lying_header(data: bytes, claimed_fraction: float) -> bytes:
    """The movie and media headers claim a shorter length than the samples really cover."""
    out = bytearray(data)
    for box in (b"mvhd", b"mdhd"):
        at = out.find(box) + 20  # version/flags, created, modified, timescale, then duration (version 0)
        (duration,) = struct.unpack(">I", out[at : at + 4])
        out[at : at + 4] = struct.pack(">I", int(duration * claimed_fraction))
    return bytes(out)


def _garbled_media(data: bytes) -> bytes:
    out = bytearray(data)
    at = out.find(b"mdat")
    (size,) = struct.unpack(">I", out[at - 4 : at])
    noise = random.Random(7)
    out[at + 4 : at - 4 + size] = bytes(noise.getrandbits(8) for _ in range(size - 8))
    return bytes(out)


@pytest.mark.parametrize(
    ("kind", "make", "reason"),
    [
        pytest.param(
            Kind.MP4,
            videos.mpeg4_part2_mp4,
            "the video codec mpeg4 (MPEG-4 Part 2) does not play in browsers in MP4; export as H.264 MP4 or VP9 WebM",
            id="MPEG-4 Part 2 in MP4",
        ),
        pytest.param(Kind.MP4, lambda: videos.mp4(7), "the video lasts 7 s; the limit is 5 s", id="7 s, limit 5"),
        pytest.param(
            Kind.MP4,
            lambda: _lying_header(videos.mp4(7), 2 / 7),
            "the video lasts 7 s; the limit is 5 s",
            id="header claims 2 s, samples last 7 s",
        ),
        pytest.param(Kind.MP4, lambda: videos.mp4(audio="ac3"), "audio codec ac3", id="AC-3 sound in MP4"),
        pytest.param(
            Kind.MP4, lambda: videos.video("mp4", audio="aac", with_video=False), "no video track", id="sound only"
        ),
        pytest.param(Kind.MP4, fx.mp4, "no video track", id="boxes without tracks"),
        pytest.param(Kind.WEBM, videos.mp4, "cannot be read", id="MP4 bytes read as WebM"),
        pytest.param(Kind.MP4, lambda: _garbled_media(videos.mp4()), "cannot be decoded", id="garbled samples"),
        pytest.param(Kind.MP4, lambda: videos.mp4(width=96, height=64), "96x64 pixels", id="over the pixel cap"),
    ],
)
def test_unplayable_video_is_rejected_with_a_reason(kind: Kind, make, reason: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Rejected) as caught:
        _probe(kind, make(), max_pixels=64 * 48)
    assert reason in caught.value.reason


def test_structure_checks_still_run_before_ffmpeg() -> None:
    data = videos.mp4()
    with pytest.raises(Rejected, match="truncated"):
        process(Kind.MP4, data[:-50], LIMITS)
    with pytest.raises(Rejected, match="ZIP"):
        process(Kind.MP4, data + fx.zip_archive(), LIMITS)


@pytest.mark.parametrize(
    ("seconds", "limit", "reason"),
    [
        (432, 300, "the video lasts 7 min 12 s; the limit is 5 min"),
        (300.6, 300, "the video lasts 5 min 1 s; the limit is 5 min"),
        (95, 90, "the video lasts 1 min 35 s; the limit is 1 min 30 s"),
    ],
)
def test_duration_limit_in_words(seconds: float, limit: int, reason: str) -> None:
    assert video._too_long(seconds, limit) == reason


def test_half_a_second_of_grace_for_container_rounding() -> None:
    assert _probe(Kind.MP4, videos.mp4(5.3), max_seconds=5).duration_s == pytest.approx(5.3, abs=0.05)
    with pytest.raises(Rejected, match="lasts 6 s"):
        _probe(Kind.MP4, videos.mp4(5.7), max_seconds=5)


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIDEO_MAX_SECONDS", raising=False)
    monkeypatch.delenv("VIDEO_MAX_PIXELS", raising=False)
    assert (Limits.from_config(from_env()).max_video_seconds, Limits.from_config(from_env()).max_video_pixels) == (
        300,
        3840 * 2160,
    )
    monkeypatch.setenv("VIDEO_MAX_SECONDS", "90")
    monkeypatch.setenv("VIDEO_MAX_PIXELS", "2073600")
    limits = Limits.from_config(from_env())
    assert (limits.max_video_seconds, limits.max_video_pixels) == (90, 1920 * 1080)


def test_packet_budget_bounds_the_work(monkeypatch: pytest.MonkeyPatch) -> None:
    # The real budget (400 packets per allowed second, at least 20 000) shrunk so a 20-packet clip exceeds it.
    monkeypatch.setattr(video, "MIN_PACKET_BUDGET", 10)
    monkeypatch.setattr(video, "PACKETS_PER_SECOND", 1)
    with pytest.raises(Rejected, match="more than 10 packets"):
        _probe(Kind.MP4, videos.mp4())
