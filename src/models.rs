//! Where the model files made by `make models` live, and their fingerprints.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Default whisper model: multilingual base, 8-bit (the f16 file is beside it).
pub const DEFAULT_WHISPER: &str = "ggml-base-q8_0.bin";
/// Silero VAD v6, from the faster-whisper wheel.
pub const SILERO_VAD: &str = "silero_vad_v6.onnx";
/// The tag scorer: multilingual-e5-small int8 plus subtext's heads, one ONNX model.
pub const SCORER: &str = "subtext-scorer.onnx";
/// The XLM-R tokenizer of multilingual-e5-small.
pub const SCORER_TOKENIZER: &str = "e5/tokenizer.json";
/// ONNX Runtime shared library, from the onnxruntime wheel (loaded at run time).
pub const ONNX_RUNTIME: &str = "onnxruntime/libonnxruntime.so.1.31.1";

/// The models folder: `$SUBTEXT_MODELS`, else `./models` when it holds the default
/// whisper model, else the `models/` folder of the source tree subtext was built in.
pub fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SUBTEXT_MODELS") {
        return PathBuf::from(dir);
    }
    let local = PathBuf::from("models");
    if local.join(DEFAULT_WHISPER).is_file() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
}

/// Hex SHA-256 of a file's bytes, read in blocks (call files can be large).
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Waits for a helper thread that loads or hashes a model; its panic, if any,
/// goes on to the caller. (Only the model-loading builds use it; the fuzz build has
/// neither model.)
#[cfg(any(feature = "whisper", feature = "onnx"))]
pub(crate) fn join<T>(handle: std::thread::JoinHandle<T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Hex SHA-256 of a string.
pub fn sha256_str(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
