//! Any bytes as an audio file: `decode_file` returns audio or an error, never panics,
//! and what it returns is whole frames of one length.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // `decode_file` turns a panic inside symphonia into the file's error (what a
    // batch needs), but libfuzzer-sys's hook aborts on every panic, caught or not.
    // This hook lets those through and still aborts on any other panic.
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(subtext::audio::decode::quiet_decoder_panics);
    thread_local! {
        static PATH: std::path::PathBuf = {
            let dir = if std::path::Path::new("/dev/shm").is_dir() { "/dev/shm".into() } else { std::env::temp_dir() };
            dir.join(format!("subtext-fuzz-{}.wav", std::process::id()))
        };
    }
    PATH.with(|path| {
        std::fs::write(path, data).unwrap();
        if let Ok(audio) = subtext::audio::decode::decode_file(path) {
            let frames = audio.frames();
            assert!(audio.channels.iter().all(|c| c.len() == frames));
            assert!(audio.sample_rate > 0);
        }
    });
});
