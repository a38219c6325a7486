//! ONNX Runtime, loaded once per process from the shared library that
//! `models/fetch_models.py` takes out of the `onnxruntime` PyPI wheel
//! (`models/onnxruntime/libonnxruntime.so.1.31.1`).
//!
//! Why `load-dynamic`: ort's default build downloads a prebuilt ONNX Runtime at build
//! time, which fails on machines that only reach package registries. Loading the
//! library ourselves also pins exactly which runtime runs, so the version can be
//! recorded in output headers.
//!
//! Flow: call [`init_runtime`] once (the pipeline does it while resolving model paths),
//! then build sessions with [`environment`]. ort 2.0.0-rc.15 needs the `Environment`
//! passed to every `Session::builder`, and the environment must outlive the sessions,
//! so we keep it in a process-wide `OnceLock` and never drop it.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::environment::Environment;

use crate::error::{Error, Result};

struct Runtime {
    /// Absolute path the library was loaded from.
    lib: PathBuf,
    env: Environment,
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
/// Serialises the first initialisation: `OnceLock::get_or_try_init` is not stable, and
/// two threads must not both `dlopen` and build an environment (ort allows only one).
static INIT: Mutex<()> = Mutex::new(());

/// Load ONNX Runtime from `lib` and create the process-wide environment.
///
/// Idempotent and thread-safe: later calls with the same library return `Ok(())`
/// without doing anything. A call naming a *different* library after one was loaded
/// is an error, because a process can only hold one ONNX Runtime.
///
/// ```no_run
/// use std::path::Path;
/// subtext::onnx::init_runtime(Path::new("models/onnxruntime/libonnxruntime.so.1.31.1"))?;
/// let env = subtext::onnx::environment().expect("initialised above");
/// # Ok::<(), subtext::Error>(())
/// ```
pub fn init_runtime(lib: &Path) -> Result<()> {
    let load_err = |reason: String| Error::ModelLoad {
        path: lib.to_path_buf(),
        reason,
    };

    // ort resolves a relative path against the executable's directory first
    // (ort-2.0.0-rc.15 src/lib.rs `load_library`), which is surprising for a path the
    // user typed relative to the working directory: make it absolute ourselves.
    let abs = std::path::absolute(lib).map_err(|e| load_err(e.to_string()))?;

    if let Some(rt) = RUNTIME.get() {
        return same_library(rt, &abs);
    }
    let _guard = INIT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(rt) = RUNTIME.get() {
        return same_library(rt, &abs);
    }

    if !abs.is_file() {
        return Err(load_err(
            "ONNX Runtime library not found; run `python3 models/fetch_models.py` to extract it \
             from the onnxruntime wheel"
                .into(),
        ));
    }
    // `init_from` dlopens the library and checks its API version (>= 1.31 for the
    // `api-31` feature); `build` creates the OrtEnv. Telemetry off: this runs offline
    // on call recordings.
    let env = ort::init_from(&abs)
        .map_err(|e| load_err(e.to_string()))?
        .with_name("subtext")
        .with_telemetry(false)
        .build()
        .map_err(|e| load_err(e.to_string()))?;
    tracing::debug!(lib = %abs.display(), "ONNX Runtime loaded");
    if RUNTIME.set(Runtime { lib: abs, env }).is_err() {
        unreachable!("RUNTIME is only set while holding INIT");
    }
    Ok(())
}

fn same_library(rt: &Runtime, wanted: &Path) -> Result<()> {
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    if canon(&rt.lib) == canon(wanted) {
        Ok(())
    } else {
        Err(Error::ModelLoad {
            path: wanted.to_path_buf(),
            reason: format!(
                "ONNX Runtime is already loaded from {}; one process can hold only one",
                rt.lib.display()
            ),
        })
    }
}

/// The environment created by [`init_runtime`], or `None` before it succeeded.
pub fn environment() -> Option<&'static Environment> {
    RUNTIME.get().map(|rt| &rt.env)
}

/// The library [`init_runtime`] loaded, for run headers and error messages.
pub fn loaded_library() -> Option<&'static Path> {
    RUNTIME.get().map(|rt| rt.lib.as_path())
}

/// The environment, or a `ModelLoad` error about `model` saying the runtime is missing.
pub(crate) fn environment_for(model: &Path) -> Result<&'static Environment> {
    environment().ok_or_else(|| Error::ModelLoad {
        path: model.to_path_buf(),
        reason: "ONNX Runtime is not loaded: call subtext::onnx::init_runtime first".into(),
    })
}
