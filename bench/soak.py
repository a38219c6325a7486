#!/usr/bin/env python3
"""Soak benchmark: `subtext batch` over many calls, then `subtext live` on a long
paced stream, watching throughput over time, resident memory and lag. Memory must
stay flat and throughput steady: a leak or a slowdown shows as a difference between
the first and the last quarter of a run.

Batch: N calls made from the four samples (each a copy with its own gain, so every
call is a distinct recording), tagged in one run. Resident memory is sampled every
second from /proc; a call's finish time is its output's mtime. Then the same batch is
run again, which must skip every call (resume at scale).

Silence: one call of `--silence-hours` of digital silence (8 kHz telephony WAV),
which must come out as a transcript without turns, in bounded time and memory.

Live: the samples looped by `subtext pace --until SECONDS` into `subtext live`
(`live_bench.py`'s runner), with lag and memory from the `stats` lines.

  .venv/bin/python bench/soak.py                          # 200 calls, then 2 h live in real time
  .venv/bin/python bench/soak.py --calls 50 --live-seconds 600
  .venv/bin/python bench/soak.py --live-speed 4           # 2 h of audio in 30 min

Writes bench/out/soak.json and prints Markdown tables.
"""
from __future__ import annotations

import argparse
import array
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from live_bench import SAMPLES, run_live, summarise  # noqa: E402


def make_calls(folder: Path, n: int) -> float:
    """Writes n distinct calls; returns their total duration in seconds."""
    folder.mkdir(parents=True, exist_ok=True)
    total = 0.0
    for i in range(n):
        src = REPO / "samples" / SAMPLES[i % len(SAMPLES)]
        with wave.open(str(src)) as r:
            params = r.getparams()
            frames = array.array("h", r.readframes(r.getnframes()))
        gain = 1.0 - 0.002 * (i // len(SAMPLES) % 100)
        scaled = array.array("h", (int(s * gain) for s in frames))
        with wave.open(str(folder / f"call-{i:04d}.wav"), "wb") as w:
            w.setparams(params)
            w.writeframes(scaled.tobytes())
        total += params.nframes / params.framerate
    return total


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def run_batch(binary: Path, calls: Path, out: Path) -> dict:
    """One batch run, sampling its memory every second."""
    t0 = time.time()
    proc = subprocess.Popen(
        [str(binary), "batch", str(calls), "--out", str(out), "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, "SUBTEXT_MODELS": str(REPO / "models")},
    )
    samples: list[tuple[float, float]] = []
    stderr: list[bytes] = []
    threading.Thread(target=lambda: stderr.extend(proc.stderr), daemon=True).start()
    while proc.poll() is None:
        mb = rss_mb(proc.pid)
        if mb is not None:
            samples.append((time.time() - t0, mb))
        time.sleep(1.0)
    wall = time.time() - t0
    if proc.returncode != 0:
        raise SystemExit(f"batch failed ({proc.returncode}):\n{b''.join(stderr).decode()[-2000:]}")
    return {"wall": wall, "t0": t0, "rss": samples}


def quarters(values: list, key) -> list[list]:
    """values split into four by key (time), in time order."""
    if not values:
        return [[], [], [], []]
    end = max(key(v) for v in values)
    out: list[list] = [[], [], [], []]
    for v in values:
        out[min(3, int(4 * key(v) / end))].append(v)
    return out


def batch_soak(binary: Path, n: int, work: Path) -> dict:
    calls, out = work / "calls", work / "tagged"
    shutil.rmtree(work, ignore_errors=True)
    print(f"making {n} calls ...", file=sys.stderr, flush=True)
    audio_total = make_calls(calls, n)
    print(f"batch over {n} calls ({audio_total / 3600:.2f} h of audio) ...", file=sys.stderr, flush=True)
    run = run_batch(binary, calls, out)
    finished = []
    for f in out.glob("*.subtext.json"):
        call = json.loads(f.read_text())["call"]
        finished.append((f.stat().st_mtime - run["t0"], call["duration"]))
    finished.sort()
    per_quarter = []
    run_quarters = quarters(finished, key=lambda x: x[0])
    rss_quarters = quarters(run["rss"], key=lambda x: x[0])
    span = run["wall"] / 4
    for q in range(4):
        audio = sum(d for _, d in run_quarters[q])
        per_quarter.append({
            "calls": len(run_quarters[q]),
            "audio_s": round(audio, 1),
            "speed_x_realtime": round(audio / span, 2),
            "rss_max_mb": round(max((m for _, m in rss_quarters[q]), default=0), 1),
        })
    print("batch again (every call must be skipped) ...", file=sys.stderr, flush=True)
    again = run_batch(binary, calls, out)
    summary = json.loads((out / "batch-summary.json").read_text())
    return {
        "calls": n,
        "done": len(finished),
        "audio_s": round(audio_total, 1),
        "wall_s": round(run["wall"], 1),
        "speed_x_realtime": round(audio_total / run["wall"], 2),
        "rss_peak_mb": round(max(m for _, m in run["rss"]), 1),
        "quarters": per_quarter,
        "resume_wall_s": round(again["wall"], 1),
        "resume_summary": {k: summary.get(k) for k in ("done", "skipped", "failed") if k in summary},
    }


def silence_soak(binary: Path, hours: float, work: Path) -> dict:
    folder = work / "silence"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    path = folder / f"silence-{hours:g}h.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        minute = bytes(2 * 8000 * 60)
        for _ in range(int(hours * 60)):
            w.writeframes(minute)
    print(f"batch over {hours:g} h of silence ...", file=sys.stderr, flush=True)
    run = run_batch(binary, folder, folder / "tagged")
    out = json.loads((folder / "tagged" / f"{path.stem}.subtext.json").read_text())
    size = path.stat().st_size
    path.unlink()
    return {
        "hours": hours,
        "file_mb": round(size / 1e6, 1),
        "wall_s": round(run["wall"], 1),
        "rss_peak_mb": round(max(m for _, m in run["rss"]), 1),
        "turns": len(out["turns"]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subtext-bin", type=Path, default=REPO / "target/release/subtext")
    ap.add_argument("--calls", type=int, default=200, help="calls in the batch soak (0: skip)")
    ap.add_argument("--silence-hours", type=float, default=3, help="hours of silence in one call (0: skip)")
    ap.add_argument("--live-seconds", type=float, default=7200, help="seconds of live audio (0: skip)")
    ap.add_argument("--live-speed", type=float, default=1.0, help="pace speed for the live soak")
    args = ap.parse_args()
    out_dir = REPO / "bench" / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    # A copy of the binary: a rebuild during the soak must not change what runs.
    binary = out_dir / "soak-subtext"
    shutil.copy2(args.subtext_bin, binary)
    load = os.getloadavg()
    result: dict = {"cores": os.cpu_count(), "load_before": load[0]}

    if args.calls > 0:
        b = batch_soak(binary, args.calls, out_dir / "soak")
        result["batch"] = b
        print(f"\nBatch soak: {b['done']}/{b['calls']} calls, {b['audio_s'] / 3600:.2f} h of audio in "
              f"{b['wall_s'] / 60:.1f} min ({b['speed_x_realtime']}× real time), peak RSS {b['rss_peak_mb']} MB, "
              f"{os.cpu_count()} cores, load before {load[0]:.2f}.\n")
        print("| quarter of the run | calls done | audio done | × real time | RSS max MB |")
        print("|---|---|---|---|---|")
        for i, q in enumerate(b["quarters"], 1):
            print(f"| {i} | {q['calls']} | {q['audio_s'] / 60:.1f} min | {q['speed_x_realtime']} | {q['rss_max_mb']} |")
        print(f"\nRerun: {b['resume_wall_s']} s, {b['resume_summary']}")

    if args.silence_hours > 0:
        s = silence_soak(binary, args.silence_hours, out_dir / "soak")
        result["silence"] = s
        print(f"\nSilence: {s['hours']:g} h in one call ({s['file_mb']} MB WAV): {s['turns']} turns, "
              f"{s['wall_s']} s, peak RSS {s['rss_peak_mb']} MB.")

    if args.live_seconds > 0:
        print(f"live: {args.live_seconds:.0f} s of the samples at speed {args.live_speed} ...", file=sys.stderr, flush=True)
        files = [REPO / "samples" / s for s in SAMPLES]
        run = run_live(binary, files, args.live_seconds, args.live_speed, [])
        row = summarise(f"{args.live_seconds / 60:.0f} min loop", run)
        stats = [(t, e) for t, e in run["events"] if e["type"] == "stats" and not e["done"]]
        qs = quarters(stats, key=lambda x: x[0])
        row["quarters"] = [{
            "lag_max": max((e["lag"] for _, e in q), default=None),
            "rss_max_mb": max((e.get("rss_mb") or 0 for _, e in q), default=None),
            "finals": (q[-1][1]["finals"] - q[0][1]["finals"]) if q else 0,
        } for q in qs]
        result["live"] = row
        print(f"\nLive soak: {row['audio_s']:.0f} s of audio at speed {args.live_speed}, "
              f"{row['finals']} finals, customer final p50/p95 {row['final_customer']['p50']:.2f}/"
              f"{row['final_customer']['p95']:.2f} s, lag at end {row['lag_end']:.2f} s, "
              f"peak RSS {row['rss_peak_mb']:.0f} MB.\n")
        print("| quarter of the stream | finals | lag max s | RSS max MB |")
        print("|---|---|---|---|")
        for i, q in enumerate(row["quarters"], 1):
            print(f"| {i} | {q['finals']} | {q['lag_max']:.2f} | {q['rss_max_mb']:.0f} |")

    (out_dir / "soak.json").write_text(json.dumps(result, indent=1))
    binary.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
