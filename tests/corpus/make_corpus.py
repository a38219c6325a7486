#!/usr/bin/env python3
"""Writes the bad-input corpus under tests/corpus/ (standard library only, deterministic).

  python3 tests/corpus/make_corpus.py

files/  recordings for `subtext batch` (each either transcribes or fails alone with its reason)
stdin/  streams for `subtext live`
expected.json  what each one must give: "done", or "failed" with words the reason must contain;
               for stdin, the exit code and words of the message.
"""
import json
import math
import random
import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILES, STDIN = HERE / "files", HERE / "stdin"


def fmt_chunk(tag, channels, rate, bits, extra=b""):
    block = channels * bits // 8
    body = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits) + extra
    return b"fmt " + struct.pack("<I", len(body)) + body


def wav(channels, rate, bits, data, tag=1, data_len=None, fmt_extra=b"", riff_len=None):
    fmt = fmt_chunk(tag, channels, rate, bits, fmt_extra)
    data_len = len(data) if data_len is None else data_len
    body = b"WAVE" + fmt + b"data" + struct.pack("<I", data_len) + data
    riff_len = len(body) if riff_len is None else riff_len
    return b"RIFF" + struct.pack("<I", riff_len) + body


def pcm16(frames):
    """frames: list of tuples (one value per channel, -1..1)."""
    return b"".join(struct.pack("<%dh" % len(f), *(max(-32768, min(32767, round(x * 32767))) for x in f)) for f in frames)


def tone(seconds, rate, freq=440.0, amp=0.3, channels=1):
    n = int(seconds * rate)
    return [tuple(amp * math.sin(2 * math.pi * freq * (c + 1) * i / rate) for c in range(channels)) for i in range(n)]


def main():
    rng = random.Random(20261130)
    FILES.mkdir(exist_ok=True)
    STDIN.mkdir(exist_ok=True)
    ok = pcm16(tone(1.0, 8000))
    files = {
        # Header problems.
        "truncated-header.wav": (wav(1, 8000, 16, ok)[:30], ("failed", "")),
        # An 18-byte fmt chunk (cbSize = 0) is common and fine; 84 stray bytes in a PCM
        # fmt chunk are refused by both decoders, with the reason.
        "fmt-chunk-18-bytes.wav": (wav(1, 8000, 16, ok, fmt_extra=b"\0\0"), ("done", "")),
        "overlong-fmt-chunk.wav": (wav(1, 8000, 16, ok, fmt_extra=b"\0" * 84), ("failed", "fmt")),
        "data-size-too-big.wav": (wav(1, 8000, 16, ok, data_len=10_000_000), ("done", "")),
        "riff-size-wrong.wav": (wav(1, 8000, 16, ok, riff_len=12), ("done", "")),
        "zero-rate.wav": (wav(1, 0, 16, ok), ("failed", "rate")),
        "zero-channels.wav": (wav(0, 8000, 16, ok), ("failed", "channel")),
        "one-byte.wav": (b"R", ("failed", "")),
        "random-bytes.wav": (bytes(rng.randrange(256) for _ in range(4096)), ("failed", "")),
        "header-only.wav": (wav(1, 8000, 16, b""), ("failed", "empty")),
        # Found by the audio_file fuzz target: bytes before a RIFF header make
        # symphonia scan ahead to it, and on its 0 Hz rate symphonia 0.5 panics
        # (TimeBase::new) instead of failing; decode turns that into the file's error.
        "junk-before-riff-zero-rate.wav": (b"\x55" * 64 + wav(1, 0, 16, ok), ("failed", "decoder")),
        # Unusual but valid audio.
        "six-channels.wav": (wav(6, 8000, 16, pcm16(tone(1.0, 8000, channels=6))), ("done", "")),
        "nan-inf-float.wav": (
            wav(1, 16000, 32, b"".join(
                struct.pack("<f", [math.nan, math.inf, -math.inf, 4.0][i % 4] if i % 101 == 0 else 0.3 * math.sin(i / 5))
                for i in range(16000)), tag=3),
            ("done", ""),
        ),
        "clipped.wav": (wav(1, 8000, 16, pcm16([(1.0 if (i // 20) % 2 else -1.0,) for i in range(8000)])), ("done", "")),
        "telephony-8k-ulaw.wav": (wav(1, 8000, 8, bytes(0xFF ^ (i % 64) for i in range(8000)), tag=7, fmt_extra=b"\0\0"), ("done", "")),
        "silence.wav": (wav(2, 16000, 16, b"\0" * 16000 * 4 * 3), ("done", "")),
    }
    expected = {"files": {}, "stdin": {}}
    for name, (data, (status, reason)) in files.items():
        (FILES / name).write_bytes(data)
        expected["files"][name] = {"status": status, "reason": reason}
    stereo = pcm16(tone(1.0, 16000, channels=2))
    streams = {
        # name: (bytes, live args, exit code, words of the message)
        "odd-byte-count.raw": (stereo + b"\x01", ["--channels", "2"], 1, "stray byte"),
        "stops-mid-frame.wav": (wav(2, 16000, 16, stereo)[:-3], [], 1, "stray byte"),
        "header-announces-more.wav": (wav(2, 16000, 16, stereo, data_len=10 * len(stereo)), [], 1, "announced"),
        "riff-big-endian.wav": (b"RIFX" + wav(1, 8000, 16, ok)[4:], [], 1, "RIFX"),
        "bad-block-align.wav": (wav(1, 16000, 16, ok)[:32] + struct.pack("<H", 3) + wav(1, 16000, 16, ok)[34:], [], 1, "block align"),
        "streaming-placeholder.wav": (wav(1, 16000, 16, pcm16(tone(1.0, 16000)), data_len=0xFFFFFFFF, riff_len=0xFFFFFFFF), [], 0, ""),
        "float-nan.raw": (b"".join(struct.pack("<f", math.nan) for _ in range(32000)), ["--format", "f32le", "--channels", "mono"], 0, ""),
    }
    for name, (data, args, code, words) in streams.items():
        (STDIN / name).write_bytes(data)
        expected["stdin"][name] = {"args": args, "exit": code, "message": words}
    (HERE / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")


if __name__ == "__main__":
    main()
