#!/usr/bin/env python3
"""Live latency benchmark: `subtext pace` plays audio at real-time speed into
`subtext live` (default base model, this machine's cores) and we time what comes out.

Per run it reports, for customer utterances, the time from the VAD closing the
utterance to its `final` line and to its `hint` line (p50, p95, max), measured two
ways: as `subtext live` reports it (from reading the audio that closed the
utterance) and from outside (line arrival minus the moment `pace` sent that audio).
It also reports the lag in the `stats` lines (at the end, and its maximum in the
first and the last quarter of the run: growing lag shows there), peak resident
memory (and first vs last quarter: flat memory shows there), and the word error
rate of the live finals next to `subtext transcribe` on the same samples.

  .venv/bin/python bench/live_bench.py                  # each sample, then 30 minutes
  .venv/bin/python bench/live_bench.py --long 0         # the samples only
  .venv/bin/python bench/live_bench.py --long 600 --speed 1

Writes bench/out/live_bench.json and prints a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from asr_bench import edit_ops, normalise  # noqa: E402

SAMPLES = ["call-nl-1.wav", "call-nl-2.wav", "call-en-1.wav", "call-en-2.wav"]


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    k = (len(v) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def run_live(binary: Path, files: list[Path], until: float | None, speed: float, extra: list[str]) -> dict:
    """One paced stream; returns the events with their arrival times and the timings."""
    live = subprocess.Popen(
        [str(binary), "-v", "live", "--stats-every", "5", *extra],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "SUBTEXT_MODELS": str(REPO / "models")},
    )
    ready = threading.Event()
    stderr_lines: list[str] = []

    def read_stderr():
        for raw in live.stderr:
            line = raw.decode("utf-8", "replace")
            stderr_lines.append(line)
            if "ready: reading audio" in line:
                ready.set()
        ready.set()

    threading.Thread(target=read_stderr, daemon=True).start()
    # Models load before live reads stdin; start the clock only once it listens.
    ready.wait(120)
    pace_cmd = [str(binary), "pace", "--speed", str(speed), *map(str, files)]
    if until:
        pace_cmd += ["--until", str(until)]
    t_pace = time.monotonic()
    pace = subprocess.Popen(pace_cmd, stdout=live.stdin)
    live.stdin.close()
    events = []
    for raw in live.stdout:
        events.append((time.monotonic() - t_pace, json.loads(raw)))
    live.wait()
    pace.wait()
    if live.returncode != 0:
        raise SystemExit(f"subtext live failed ({live.returncode}):\n{''.join(stderr_lines[-20:])}")
    return {"events": events, "speed": speed}


def summarise(name: str, run: dict) -> dict:
    events, speed = run["events"], run["speed"]
    finals = {e["utterance"]: (t, e) for t, e in events if e["type"] == "final"}
    hints = {e["utterance"]: (t, e) for t, e in events if e["type"] == "hint"}
    stats = [e for _, e in events if e["type"] == "stats"]
    periodic = [s for s in stats if not s["done"]]

    def latencies(table, speaker):
        inside, outside = [], []
        for u, (t, e) in table.items():
            f = finals[u][1]
            if speaker and f["turn"]["speaker"] != speaker:
                continue
            inside.append(e["latency"])
            # pace sends audio at stream time s at wall time s / speed after it starts.
            outside.append(t - f["vad_close"] / speed)
        return inside, outside

    out = {"name": name}
    for label, table in (("final", finals), ("hint", hints)):
        for who in ("customer", None):
            inside, outside = latencies(table, who)
            key = f"{label}_{who or 'all'}"
            out[key] = {
                "n": len(inside),
                "p50": percentile(inside, 0.5),
                "p95": percentile(inside, 0.95),
                "max": max(inside) if inside else None,
                "outside_p50": percentile(outside, 0.5),
                "outside_p95": percentile(outside, 0.95),
            }
    last = stats[-1] if stats else {}
    quarter = max(1, len(periodic) // 4)
    first_q, last_q = periodic[:quarter], periodic[-quarter:]
    out.update(
        audio_s=last.get("received"),
        finals=last.get("finals"),
        hints=last.get("hints"),
        partials=last.get("partials"),
        partials_skipped=last.get("partials_skipped"),
        decode_s=last.get("decode_seconds"),
        lag_end=periodic[-1]["lag"] if periodic else None,
        lag_max_first_quarter=max((s["lag"] for s in first_q), default=None),
        lag_max_last_quarter=max((s["lag"] for s in last_q), default=None),
        rss_peak_mb=max((s.get("rss_mb") or 0 for s in stats), default=None),
        rss_first_quarter_mb=max((s.get("rss_mb") or 0 for s in first_q), default=None),
        rss_last_quarter_mb=max((s.get("rss_mb") or 0 for s in last_q), default=None),
    )
    return out


def wer(ref_words: int, ops: tuple[int, int, int]) -> float:
    return sum(ops) / max(ref_words, 1)


def transcripts_wer(binary: Path, runs: dict[str, dict]) -> list[dict]:
    """WER per sample and speaker: live finals vs `subtext transcribe`, same reference."""
    rows = []
    for sample in SAMPLES:
        ref = json.loads((REPO / "samples" / sample.replace(".wav", ".ref.json")).read_text())
        batch = json.loads(subprocess.run(
            [str(binary), "transcribe", str(REPO / "samples" / sample), "--no-tags"],
            capture_output=True, check=True,
            env={**os.environ, "SUBTEXT_MODELS": str(REPO / "models")},
        ).stdout)
        live_finals = sorted(
            (e["turn"] for _, e in runs[sample]["events"] if e["type"] == "final"),
            key=lambda t: t["start"],
        )
        row = {"sample": sample}
        for system, turns in (("live", live_finals), ("batch", batch["turns"])):
            s = d = i = n = 0
            for speaker in ("agent", "customer"):
                r = normalise(" ".join(t["text"] for t in ref["turns"] if t["speaker"] == speaker))
                h = normalise(" ".join(t["text"] for t in turns if t["speaker"] == speaker))
                ops = edit_ops(r, h)
                s, d, i, n = s + ops[0], d + ops[1], i + ops[2], n + len(r)
            row[system] = round(wer(n, (s, d, i)), 3)
        rows.append(row)
    return rows


def fmt(x, digits=2):
    return "–" if x is None else f"{x:.{digits}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subtext-bin", type=Path, default=REPO / "target/release/subtext")
    ap.add_argument("--long", type=float, default=1800, help="seconds of the concatenated run (0: skip)")
    ap.add_argument("--speed", type=float, default=1.0)
    ap.add_argument("--live-args", default="", help="extra arguments for subtext live")
    args = ap.parse_args()
    extra = args.live_args.split()
    out_dir = REPO / "bench" / "out"
    out_dir.mkdir(parents=True, exist_ok=True)

    load = os.getloadavg()
    runs, rows = {}, []
    for sample in SAMPLES:
        print(f"playing {sample} ...", file=sys.stderr, flush=True)
        runs[sample] = run_live(args.subtext_bin, [REPO / "samples" / sample], None, args.speed, extra)
        rows.append(summarise(sample, runs[sample]))
    if args.long > 0:
        print(f"playing {args.long:.0f} s of the samples in a loop ...", file=sys.stderr, flush=True)
        files = [REPO / "samples" / s for s in SAMPLES]
        long_run = run_live(args.subtext_bin, files, args.long, args.speed, extra)
        rows.append(summarise(f"{args.long / 60:.0f} min loop", long_run))
    word_errors = transcripts_wer(args.subtext_bin, runs)

    print(f"\nLive latency, `subtext pace` (speed {args.speed}) into `subtext live`, "
          f"{os.cpu_count()} cores, load before {load[0]:.2f}. Seconds from VAD close.\n")
    print("| stream | audio s | customer finals | final p50 | final p95 | final max | hints | hint p50 | hint p95 "
          "| outside final p50/p95 | lag end | lag max 1st/last quarter | RSS peak MB (1st/last quarter) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        fc, hc = r["final_customer"], r["hint_customer"]
        print(f"| {r['name']} | {fmt(r['audio_s'], 1)} | {fc['n']} | {fmt(fc['p50'])} | {fmt(fc['p95'])} | "
              f"{fmt(fc['max'])} | {hc['n']} | {fmt(hc['p50'])} | {fmt(hc['p95'])} | "
              f"{fmt(fc['outside_p50'])}/{fmt(fc['outside_p95'])} | {fmt(r['lag_end'])} | "
              f"{fmt(r['lag_max_first_quarter'])}/{fmt(r['lag_max_last_quarter'])} | "
              f"{fmt(r['rss_peak_mb'], 0)} ({fmt(r['rss_first_quarter_mb'], 0)}/{fmt(r['rss_last_quarter_mb'], 0)}) |")
    print("\nWord error rate against the scripts (both speakers), live finals vs `subtext transcribe`:\n")
    print("| sample | live WER | batch WER |\n|---|---|---|")
    for w in word_errors:
        print(f"| {w['sample']} | {w['live']:.3f} | {w['batch']:.3f} |")
    result = {"rows": rows, "wer": word_errors, "load_before": load, "load_after": os.getloadavg(),
              "speed": args.speed, "cpus": os.cpu_count()}
    (out_dir / "live_bench.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
