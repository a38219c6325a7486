#!/usr/bin/env python3
"""ASR benchmark: subtext (whisper.cpp base via whisper-rs) vs faster-whisper (CTranslate2, int8).

Same audio, same thread budget (default 2 threads, process pinned to 2 CPUs), side by side.
Reports wall time, real-time factor (RTF = wall / audio), throughput (audio / wall) and
word error rate per system and data set. See bench/README.md.

  .venv/bin/python bench/asr_bench.py                   # both systems, both sets
  .venv/bin/python bench/asr_bench.py --beam-size 5 1   # two faster-whisper rows
  .venv/bin/python bench/asr_bench.py --skip-subtext --sets nl
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
import unicodedata
import wave
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- WER

def normalise(text: str) -> list[str]:
    """Lowercase, NFKC, drop apostrophes inside words, turn all other punctuation and
    symbols into spaces, collapse whitespace. Numbers stay as written (no digit<->word
    mapping), diacritics are kept."""
    t = unicodedata.normalize("NFKC", text).lower()
    t = re.sub(r"(?<=\w)['\u2019](?=\w)", "", t)  # foto's -> fotos, don't -> dont
    t = "".join(" " if unicodedata.category(c)[0] in "PS" else c for c in t)
    return t.split()


def edit_ops(ref: list[str], hyp: list[str]) -> tuple[int, int, int]:
    """Word-level Levenshtein alignment; returns (substitutions, deletions, insertions)."""
    # dp[j] = (cost, S, D, I) for ref[:i] vs hyp[:j]
    prev = [(j, 0, 0, j) for j in range(len(hyp) + 1)]
    for i in range(1, len(ref) + 1):
        cur = [(i, 0, i, 0)]
        for j in range(1, len(hyp) + 1):
            if ref[i - 1] == hyp[j - 1]:
                best = prev[j - 1]
            else:
                s, d, n = prev[j - 1], prev[j], cur[j - 1]
                best = min(
                    (s[0] + 1, s[1] + 1, s[2], s[3]),
                    (d[0] + 1, d[1], d[2] + 1, d[3]),
                    (n[0] + 1, n[1], n[2], n[3] + 1),
                )
            cur.append(best)
        prev = cur
    _, s, d, n = prev[-1]
    return s, d, n


# --------------------------------------------------------------------------- data

@dataclass
class Item:
    name: str
    path: Path
    language: str
    reference: str
    audio_s: float


@dataclass
class DataSet:
    name: str
    description: str
    items: list[Item] = field(default_factory=list)

    @property
    def audio_s(self) -> float:
        return sum(i.audio_s for i in self.items)


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def sox(*args: str) -> None:
    if not shutil.which("sox"):
        sys.exit("asr_bench: sox not found (sudo apt-get install -y sox)")
    subprocess.run(["sox", "-R", "-D", "-V1", *args], check=True)


def find_evaldata(arg: str | None) -> Path:
    cands = [arg, os.environ.get("SUBTEXT_EVALDATA"), REPO / "shared" / "evaldata",
             REPO.parent / "shared" / "evaldata"]
    for c in cands:
        if c and Path(c).is_dir():
            return Path(c)
    sys.exit("asr_bench: evaldata not found; pass --evaldata DIR or set SUBTEXT_EVALDATA")


def build_nl(evaldata: Path, out: Path, n_clips: int, gap_s: float) -> DataSet:
    """First n_clips of nl_read_flemishguy (metadata_subset.csv order = the copied clips,
    id-sorted) joined into one 16 kHz mono WAV with gap_s of silence between clips."""
    src = evaldata / "nl_read_flemishguy"
    rows = []
    for line in (src / "metadata_subset.csv").read_text(encoding="utf-8").splitlines():
        if line.strip():
            cid, text = line.split("|", 1)
            rows.append((cid, text.strip()))
    rows = rows[:n_clips]
    wav = out / f"nl_flemishguy_{len(rows)}clips_16k.wav"
    if not wav.exists():
        sil = out / f"_silence_{gap_s}s_24k.wav"
        with wave.open(str(src / "wavs" / f"{rows[0][0]}.wav")) as w:
            rate = w.getframerate()
        sox("-n", "-r", str(rate), "-c", "1", "-b", "16", str(sil), "trim", "0", str(gap_s))
        inputs: list[str] = []
        for k, (cid, _) in enumerate(rows):
            if k:
                inputs.append(str(sil))
            inputs.append(str(src / "wavs" / f"{cid}.wav"))
        tmp = wav.with_suffix(".tmp.wav")
        sox(*inputs, "-b", "16", "-c", "1", str(tmp), "rate", "-v", "16000")
        tmp.rename(wav)
        sil.unlink()
    ref = " ".join(t for _, t in rows)
    ds = DataSet("nl", f"nl_read_flemishguy, first {len(rows)} clips joined, {gap_s} s gaps, 16 kHz mono")
    ds.items.append(Item(wav.stem, wav, "nl", ref, wav_seconds(wav)))
    return ds


def split_channel(src: Path, ch: int, dst: Path) -> None:
    if not dst.exists():
        tmp = dst.with_suffix(".tmp.wav")
        sox(str(src), "-b", "16", "-c", "1", str(tmp), "remix", str(ch + 1), "rate", "-v", "16000")
        tmp.rename(dst)


def build_en(evaldata: Path, out: Path) -> DataSet:
    """English stereo calls, one mono 16 kHz file per channel (both systems get the same
    mono input); reference = that channel's lines joined in order."""
    ds = DataSet("en", "samples/call-en-*.wav + en_stereo_fasterwhisper, per channel, 16 kHz mono")
    for refp in sorted((REPO / "samples").glob("call-en-*.ref.json")):
        ref = json.loads(refp.read_text(encoding="utf-8"))
        wavp = refp.parent / ref["file"]
        for ch in (0, 1):
            text = " ".join(t["text"] for t in ref["turns"] if t["channel"] == ch)
            if not text:
                continue
            dst = out / f"{wavp.stem}.ch{ch}.16k.wav"
            split_channel(wavp, ch, dst)
            ds.items.append(Item(dst.stem, dst, ref["language"], text, wav_seconds(dst)))
    if not ds.items:
        print("asr_bench: no samples/call-en-*.ref.json (run samples/make_samples.sh)", file=sys.stderr)
    src = evaldata / "en_stereo_fasterwhisper"
    refs = dict(re.findall(r'channel (\d)[^:]*:\s*"([^"]+)"', (src / "SOURCE.md").read_text(encoding="utf-8")))
    if len(refs) != 2:
        sys.exit("asr_bench: could not read the per-channel references from en_stereo_fasterwhisper/SOURCE.md")
    for ch in (0, 1):
        dst = out / f"stereo_diarization.ch{ch}.16k.wav"
        split_channel(src / "stereo_diarization.wav", ch, dst)
        ds.items.append(Item(dst.stem, dst, "en", refs[str(ch)], wav_seconds(dst)))
    return ds


# --------------------------------------------------------------------------- systems

def run_subtext(args, binary: str, item: Item) -> tuple[str, float, dict]:
    cmd = [binary, "transcribe", str(item.path), "--language", item.language,
           "--channels", "mono", "--jobs", str(args.threads), "--format", "json"]
    if not args.with_tags:
        cmd.append("--no-tags")  # speech to text only, as faster-whisper does
    if args.subtext_model:
        cmd += ["--model", args.subtext_model]
    cmd += shlex.split(args.subtext_args)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} exited {p.returncode}: {p.stderr.strip()[-2000:]}")
    try:
        doc = json.loads(p.stdout)
    except json.JSONDecodeError as e:
        raise RuntimeError(f"{shlex.join(cmd)} did not print a JSON transcript ({e}); "
                           f"stdout starts {p.stdout[:200]!r}, stderr ends {p.stderr[-300:]!r}") from None
    text = " ".join((t.get("text") or "").strip() for t in doc.get("turns", []))
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return text, wall, {"cpu_s": round(cpu, 3), "cmd": shlex.join(cmd)}


class FasterWhisper:
    def __init__(self, args, beam: int):
        self.args, self.beam = args, beam

    def load(self):
        from faster_whisper import WhisperModel
        return WhisperModel(self.args.fw_model, device="cpu", compute_type="int8",
                            cpu_threads=self.args.threads, num_workers=1)

    def __call__(self, item: Item) -> tuple[str, float, dict]:
        c0 = time.process_time()
        t0 = time.perf_counter()
        model = self.load()
        t1 = time.perf_counter()
        segments, _info = model.transcribe(str(item.path), language=item.language,
                                           beam_size=self.beam, vad_filter=self.args.fw_vad)
        text = " ".join(s.text.strip() for s in segments)  # generator: decoding happens here
        t2 = time.perf_counter()
        cpu = time.process_time() - c0
        del segments, model
        gc.collect()
        return text, t2 - t0, {"cpu_s": round(cpu, 3), "load_s": round(t1 - t0, 3),
                               "transcribe_s": round(t2 - t1, 3)}


# --------------------------------------------------------------------------- main

def run_all(systems, sets: list[DataSet], repeat: int) -> dict:
    """Every (system, file) `repeat` times, round-robin: each round runs every system on
    every file before the next round starts, so a machine that slows down or speeds up
    during the run affects all systems alike. Returns {(system, set): [(text, wall, extra)]
    per file}, or an error string for a failed (system, set)."""
    runs: dict = {(name, ds.name): [[] for _ in ds.items] for name, _ in systems for ds in sets}
    for _ in range(repeat):
        for name, fn in systems:
            for ds in sets:
                if isinstance(runs[(name, ds.name)], str):
                    continue
                try:
                    for i, item in enumerate(ds.items):
                        runs[(name, ds.name)][i].append(fn(item))
                except Exception as e:
                    print(f"asr_bench: {name} on {ds.name} failed: {e}", file=sys.stderr)
                    runs[(name, ds.name)] = str(e)
    return runs


def summarise(name: str, ds: DataSet, item_runs: list) -> dict:
    files, wall_total, cpu_total, errs, ref_words = [], 0.0, 0.0, [0, 0, 0], 0
    for item, item_run in zip(ds.items, item_runs):
        walls = [wall for _, wall, _ in item_run]
        cpus = [extra.get("cpu_s", 0.0) for _, _, extra in item_run]
        text, _, extra = item_run[-1]
        wall = statistics.median(walls)
        cpu_total += statistics.median(cpus)
        ref, hyp = normalise(item.reference), normalise(text)
        s, d, n = edit_ops(ref, hyp)
        errs = [errs[0] + s, errs[1] + d, errs[2] + n]
        ref_words += len(ref)
        wall_total += wall
        extra = {**extra, "cpu_s": round(statistics.median(cpus), 3)}
        files.append({"item": item.name, "audio_s": round(item.audio_s, 3), "wall_s": round(wall, 3),
                      "walls_s": [round(w, 3) for w in walls], "wer": round((s + d + n) / max(len(ref), 1), 4),
                      "sub": s, "del": d, "ins": n, "ref_words": len(ref),
                      "reference": item.reference, "hypothesis": text, **extra})
    return {"system": name, "set": ds.name, "set_description": ds.description,
            "files": len(ds.items), "audio_s": round(ds.audio_s, 3), "wall_s": round(wall_total, 3),
            "cpu_s": round(cpu_total, 3), "rtf": round(wall_total / ds.audio_s, 4),
            "x_realtime": round(ds.audio_s / wall_total, 2),
            **({"model_load_s": round(sum(f["load_s"] for f in files), 3)} if all("load_s" in f for f in files) else {}),
            "wer": round(sum(errs) / max(ref_words, 1), 4), "sub": errs[0], "del": errs[1], "ins": errs[2],
            "ref_words": ref_words, "per_file": files}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default="nl,en", help="comma list of nl,en (default: nl,en)")
    ap.add_argument("--threads", type=int, default=2, help="thread budget per system (default 2)")
    ap.add_argument("--cpus", default="auto",
                    help="pin the bench and its children to these CPUs, e.g. 0,1; 'auto' = first "
                         "--threads CPUs; 'none' = no pinning")
    ap.add_argument("--repeat", type=int, default=1,
                    help="rounds; each runs every system on every file (round-robin, so drift on a "
                         "shared machine hits all systems alike); the median wall time per file is used")
    ap.add_argument("--no-warmup", action="store_true",
                    help="skip the untimed warm-up run per system (warms the page cache)")
    ap.add_argument("--evaldata", help="shared evaldata dir (default: $SUBTEXT_EVALDATA or ../shared/evaldata)")
    ap.add_argument("--out", default=str(REPO / "bench" / "out"), help="work/output dir (gitignored)")
    ap.add_argument("--nl-clips", type=int, default=60)
    ap.add_argument("--nl-gap", type=float, default=0.5)
    # subtext
    ap.add_argument("--subtext-bin", nargs="+", default=[str(REPO / "target" / "release" / "subtext")],
                    help="one subtext row per binary (e.g. before and after a change); the first is "
                         "named 'subtext', the others by their path")
    ap.add_argument("--subtext-model", help="passed as --model PATH")
    ap.add_argument("--subtext-args", default="", help="extra arguments, one shell-quoted string")
    ap.add_argument("--with-tags", action="store_true",
                    help="let subtext tag the turns too (off: --no-tags, speech to text alone)")
    ap.add_argument("--skip-subtext", action="store_true")
    # faster-whisper
    ap.add_argument("--fw-model", default=str(REPO / "models" / "whisper-base-ct2"),
                    help="CTranslate2 model dir (default models/whisper-base-ct2)")
    ap.add_argument("--beam-size", type=int, nargs="+", default=[5],
                    help="faster-whisper beam size(s); one result row each (default 5)")
    ap.add_argument("--fw-vad", action="store_true", help="faster-whisper vad_filter=True (Silero VAD)")
    ap.add_argument("--skip-fw", action="store_true")
    args = ap.parse_args()

    if args.cpus != "none":
        avail = sorted(os.sched_getaffinity(0))
        cpus = avail[: args.threads] if args.cpus == "auto" else [int(c) for c in args.cpus.split(",")]
        os.sched_setaffinity(0, cpus)  # inherited by the subtext subprocess
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    evaldata = find_evaldata(args.evaldata)
    sets = []
    for s in args.sets.split(","):
        if s == "nl":
            sets.append(build_nl(evaldata, out, args.nl_clips, args.nl_gap))
        elif s == "en":
            sets.append(build_en(evaldata, out))
        else:
            sys.exit(f"asr_bench: unknown set {s!r}")

    systems = []
    for i, binary in enumerate([] if args.skip_subtext else args.subtext_bin):
        if Path(binary).is_file() and os.access(binary, os.X_OK):
            label = "subtext" if i == 0 else f"subtext ({binary})"
            systems.append((label, lambda it, binary=binary: run_subtext(args, binary, it)))
        else:
            print(f"asr_bench: {binary} not found, skipping it "
                  "(cargo build --release, or --subtext-bin PATH)", file=sys.stderr)
    if not args.skip_fw:
        if not (Path(args.fw_model) / "model.bin").is_file():
            sys.exit(f"asr_bench: no CTranslate2 model in {args.fw_model} "
                     "(run models/fetch_models.py, or --fw-model DIR)")
        for b in args.beam_size:
            label = f"faster-whisper int8 beam{b}" + (" vad" if args.fw_vad else "")
            systems.append((label, FasterWhisper(args, b)))

    load_before = os.getloadavg()
    if not args.no_warmup:
        shortest = min((it for ds in sets for it in ds.items), key=lambda it: it.audio_s)
        for name, fn in systems:
            try:
                fn(shortest)
            except Exception as e:  # reported again below
                print(f"asr_bench: warm-up of {name} failed: {e}", file=sys.stderr)
    runs = run_all(systems, sets, args.repeat)
    results = []
    for name, _ in systems:
        for ds in sets:
            item_runs = runs[(name, ds.name)]
            if isinstance(item_runs, str):
                results.append({"system": name, "set": ds.name, "error": item_runs})
            else:
                results.append(summarise(name, ds, item_runs))

    lines = ["| system | set | audio s | wall s | RTF | x realtime | WER | CPU s |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['system']} | {r['set']} | | | | | error | |")
        else:
            lines.append(f"| {r['system']} | {r['set']} | {r['audio_s']:.1f} | {r['wall_s']:.2f} | "
                         f"{r['rtf']:.3f} | {r['x_realtime']:.1f} | {100 * r['wer']:.1f}% | {r['cpu_s']:.1f} |")
    baseline = {}  # the first faster-whisper row per set (beam 5 unless --beam-size says otherwise)
    for r in results:
        if r["system"].startswith("faster-whisper") and "error" not in r:
            baseline.setdefault(r["set"], r)
    for r in results:
        base = baseline.get(r["set"])
        if r["system"].startswith("subtext") and "error" not in r and base:
            lines.append(f"\n{r['system']} on {r['set']}: {base['wall_s'] / r['wall_s']:.2f}x the throughput of "
                         f"{base['system']}, WER {100 * (r['wer'] - base['wer']):+.1f} points")
    print("\n".join(lines))
    la = os.getloadavg()
    print(f"\n{args.threads} threads per system, CPUs {sorted(os.sched_getaffinity(0))} of {os.cpu_count()}; "
          f"load average before/after: {load_before[0]:.1f}/{la[0]:.1f}"
          + ("  (busy machine: wall times are inflated, compare CPU s)" if load_before[0] > os.cpu_count() else ""))

    meta = {"threads": args.threads, "cpus": sorted(os.sched_getaffinity(0)), "repeat": args.repeat,
            "warmup": not args.no_warmup, "fw_model": args.fw_model, "fw_vad": args.fw_vad,
            "beam_sizes": args.beam_size, "subtext_bin": args.subtext_bin,
            "python": platform.python_version(), "machine": platform.machine(),
            "cpu": _cpu_name(), "nproc": os.cpu_count(),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    try:
        import ctranslate2, faster_whisper  # noqa: E401
        meta.update(faster_whisper=faster_whisper.__version__, ctranslate2=ctranslate2.__version__)
    except ImportError:
        pass
    (out / "asr_bench.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2,
                                                   ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\n(details: {out / 'asr_bench.json'})", file=sys.stderr)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
