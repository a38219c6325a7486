#!/usr/bin/env python3
"""Convert a CTranslate2 Whisper model directory to a whisper.cpp ggml file.

Input: a CTranslate2 Whisper directory (``model.bin``, ``config.json``,
``vocabulary.txt``), e.g. the fp16 ``base`` model shipped on PyPI. Output: the
legacy ggml file that whisper.cpp's ``whisper_model_load`` reads, as ``f16``
or ``q8_0``. Only numpy is needed (no torch, no ctranslate2) so the model can
be rebuilt from PyPI packages alone.

CTranslate2 ``model.bin`` (little-endian, see CTranslate2's model_spec.py):
    u32 version (6), str spec name, u32 revision, u32 n_variables,
    n_variables x (str name, u8 rank, u32 dims[rank], u8 dtype, u32 nbytes, data),
    u32 n_aliases, n_aliases x (str alias, str target);
    str = u16 length (incl. NUL) + utf-8 bytes + NUL;
    dtype: 0 f32, 1 i8, 2 i16, 3 i32, 4 f16, 5 bf16.

whisper.cpp ggml file (see convert-pt-to-ggml.py and whisper_model_load):
    i32 magic 0x67676d6c, 11 x i32 hparams (n_vocab, n_audio_ctx,
    n_audio_state, n_audio_head, n_audio_layer, n_text_ctx, n_text_state,
    n_text_head, n_text_layer, n_mels, ftype);
    i32 n_mel, i32 n_fft, f32 mel filters [n_mel, n_fft];
    i32 n_tokens, n_tokens x (u32 len, raw bytes);
    tensors: i32 n_dims, i32 name_len, i32 type, i32 ne[n_dims] (reversed
    numpy shape), name, data (row-major). No alignment padding.

Mapping (CTranslate2 follows Hugging Face, whisper.cpp follows OpenAI):
  * ``self_attention/linear_0`` fuses [query; key; value] by rows -> split in 3;
    Whisper's key projection has no bias (CT2 stores zeros) -> dropped.
  * Cross attention: ``attention/linear_0`` is the query, ``linear_1`` fuses
    [key; value]; ``linear_2`` / self ``linear_1`` are the output projections.
  * ``ffn/linear_0|1`` -> ``mlp.0|2``; layer norms gamma/beta -> weight/bias.
  * The output projection is tied to ``decoder/embeddings/weight`` (CT2 only
    stores an alias), so only ``decoder.token_embedding.weight`` is written.
  * Conv biases become (d, 1) because whisper.cpp adds them as 2-D tensors.
  * whisper.cpp needs the mel filter bank in the file; CT2 does not ship it, so
    it is recomputed (librosa-style Slaney mel, Slaney norm, sr 16 kHz,
    n_fft 400, 80 mels; what OpenAI's mel_filters.npz contains).
  * Vocabulary: the first 50257 (multilingual) or 50256 (English) entries of
    vocabulary.txt are GPT-2 byte-level BPE strings; they are mapped back to
    raw bytes. Special/timestamp tokens are not stored: whisper.cpp derives
    them from n_vocab.

Tensor types follow what whisper.cpp's loader expects (it rejects others) and
what its quantize tool produces: 1-D tensors, conv biases and positional
embeddings are f32; conv kernels are f16; other 2-D weights (incl. the token
embedding) are f16 or q8_0. The q8_0 header ftype is 7 + 1000 * QNT_VERSION(2),
as written by whisper.cpp's quantize example.
"""

from __future__ import annotations

import argparse
import struct
import sys
import time
from pathlib import Path

import numpy as np

GGML_MAGIC = 0x67676D6C
GGML_QNT_VERSION = 2
GGML_QNT_VERSION_FACTOR = 1000
GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_Q8_0 = 0, 1, 8
FTYPES = {"f16": 1, "q8_0": 7}  # ggml_ftype: MOSTLY_F16, MOSTLY_Q8_0
QK8_0 = 32

CT2_BINARY_VERSION = 6
CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
CT2_GELU = 3

N_MELS, N_FFT, SAMPLE_RATE = 80, 400, 16000
N_BASE_TOKENS_MULTILINGUAL, N_BASE_TOKENS_EN = 50257, 50256

# Tensors the whisper quantize tool keeps unquantized even though they are 2-D.
UNQUANTIZED = {
    "encoder.conv1.bias",
    "encoder.conv2.bias",
    "encoder.positional_embedding",
    "decoder.positional_embedding",
}


class ConversionError(Exception):
    """Raised for any unexpected input."""


# ---------------------------------------------------------------------------
# Reading the CTranslate2 model
# ---------------------------------------------------------------------------


def read_ct2_model(path: Path) -> dict[str, np.ndarray]:
    """Parse CTranslate2's model.bin into {name: array}; aliases resolved."""
    try:
        buf = memoryview(path.read_bytes())
    except OSError as e:
        raise ConversionError(f"cannot read {path}: {e}") from e
    pos = 0

    def take_many(fmt: str) -> tuple:
        nonlocal pos
        size = struct.calcsize(fmt)
        if pos + size > len(buf):
            raise ConversionError(f"{path}: truncated at byte {pos}")
        val = struct.unpack_from(fmt, buf, pos)
        pos += size
        return val

    def take(fmt: str) -> int:
        return take_many(fmt)[0]

    def take_str() -> str:
        nonlocal pos
        n = take("<H")
        raw = bytes(buf[pos : pos + n])
        pos += n
        if len(raw) != n or not raw.endswith(b"\0"):
            raise ConversionError(f"{path}: bad string at byte {pos - n}")
        return raw[:-1].decode("utf-8")

    version = take("<I")
    if version != CT2_BINARY_VERSION:
        raise ConversionError(f"{path}: unsupported CT2 binary version {version}")
    spec = take_str()
    if spec != "WhisperSpec":
        raise ConversionError(f"{path}: spec is {spec!r}, expected 'WhisperSpec'")
    take("<I")  # spec revision
    variables: dict[str, np.ndarray] = {}
    for _ in range(take("<I")):
        name = take_str()
        rank = take("<B")
        shape = take_many(f"<{rank}I")
        dtype_id = take("<B")
        nbytes = take("<I")
        if dtype_id not in CT2_DTYPES:
            raise ConversionError(f"{path}: variable {name} has unsupported dtype {dtype_id}")
        dtype = np.dtype(CT2_DTYPES[dtype_id]).newbyteorder("<")
        if nbytes != dtype.itemsize * int(np.prod(shape, dtype=np.int64)) or pos + nbytes > len(buf):
            raise ConversionError(f"{path}: variable {name} has inconsistent size")
        variables[name] = np.frombuffer(buf, dtype, count=nbytes // dtype.itemsize, offset=pos).reshape(shape)
        pos += nbytes
    for _ in range(take("<I")):
        alias, target = take_str(), take_str()
        if target not in variables:
            raise ConversionError(f"{path}: alias {alias} -> unknown variable {target}")
        variables[alias] = variables[target]
    if pos != len(buf):
        raise ConversionError(f"{path}: {len(buf) - pos} trailing bytes")
    return variables


def get(variables: dict[str, np.ndarray], name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Fetch a variable as float32, checking that it exists with the expected shape."""
    if name not in variables:
        raise ConversionError(f"missing variable {name}")
    value = variables[name]
    if value.shape != shape:
        raise ConversionError(f"variable {name} has shape {value.shape}, expected {shape}")
    if value.dtype.kind != "f":
        raise ConversionError(f"variable {name} has non-float dtype {value.dtype}")
    return value.astype(np.float32)


def scalar(variables: dict[str, np.ndarray], name: str) -> int:
    if name not in variables or variables[name].shape != ():
        raise ConversionError(f"missing scalar variable {name}")
    return int(variables[name])


# ---------------------------------------------------------------------------
# Hyperparameters
# ---------------------------------------------------------------------------


def derive_hparams(variables: dict[str, np.ndarray], ftype: int) -> dict[str, int]:
    """Derive whisper.cpp hparams from variable shapes; check the architecture flags."""
    for name, expected in (
        ("decoder/activation", CT2_GELU),
        ("decoder/pre_norm", 1),
        ("decoder/scale_embeddings", 0),
        ("decoder/alibi", 0),
    ):
        if name in variables and scalar(variables, name) != expected:
            raise ConversionError(f"{name} = {scalar(variables, name)}, expected {expected} for Whisper")

    def count_layers(prefix: str) -> int:
        n = 0
        while f"{prefix}/layer_{n}/ffn/linear_0/weight" in variables:
            n += 1
        if n == 0:
            raise ConversionError(f"no {prefix} layers found")
        return n

    for name in ("encoder/conv1/weight", "encoder/position_encodings/encodings",
                 "decoder/embeddings/weight", "decoder/position_encodings/encodings"):
        if name not in variables or variables[name].ndim != (3 if "conv" in name else 2):
            raise ConversionError(f"missing or malformed variable {name}")
    n_audio_state, n_mels, _ = variables["encoder/conv1/weight"].shape
    n_vocab, n_text_state = variables["decoder/embeddings/weight"].shape
    if n_mels != N_MELS:
        raise ConversionError(f"n_mels = {n_mels}; only {N_MELS}-mel models are supported")
    if n_audio_state != n_text_state:
        raise ConversionError("encoder and decoder widths differ")
    return {
        "n_vocab": n_vocab,
        "n_audio_ctx": variables["encoder/position_encodings/encodings"].shape[0],
        "n_audio_state": n_audio_state,
        "n_audio_head": scalar(variables, "encoder/num_heads"),
        "n_audio_layer": count_layers("encoder"),
        "n_text_ctx": variables["decoder/position_encodings/encodings"].shape[0],
        "n_text_state": n_text_state,
        "n_text_head": scalar(variables, "decoder/num_heads"),
        "n_text_layer": count_layers("decoder"),
        "n_mels": n_mels,
        "ftype": ftype,
    }


# ---------------------------------------------------------------------------
# Mel filters and vocabulary
# ---------------------------------------------------------------------------


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney mel scale: linear below 1 kHz, logarithmic above."""
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    hz = np.asarray(hz, dtype=np.float64)
    return np.where(hz >= min_log_hz, min_log_mel + np.log(np.maximum(hz, min_log_hz) / min_log_hz) / logstep, hz / f_sp)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    mel = np.asarray(mel, dtype=np.float64)
    return np.where(mel >= min_log_mel, min_log_hz * np.exp(logstep * (mel - min_log_mel)), f_sp * mel)


def mel_filters(n_mels: int = N_MELS, n_fft: int = N_FFT, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Triangular Slaney-normalised mel filter bank, shape (n_mels, 1 + n_fft // 2), float32."""
    fft_freqs = np.fft.rfftfreq(n_fft, d=1.0 / sr)
    mel_freqs = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2.0), n_mels + 2))
    ramps = mel_freqs[:, None] - fft_freqs[None, :]
    fdiff = np.diff(mel_freqs)[:, None]
    lower = -ramps[:-2] / fdiff[:-1]
    upper = ramps[2:] / fdiff[1:]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_freqs[2:] - mel_freqs[:-2]))[:, None]
    return weights.astype(np.float32)


def byte_decoder() -> dict[str, int]:
    """Inverse of GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100.."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[chr(b)] = b
        else:
            chars[chr(256 + extra)] = b
            extra += 1
    return chars


def read_vocab(path: Path, n_vocab: int) -> list[bytes]:
    """Base (non-special) BPE tokens from vocabulary.txt, as raw bytes."""
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except OSError as e:
        raise ConversionError(f"cannot read {path}: {e}") from e
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) != n_vocab:
        raise ConversionError(f"{path}: {len(lines)} tokens, model has {n_vocab}")
    n_base = N_BASE_TOKENS_MULTILINGUAL if n_vocab >= 51865 else N_BASE_TOKENS_EN
    if lines[n_base] != "<|endoftext|>":
        raise ConversionError(f"{path}: token {n_base} is {lines[n_base]!r}, expected '<|endoftext|>'")
    decoder = byte_decoder()
    tokens = []
    for i, tok in enumerate(lines[:n_base]):
        try:
            tokens.append(bytes(decoder[c] for c in tok))
        except KeyError as e:
            raise ConversionError(f"{path}: token {i} {tok!r} is not byte-level BPE") from e
    return tokens


# ---------------------------------------------------------------------------
# Tensor mapping
# ---------------------------------------------------------------------------


def map_tensors(v: dict[str, np.ndarray], hp: dict[str, int]) -> list[tuple[str, np.ndarray]]:
    """Rename/split CT2 variables into whisper.cpp tensors (float32, numpy shapes)."""
    d, n_mels = hp["n_audio_state"], hp["n_mels"]
    ff = 4 * d
    out: list[tuple[str, np.ndarray]] = []

    def norm(dst: str, src: str) -> None:
        out.append((f"{dst}.weight", get(v, f"{src}/gamma", (d,))))
        out.append((f"{dst}.bias", get(v, f"{src}/beta", (d,))))

    def linear(dst: str, src: str, rows: int, cols: int) -> None:
        out.append((f"{dst}.weight", get(v, f"{src}/weight", (rows, cols))))
        out.append((f"{dst}.bias", get(v, f"{src}/bias", (rows,))))

    def fused(dst: str, src: str, parts: list[str]) -> None:
        """Split a row-fused projection; the key projection has no bias in Whisper."""
        w = get(v, f"{src}/weight", (len(parts) * d, d))
        b = get(v, f"{src}/bias", (len(parts) * d,))
        for i, part in enumerate(parts):
            out.append((f"{dst}.{part}.weight", w[i * d : (i + 1) * d]))
            if part != "key":
                out.append((f"{dst}.{part}.bias", b[i * d : (i + 1) * d]))

    def mlp(dst: str, src: str) -> None:
        linear(f"{dst}.mlp.0", f"{src}/linear_0", ff, d)
        linear(f"{dst}.mlp.2", f"{src}/linear_1", d, ff)
        norm(f"{dst}.mlp_ln", f"{src}/layer_norm")

    # encoder
    out.append(("encoder.positional_embedding", get(v, "encoder/position_encodings/encodings", (hp["n_audio_ctx"], d))))
    out.append(("encoder.conv1.weight", get(v, "encoder/conv1/weight", (d, n_mels, 3))))
    out.append(("encoder.conv1.bias", get(v, "encoder/conv1/bias", (d,)).reshape(d, 1)))
    out.append(("encoder.conv2.weight", get(v, "encoder/conv2/weight", (d, d, 3))))
    out.append(("encoder.conv2.bias", get(v, "encoder/conv2/bias", (d,)).reshape(d, 1)))
    for i in range(hp["n_audio_layer"]):
        dst, src = f"encoder.blocks.{i}", f"encoder/layer_{i}"
        fused(f"{dst}.attn", f"{src}/self_attention/linear_0", ["query", "key", "value"])
        linear(f"{dst}.attn.out", f"{src}/self_attention/linear_1", d, d)
        norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        mlp(dst, f"{src}/ffn")
    norm("encoder.ln_post", "encoder/layer_norm")

    # decoder
    out.append(("decoder.positional_embedding", get(v, "decoder/position_encodings/encodings", (hp["n_text_ctx"], d))))
    token_embedding = get(v, "decoder/embeddings/weight", (hp["n_vocab"], d))
    if "decoder/projection/weight" in v and not np.array_equal(v["decoder/projection/weight"], v["decoder/embeddings/weight"]):
        raise ConversionError("decoder output projection is not tied to the token embedding")
    out.append(("decoder.token_embedding.weight", token_embedding))
    for i in range(hp["n_text_layer"]):
        dst, src = f"decoder.blocks.{i}", f"decoder/layer_{i}"
        fused(f"{dst}.attn", f"{src}/self_attention/linear_0", ["query", "key", "value"])
        linear(f"{dst}.attn.out", f"{src}/self_attention/linear_1", d, d)
        norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        linear(f"{dst}.cross_attn.query", f"{src}/attention/linear_0", d, d)
        fused(f"{dst}.cross_attn", f"{src}/attention/linear_1", ["key", "value"])
        linear(f"{dst}.cross_attn.out", f"{src}/attention/linear_2", d, d)
        norm(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
        mlp(dst, f"{src}/ffn")
    norm("decoder.ln", "decoder/layer_norm")
    return out


# ---------------------------------------------------------------------------
# Encoding tensors
# ---------------------------------------------------------------------------


def quantize_q8_0(x: np.ndarray) -> bytes:
    """ggml block_q8_0 (fp16 scale d = amax/127, then 32 int8), same rounding as quantize_row_q8_0_ref."""
    if x.shape[-1] % QK8_0:
        raise ConversionError(f"row length {x.shape[-1]} is not a multiple of {QK8_0}")
    blocks = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, QK8_0)
    packed = np.empty(len(blocks), dtype=[("d", "<f2"), ("qs", "i1", (QK8_0,))])
    for start in range(0, len(blocks), 1 << 16):  # bounded temporaries for large tensors
        chunk = blocks[start : start + (1 << 16)]
        d = np.abs(chunk).max(axis=1) / np.float32(127)
        inv = np.divide(np.float32(1), d, out=np.zeros_like(d), where=d != 0)
        scaled = (chunk * inv[:, None]).astype(np.float64)  # f32 product, then exact rounding in f64
        packed["d"][start : start + len(chunk)] = d.astype(np.float16)
        packed["qs"][start : start + len(chunk)] = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)  # roundf
    return packed.tobytes()


def tensor_type(name: str, data: np.ndarray, weight_type: str) -> int:
    """ggml type whisper.cpp's loader expects for this tensor."""
    if data.ndim == 1 or name in UNQUANTIZED:
        return GGML_TYPE_F32
    if data.ndim == 3 or weight_type == "f16":  # conv kernels stay f16 in quantized files
        return GGML_TYPE_F16
    return GGML_TYPE_Q8_0


def encode_tensor(name: str, data: np.ndarray, weight_type: str) -> bytes:
    """One ggml tensor record: header, reversed dims, name, data."""
    ttype = tensor_type(name, data, weight_type)
    if ttype == GGML_TYPE_F32:
        payload = np.ascontiguousarray(data, dtype="<f4").tobytes()
    elif ttype == GGML_TYPE_F16:
        payload = np.ascontiguousarray(data, dtype="<f2").tobytes()
    else:
        payload = quantize_q8_0(data)
    raw_name = name.encode("utf-8")
    header = struct.pack(f"<3i{data.ndim}i", data.ndim, len(raw_name), ttype, *reversed(data.shape))
    return header + raw_name + payload


# ---------------------------------------------------------------------------
# Writing the ggml file
# ---------------------------------------------------------------------------


def write_ggml(out_path: Path, hp: dict[str, int], filters: np.ndarray, tokens: list[bytes],
               tensors: list[tuple[str, np.ndarray]], weight_type: str) -> None:
    """Write header, mel filters, vocab and tensors; atomic via a temporary file."""
    tmp = out_path.with_name(out_path.name + ".tmp")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with open(tmp, "wb") as f:
        f.write(struct.pack("<I", GGML_MAGIC))
        f.write(struct.pack("<11i", *hp.values()))
        f.write(struct.pack("<2i", *filters.shape))
        f.write(np.ascontiguousarray(filters, dtype="<f4").tobytes())
        f.write(struct.pack("<i", len(tokens)))
        for tok in tokens:
            f.write(struct.pack("<I", len(tok)) + tok)
        for name, data in tensors:
            f.write(encode_tensor(name, data, weight_type))
    tmp.replace(out_path)


def convert(ct2_dir: Path, out_path: Path, weight_type: str) -> None:
    """Convert one CTranslate2 Whisper directory to one ggml file."""
    for required in ("model.bin", "vocabulary.txt"):
        if not (ct2_dir / required).is_file():
            raise ConversionError(f"{ct2_dir} has no {required}")
    variables = read_ct2_model(ct2_dir / "model.bin")
    ftype = FTYPES[weight_type]
    if weight_type != "f16":
        ftype += GGML_QNT_VERSION * GGML_QNT_VERSION_FACTOR
    hp = derive_hparams(variables, ftype)
    tokens = read_vocab(ct2_dir / "vocabulary.txt", hp["n_vocab"])
    tensors = map_tensors(variables, hp)
    write_ggml(out_path, hp, mel_filters(hp["n_mels"]), tokens, tensors, weight_type)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ct2-dir", type=Path, required=True, help="CTranslate2 Whisper model directory")
    parser.add_argument("--out", type=Path, required=True, help="output ggml .bin path")
    parser.add_argument("--type", choices=sorted(FTYPES), default="f16", help="weight type (default f16)")
    args = parser.parse_args(argv)
    start = time.monotonic()
    try:
        convert(args.ct2_dir, args.out, args.type)
    except ConversionError as e:
        print(f"convert_whisper: error: {e}", file=sys.stderr)
        return 1
    size = args.out.stat().st_size
    print(f"wrote {args.out} ({args.type}, {size / 1e6:.1f} MB) in {time.monotonic() - start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
