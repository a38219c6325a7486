//! Links a one-function C shim in front of whisper.cpp's CPU backend creation
//! (see `src/asr/ggml_threads.c` for why): whisper.cpp's DTW word alignment would
//! otherwise run 4 spinning threads on a 2-core machine.

fn main() {
    println!("cargo:rerun-if-changed=src/asr/ggml_threads.c");
    println!("cargo:rerun-if-changed=build.rs");
    let whisper = std::env::var_os("CARGO_FEATURE_WHISPER").is_some();
    let gnu_linker = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    if !(whisper && gnu_linker) {
        return;
    }
    cc::Build::new()
        .file("src/asr/ggml_threads.c")
        .cargo_metadata(false)
        .compile("subtext_ggml_threads");
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    println!("cargo:rustc-link-search=native={out_dir}");
    // Whole archive: nothing references the wrapper until the linker rewrites
    // whisper.cpp's call, after this archive may already have been passed over.
    println!("cargo:rustc-link-lib=static:+whole-archive=subtext_ggml_threads");
    println!("cargo:rustc-link-arg=-Wl,--wrap=ggml_backend_init_by_type");
}
