//! The audio input stage on real files: every layout and codec we claim to read is
//! made here (hound for WAV, sox for the rest), decoded, and checked for channel
//! count, duration and content. Each channel carries its own tone, so a channel
//! swap or a mixed-down file is caught, not only a wrong length.
//!
//! sox is required (the Makefile set-up and CI install it); tests that need it fail
//! with a clear message when it is missing rather than skipping silently.

use std::f64::consts::PI;
use std::path::{Path, PathBuf};
use std::process::Command;

use subtext::audio::{self, decode, resample, Audio, TARGET_RATE};
use subtext::Error;

/// One tone per channel: left, right.
const TONES: [f64; 2] = [440.0, 1000.0];
const AMPLITUDE: f64 = 0.5;

fn tone(freq: f64, rate: u32, secs: f64) -> Vec<f64> {
    let frames = (secs * f64::from(rate)).round() as usize;
    (0..frames)
        .map(|i| AMPLITUDE * (2.0 * PI * freq * i as f64 / f64::from(rate)).sin())
        .collect()
}

/// Amplitude of the `freq` component of `samples` (a single DFT bin).
fn amplitude_at(samples: &[f32], rate: u32, freq: f64) -> f64 {
    let w = 2.0 * PI * freq / f64::from(rate);
    let (mut re, mut im) = (0.0, 0.0);
    for (i, &s) in samples.iter().enumerate() {
        re += f64::from(s) * (w * i as f64).cos();
        im -= f64::from(s) * (w * i as f64).sin();
    }
    2.0 * (re * re + im * im).sqrt() / samples.len() as f64
}

#[derive(Clone, Copy, Debug)]
enum Layout {
    Int(u16),
    Float,
}

fn write_wav(path: &Path, rate: u32, n_channels: u16, layout: Layout, secs: f64) {
    let (bits, format) = match layout {
        Layout::Int(bits) => (bits, hound::SampleFormat::Int),
        Layout::Float => (32, hound::SampleFormat::Float),
    };
    let spec = hound::WavSpec {
        channels: n_channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: format,
    };
    let tones: Vec<Vec<f64>> = TONES[..usize::from(n_channels)]
        .iter()
        .map(|&f| tone(f, rate, secs))
        .collect();
    let mut writer = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..tones[0].len() {
        for channel in &tones {
            let s = channel[i];
            match layout {
                Layout::Float => writer.write_sample(s as f32).unwrap(),
                Layout::Int(8) => writer.write_sample((s * 127.0).round() as i8).unwrap(),
                Layout::Int(16) => writer.write_sample((s * 32_767.0).round() as i16).unwrap(),
                Layout::Int(bits) => {
                    let full = f64::from((1u32 << (bits - 1)) - 1);
                    writer.write_sample((s * full).round() as i32).unwrap()
                }
            }
        }
    }
    writer.finalize().unwrap();
}

/// Runs sox; a missing sox fails the test with what to install.
fn sox(args: &[&str]) {
    let output = Command::new("sox").args(args).output().unwrap_or_else(|e| {
        panic!("sox is needed for the audio format tests (apt-get install sox libsox-fmt-all): {e}")
    });
    assert!(
        output.status.success(),
        "sox {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Checks channel count, rate, duration (within 1%) and one tone per channel.
/// `tolerance` is the allowed relative amplitude error (lossy codecs get more).
/// `probe_duration` (header only) agrees with `expected` seconds within `tolerance`.
fn assert_probed(path: &Path, expected: f64, tolerance: f64) {
    let probed = decode::probe_duration(path).unwrap();
    assert!(
        (probed - expected).abs() <= tolerance,
        "{}: probed {probed}, expected {expected}",
        path.display()
    );
}

fn check(audio: &Audio, path: &Path, rate: u32, n_channels: usize, secs: f64, tolerance: f64) {
    check_within(
        audio,
        path,
        rate,
        n_channels,
        (0.99 * secs, 1.01 * secs),
        tolerance,
    );
}

fn check_within(
    audio: &Audio,
    path: &Path,
    rate: u32,
    n_channels: usize,
    (min_secs, max_secs): (f64, f64),
    tolerance: f64,
) {
    let name = path.file_name().unwrap().to_string_lossy();
    assert_eq!(audio.channels.len(), n_channels, "{name}: channels");
    assert_eq!(audio.sample_rate, rate, "{name}: rate");
    assert_eq!(audio.source_rate, rate, "{name}: source rate");
    assert!(
        audio
            .channels
            .iter()
            .all(|c| c.len() == audio.channels[0].len()),
        "{name}: ragged channels"
    );
    let duration = audio.duration();
    assert!(
        (min_secs..=max_secs).contains(&duration),
        "{name}: duration {duration} s, expected {min_secs}..={max_secs} s"
    );
    check_tones(audio, &name, tolerance);
}

fn check_tones(audio: &Audio, name: &str, tolerance: f64) {
    // Look at the middle: codecs and resamplers ring at the edges.
    let frames = audio.frames();
    let middle = frames / 10..frames - frames / 10;
    for (ch, samples) in audio.channels.iter().enumerate() {
        assert!(
            samples.iter().all(|s| (-1.0..=1.0).contains(s)),
            "{name}: ch {ch} out of [-1, 1]"
        );
        let samples = &samples[middle.clone()];
        let own = amplitude_at(samples, audio.sample_rate, TONES[ch]);
        assert!(
            (own / AMPLITUDE - 1.0).abs() < tolerance,
            "{name}: ch {ch} tone at {own}, expected {AMPLITUDE}"
        );
        for (other, &freq) in TONES.iter().enumerate().take(audio.channels.len()) {
            if other != ch {
                let leak = amplitude_at(samples, audio.sample_rate, freq);
                assert!(
                    leak < 0.02,
                    "{name}: ch {ch} carries ch {other}'s tone ({leak})"
                );
            }
        }
    }
}

const RATES: [u32; 5] = [8_000, 16_000, 22_050, 44_100, 48_000];

#[test]
fn wav_every_pcm_layout_rate_and_channel_count() {
    let dir = tempfile::tempdir().unwrap();
    let layouts = [
        Layout::Int(8),
        Layout::Int(16),
        Layout::Int(24),
        Layout::Int(32),
        Layout::Float,
    ];
    for layout in layouts {
        for rate in RATES {
            for n_channels in [1u16, 2] {
                let path = dir
                    .path()
                    .join(format!("{layout:?}_{rate}_{n_channels}.wav"));
                write_wav(&path, rate, n_channels, layout, 1.0);
                let audio = decode::decode_file(&path).unwrap();
                // 8-bit carries about 1% quantisation noise.
                check(&audio, &path, rate, usize::from(n_channels), 1.0, 0.02);
                assert_probed(&path, 1.0, 1e-9);
            }
        }
    }
}

#[test]
fn wav_samples_are_scaled_to_full_scale() {
    // Full-scale extremes must land on ±1 (or within one step of it) for every width.
    let dir = tempfile::tempdir().unwrap();
    for bits in [8u16, 16, 24, 32] {
        let path = dir.path().join(format!("extremes{bits}.wav"));
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8_000,
            bits_per_sample: bits,
            sample_format: hound::SampleFormat::Int,
        };
        let mut writer = hound::WavWriter::create(&path, spec).unwrap();
        let max = (1i64 << (bits - 1)) - 1;
        for v in [max, -max - 1, 0] {
            match bits {
                8 => writer.write_sample(v as i8).unwrap(),
                16 => writer.write_sample(v as i16).unwrap(),
                _ => writer.write_sample(v as i32).unwrap(),
            }
        }
        writer.finalize().unwrap();
        let audio = decode::decode_file(&path).unwrap();
        let s = &audio.channels[0];
        assert!((s[0] - 1.0).abs() < 0.01, "{bits}-bit max → {}", s[0]);
        assert_eq!(s[1], -1.0, "{bits}-bit min");
        assert_eq!(s[2], 0.0, "{bits}-bit zero");
    }
}

/// Whether the lame CLI is there (`make deps` installs it; a bare `cargo test`
/// elsewhere may lack it): when not, `test` says it is skipped.
fn lame_installed(test: &str) -> bool {
    let found = Command::new("lame").arg("--version").output().is_ok();
    if !found {
        eprintln!("SKIPPED {test}: lame is not installed");
    }
    found
}

/// Encodes `src` with `sox src [options] dst`.
fn sox_encode(src: &Path, options: &[&str], dst: &Path) {
    let mut args = vec![p(src)];
    args.extend_from_slice(options);
    args.push(p(dst));
    sox(&args);
}

#[test]
fn flac_and_vorbis_decode_with_right_channels_duration_and_tones() {
    let dir = tempfile::tempdir().unwrap();
    // (extension, amplitude tolerance: Vorbis is lossy)
    for (ext, tolerance) in [("flac", 0.01), ("ogg", 0.1)] {
        for rate in [8_000u32, 16_000, 22_050, 44_100, 48_000] {
            for n_channels in [1u16, 2] {
                let wav = dir.path().join(format!("src_{rate}_{n_channels}.wav"));
                write_wav(&wav, rate, n_channels, Layout::Int(16), 2.0);
                let path = dir.path().join(format!("tone_{rate}_{n_channels}.{ext}"));
                sox_encode(&wav, &[], &path);
                let audio = decode::decode_file(&path).unwrap_or_else(|e| panic!("{e}"));
                check(&audio, &path, rate, usize::from(n_channels), 2.0, tolerance);
                assert_probed(&path, 2.0, 0.02);
            }
        }
    }
}

#[test]
fn metadata_lengths_are_checked_without_refusing_honest_files() {
    // sox writes a 70 kB comment into FLAC's comment block and Ogg Vorbis's comment
    // header (there it spans several Ogg pages): both decode. The same files with
    // that comment's stated length raised past the file are refused before
    // symphonia, which would first allocate the stated length (up to 4 GiB).
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("src.wav");
    write_wav(&wav, 16_000, 1, Layout::Int(16), 1.0);
    let comment = dir.path().join("comment.txt");
    std::fs::write(&comment, format!("DESCRIPTION={}", "x".repeat(70_000))).unwrap();
    for ext in ["flac", "ogg"] {
        let path = dir.path().join(format!("long-comment.{ext}"));
        sox(&[p(&wav), "--comment-file", p(&comment), p(&path)]);
        let audio = decode::decode_file(&path).unwrap_or_else(|e| panic!("{e}"));
        check(&audio, &path, 16_000, 1, 1.0, 0.1);

        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes
            .windows(12)
            .position(|w| w == b"DESCRIPTION=")
            .expect("sox wrote the comment");
        let length = u32::from_le_bytes(bytes[at - 4..at].try_into().unwrap());
        assert_eq!(
            length, 70_012,
            "the length field sits right before the comment"
        );
        bytes[at - 4..at].copy_from_slice(&0xF000_0000u32.to_le_bytes());
        let err = decode_err(&write(dir.path(), &format!("lying.{ext}"), &bytes));
        assert!(
            matches!(err, Error::BadAudio { .. }) && err.to_string().contains("states more bytes"),
            "{err}"
        );
    }
}

#[test]
fn mp3_id3v2_frames_are_checked_without_refusing_honest_files() {
    // lame writes an ID3v2.3 tag (its version frame, then the title): the MP3 decodes.
    // With the title frame's size raised past the tag, it is refused before symphonia
    // allocates that size.
    if !lame_installed("mp3_id3v2_frames_are_checked_without_refusing_honest_files") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("src.wav");
    write_wav(&wav, 16_000, 1, Layout::Int(16), 1.0);
    let path = dir.path().join("titled.mp3");
    let status = Command::new("lame")
        .args(["--quiet", "--id3v2-only", "--tt", "Klacht over de factuur"])
        .args(["-b", "64", p(&wav), p(&path)])
        .status()
        .unwrap();
    assert!(status.success());
    let audio = decode::decode_file(&path).unwrap_or_else(|e| panic!("{e}"));
    check(&audio, &path, 16_000, 1, 1.0, 0.1);

    let mut bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..4], b"ID3\x03", "lame writes ID3v2.3");
    let at = bytes
        .windows(4)
        .position(|w| w == b"TIT2")
        .expect("lame wrote the title frame");
    bytes[at + 4..at + 8].copy_from_slice(&0xF000_0000u32.to_be_bytes());
    let err = decode_err(&write(dir.path(), "lying-title.mp3", &bytes));
    assert!(
        matches!(err, Error::BadAudio { .. }) && err.to_string().contains("ID3v2"),
        "{err}"
    );
}

#[test]
fn mp3_from_sox_decodes_with_right_channels_and_tones() {
    // sox 14.4 writes no Xing/LAME header, so nothing tells a decoder how much
    // encoder delay (576 + 529 samples) and end padding (up to one frame) to trim:
    // the decoded file is that much longer. `mp3_with_lame_tag_is_trimmed_exactly`
    // checks the trimming on a file that does carry the header.
    let dir = tempfile::tempdir().unwrap();
    for rate in [8_000u32, 16_000, 22_050, 44_100, 48_000] {
        let frame = if rate >= 32_000 { 1152.0 } else { 576.0 };
        let slack = (1105.0 + frame) / f64::from(rate);
        for n_channels in [1u16, 2] {
            let wav = dir.path().join(format!("src_{rate}_{n_channels}.wav"));
            write_wav(&wav, rate, n_channels, Layout::Int(16), 2.0);
            let path = dir.path().join(format!("tone_{rate}_{n_channels}.mp3"));
            sox_encode(&wav, &[], &path);
            let audio = decode::decode_file(&path).unwrap_or_else(|e| panic!("{e}"));
            check_within(
                &audio,
                &path,
                rate,
                usize::from(n_channels),
                (2.0, 2.0 + slack),
                0.1,
            );
            let probed = decode::probe_duration(&path).unwrap();
            assert!(
                (probed - audio.duration()).abs() < 1e-9,
                "{}: probed {probed}",
                path.display()
            );
        }
    }
}

#[test]
fn mp3_with_lame_tag_is_trimmed_exactly() {
    // The lame CLI writes the LAME header that sox leaves out.
    if !lame_installed("mp3_with_lame_tag_is_trimmed_exactly") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for rate in [8_000u32, 16_000, 44_100, 48_000] {
        for n_channels in [1u16, 2] {
            let wav = dir.path().join(format!("src_{rate}_{n_channels}.wav"));
            write_wav(&wav, rate, n_channels, Layout::Int(16), 2.0);
            let path = dir.path().join(format!("lame_{rate}_{n_channels}.mp3"));
            // --resample pins the rate: lame otherwise lowers it for low bitrates.
            let khz = format!("{}", f64::from(rate) / 1000.0);
            let status = Command::new("lame")
                .args(["--quiet", "--resample", &khz, "-b", "64", p(&wav), p(&path)])
                .status()
                .unwrap();
            assert!(status.success(), "lame failed on {}", wav.display());
            let audio = decode::decode_file(&path).unwrap_or_else(|e| panic!("{e}"));
            check(&audio, &path, rate, usize::from(n_channels), 2.0, 0.1);
            assert_probed(&path, 2.0, 0.02);
        }
    }
}

#[test]
fn damaged_packets_are_skipped_not_fatal() {
    // A few kilobytes of garbage in the middle of a FLAC file break the frames
    // there (CRC mismatch); the rest of the call must still come through.
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("src.wav");
    write_wav(&wav, 16_000, 2, Layout::Int(16), 4.0);
    let flac = dir.path().join("clean.flac");
    sox_encode(&wav, &[], &flac);
    let mut bytes = std::fs::read(&flac).unwrap();
    let middle = bytes.len() / 2;
    for (i, b) in bytes[middle..middle + 4096].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(151) ^ 0x5A;
    }
    let path = write(dir.path(), "damaged.flac", &bytes);
    let audio = decode::decode_file(&path).unwrap();
    assert_eq!(audio.channels.len(), 2);
    // Lost packets become silence, so the length and the timing stay.
    assert!(
        (audio.duration() - 4.0).abs() < 0.04,
        "{} s",
        audio.duration()
    );
    // FLAC is lossless: after the damage, the samples are the original ones at the
    // original positions.
    let original = decode::decode_file(&wav).unwrap();
    let tail = original.frames() - 16_000..original.frames();
    for (ch, (got, want)) in audio.channels.iter().zip(&original.channels).enumerate() {
        assert_eq!(got.len(), want.len(), "ch {ch}: length");
        assert_eq!(
            got[tail.clone()],
            want[tail.clone()],
            "ch {ch}: last second moved"
        );
    }
}

#[test]
fn extension_is_only_a_hint() {
    // Archives rename files; a FLAC saved as .wav (or with no extension) still decodes.
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("src.wav");
    write_wav(&wav, 16_000, 2, Layout::Int(16), 1.0);
    let flac = dir.path().join("real.flac");
    sox(&[p(&wav), p(&flac)]);
    for name in ["misnamed.wav", "no_extension"] {
        let path = dir.path().join(name);
        std::fs::copy(&flac, &path).unwrap();
        check(
            &decode::decode_file(&path).unwrap(),
            &path,
            16_000,
            2,
            1.0,
            0.01,
        );
    }
}

#[test]
fn telephony_wavs_mulaw_alaw_and_adpcm_go_through_symphonia() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[&str], u32, f64); 4] = [
        ("ulaw", &["-e", "u-law"], 8_000, 0.03),
        ("alaw", &["-e", "a-law"], 8_000, 0.03),
        ("ms_adpcm", &["-e", "ms-adpcm"], 16_000, 0.05),
        ("ima_adpcm", &["-e", "ima-adpcm"], 16_000, 0.05),
    ];
    for (name, encoding, rate, tolerance) in cases {
        for n_channels in [1u16, 2] {
            let src = dir.path().join(format!("src_{rate}_{n_channels}.wav"));
            write_wav(&src, rate, n_channels, Layout::Int(16), 2.0);
            let path = dir.path().join(format!("{name}_{n_channels}.wav"));
            sox_encode(&src, encoding, &path);
            let audio = decode::decode_file(&path).unwrap_or_else(|e| panic!("{e}"));
            check(&audio, &path, rate, usize::from(n_channels), 2.0, tolerance);
            assert_probed(&path, 2.0, 0.02);
        }
    }
}

/// A canonical 44-byte header for a PCM WAV; the fields are parameters so tests
/// can write broken ones.
fn wav_header(format_tag: u16, channels: u16, rate: u32, bits: u16, data_len: u32) -> Vec<u8> {
    let block_align = channels * bits / 8;
    let mut h = Vec::with_capacity(44);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&(36 + data_len).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&format_tag.to_le_bytes());
    h.extend_from_slice(&channels.to_le_bytes());
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&(rate * u32::from(block_align)).to_le_bytes());
    h.extend_from_slice(&block_align.to_le_bytes());
    h.extend_from_slice(&bits.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data_len.to_le_bytes());
    h
}

#[test]
fn pcm_wav_that_hound_rejects_falls_back_to_symphonia() {
    // A wrong byte rate in the header is common in files from cheap recorders; hound
    // refuses it ("inconsistent fmt chunk"), symphonia does not care.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad_byte_rate.wav");
    let samples = tone(TONES[0], 8_000, 1.0);
    let mut bytes = wav_header(1, 1, 8_000, 16, (samples.len() * 2) as u32);
    bytes[28..32].copy_from_slice(&12_345u32.to_le_bytes());
    for s in samples {
        bytes.extend_from_slice(&((s * 32_767.0).round() as i16).to_le_bytes());
    }
    std::fs::write(&path, bytes).unwrap();
    check(
        &decode::decode_file(&path).unwrap(),
        &path,
        8_000,
        1,
        1.0,
        0.01,
    );
}

#[test]
fn wav_with_streaming_placeholder_length_reads_to_the_end() {
    // Recorders that stream WAV write 0xFFFFFFFF as the data length and never
    // come back to fix it: the audio is everything up to the end of the file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("streamed.wav");
    let samples = tone(TONES[0], 8_000, 1.0);
    let mut bytes = wav_header(1, 1, 8_000, 16, 0);
    bytes[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
    for s in samples {
        bytes.extend_from_slice(&((s * 32_767.0).round() as i16).to_le_bytes());
    }
    std::fs::write(&path, bytes).unwrap();
    check(
        &decode::decode_file(&path).unwrap(),
        &path,
        8_000,
        1,
        1.0,
        0.01,
    );
    let probed = decode::probe_duration(&path).unwrap();
    assert!((probed - 1.0).abs() < 1e-9, "probed {probed}");
}

#[test]
fn load_resamples_to_16k_and_keeps_the_source_rate() {
    let dir = tempfile::tempdir().unwrap();
    for rate in RATES {
        let path = dir.path().join(format!("call_{rate}.wav"));
        write_wav(&path, rate, 2, Layout::Int(16), 2.0);
        let audio = audio::load(&path).unwrap();
        assert_eq!((audio.sample_rate, audio.source_rate), (TARGET_RATE, rate));
        assert_eq!(audio.frames(), 2 * TARGET_RATE as usize);
        assert!((audio.duration() - 2.0).abs() < 1e-9);
        check_tones(&audio, &format!("load {rate}"), 0.02);
        let mono = resample::downmix(&audio);
        assert_eq!(mono.len(), audio.frames());
        // Each tone is in one channel, so the mean carries each at half amplitude.
        let edge = mono.len() / 10;
        let middle = &mono[edge..mono.len() - edge];
        for freq in TONES {
            let a = amplitude_at(middle, TARGET_RATE, freq);
            assert!(
                (a - AMPLITUDE / 2.0).abs() < 0.01,
                "downmix {rate}: {freq} Hz at {a}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Bad input: a specific error, the file name in the message, never a panic.
// ---------------------------------------------------------------------------

fn decode_err(path: &Path) -> Error {
    let err = match decode::decode_file(path) {
        Ok(audio) => panic!(
            "{} decoded to {} frames; expected an error",
            path.display(),
            audio.frames()
        ),
        Err(e) => e,
    };
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        err.to_string().contains(&name),
        "error does not name the file: {err}"
    );
    // probe_duration and load must fail the same way, not panic or succeed.
    let probe = decode::probe_duration(path).expect_err("probe_duration should fail too");
    assert_eq!(
        std::mem::discriminant(&probe),
        std::mem::discriminant(&err),
        "probe: {probe} vs decode: {err}"
    );
    assert!(audio::load(path).is_err());
    err
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn empty_file_is_empty_audio() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "empty.wav", b"");
    assert!(matches!(decode_err(&path), Error::EmptyAudio { .. }));
    let path = write(dir.path(), "empty.mp3", b"");
    assert!(matches!(decode_err(&path), Error::EmptyAudio { .. }));
}

#[test]
fn missing_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = decode_err(&dir.path().join("nowhere.wav"));
    assert!(matches!(err, Error::Io { .. }), "{err}");
}

#[test]
fn wav_with_header_but_no_samples_is_empty_audio() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "no_samples.wav",
        &wav_header(1, 1, 8_000, 16, 0),
    );
    assert!(matches!(decode_err(&path), Error::EmptyAudio { .. }));
}

#[test]
fn truncated_wav_decodes_what_is_there() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full.wav");
    write_wav(&full, 8_000, 2, Layout::Int(16), 2.0);
    let bytes = std::fs::read(&full).unwrap();
    // Cut in the middle of the data, and mid-frame: 1 s of audio plus 3 stray bytes.
    let cut = 44 + 8_000 * 4 + 3;
    let path = write(dir.path(), "cut_mid_data.wav", &bytes[..cut]);
    let audio = decode::decode_file(&path).unwrap();
    assert_eq!(audio.channels.len(), 2);
    assert_eq!(audio.frames(), 8_000);
    check_tones(&audio, "cut_mid_data.wav", 0.01);
    let probed = decode::probe_duration(&path).unwrap();
    assert!((probed - 1.0).abs() < 1e-3, "probed {probed}");

    // The same for a μ-law file, which symphonia reads.
    let ulaw = dir.path().join("full_ulaw.wav");
    sox(&[p(&full), "-e", "u-law", p(&ulaw)]);
    let bytes = std::fs::read(&ulaw).unwrap();
    let path = write(dir.path(), "cut_ulaw.wav", &bytes[..bytes.len() / 2]);
    let audio = decode::decode_file(&path).unwrap();
    assert_eq!(audio.channels.len(), 2);
    assert!(
        audio.duration() > 0.8 && audio.duration() < 1.05,
        "cut μ-law: {} s",
        audio.duration()
    );
}

#[test]
fn truncated_wav_header_is_bad_audio() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full.wav");
    write_wav(&full, 8_000, 1, Layout::Int(16), 1.0);
    let bytes = std::fs::read(&full).unwrap();
    for cut in [6, 20, 30, 40] {
        let path = write(dir.path(), &format!("cut_header_{cut}.wav"), &bytes[..cut]);
        let err = decode_err(&path);
        assert!(matches!(err, Error::BadAudio { .. }), "{err}");
        assert!(err.to_string().contains("truncated"), "{err}");
    }
    // Header complete, data promised, not one byte of it present.
    let path = write(dir.path(), "cut_at_data.wav", &bytes[..44]);
    let err = decode_err(&path);
    assert!(
        matches!(err, Error::BadAudio { .. }) && err.to_string().contains("truncated"),
        "{err}"
    );
}

#[test]
fn random_bytes_are_not_audio() {
    let dir = tempfile::tempdir().unwrap();
    // A fixed xorshift stream: reproducible, and dense with 0xFF bytes that could
    // pass for MP3 sync words.
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let noise: Vec<u8> = (0..64 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    for name in ["noise.bin", "noise.wav", "noise.mp3", "noise.ogg"] {
        let err = decode_err(&write(dir.path(), name, &noise));
        assert!(matches!(err, Error::BadAudio { .. }), "{name}: {err}");
    }
    let err = decode_err(&write(
        dir.path(),
        "notes.wav",
        b"this is a text file, not a recording\n",
    ));
    assert!(matches!(err, Error::BadAudio { .. }), "{err}");
    assert!(
        err.to_string().contains("not a recognised audio format"),
        "{err}"
    );
}

#[test]
fn wav_with_zero_channels_or_zero_rate_is_bad_audio() {
    let dir = tempfile::tempdir().unwrap();
    let mut zero_channels = wav_header(1, 0, 8_000, 16, 4);
    zero_channels.extend_from_slice(&[0; 4]);
    let err = decode_err(&write(dir.path(), "zero_channels.wav", &zero_channels));
    assert!(
        matches!(err, Error::BadAudio { .. }) && err.to_string().contains("zero channels"),
        "{err}"
    );

    let mut zero_rate = wav_header(1, 1, 0, 16, 4);
    zero_rate.extend_from_slice(&[0; 4]);
    let err = decode_err(&write(dir.path(), "zero_rate.wav", &zero_rate));
    assert!(
        matches!(err, Error::BadAudio { .. }) && err.to_string().contains("0 Hz"),
        "{err}"
    );
}

#[test]
fn unknown_wav_codecs_are_unsupported_and_named() {
    let dir = tempfile::tempdir().unwrap();
    // MP3 inside WAV (tag 0x0055), which neither hound nor symphonia 0.5 reads.
    let mut mp3_in_wav = wav_header(0x0055, 1, 8_000, 0, 64);
    mp3_in_wav.extend_from_slice(&[0x55; 64]);
    let err = decode_err(&write(dir.path(), "mpeg3.wav", &mp3_in_wav));
    assert!(matches!(err, Error::UnsupportedAudio { .. }), "{err}");
    assert!(
        err.to_string().contains("MP3") && err.to_string().contains("0x0055"),
        "{err}"
    );

    // GSM 6.10, a real telephony codec, as sox writes it.
    let src = dir.path().join("src.wav");
    write_wav(&src, 8_000, 1, Layout::Int(16), 1.0);
    let gsm = dir.path().join("gsm.wav");
    sox(&[p(&src), "-e", "gsm-full-rate", p(&gsm)]);
    let err = decode_err(&gsm);
    assert!(
        matches!(err, Error::UnsupportedAudio { .. }) && err.to_string().contains("GSM 6.10"),
        "{err}"
    );
}

#[test]
fn unsupported_containers_are_named() {
    let dir = tempfile::tempdir().unwrap();
    // The opening of an .m4a (AAC in MP4), as phone systems export them.
    let mut m4a = b"\0\0\0\x20ftypM4A \0\0\0\0M4A mp42isom\0\0\0\0".to_vec();
    m4a.extend_from_slice(&[0u8; 512]);
    let err = decode_err(&write(dir.path(), "call.m4a", &m4a));
    assert!(
        matches!(err, Error::UnsupportedAudio { .. }) && err.to_string().contains("AAC"),
        "{err}"
    );

    // A raw AAC (ADTS) stream: header of a 48 kHz stereo frame, then filler.
    let mut adts = vec![0xFF, 0xF1, 0x4C, 0x80, 0x20, 0x1F, 0xFC];
    adts.extend_from_slice(&[0u8; 249]);
    let err = decode_err(&write(dir.path(), "call.aac", &adts));
    assert!(
        matches!(err, Error::UnsupportedAudio { .. }) && err.to_string().contains("AAC"),
        "{err}"
    );

    // Opus in Ogg (WebRTC recordings): the container parses, the codec is missing.
    let err = decode_err(&write(dir.path(), "webrtc.opus", &ogg_opus()));
    assert!(
        matches!(err, Error::UnsupportedAudio { .. }) && err.to_string().contains("Opus"),
        "{err}"
    );
}

/// A minimal Ogg Opus stream: OpusHead, OpusTags, one audio packet.
fn ogg_opus() -> Vec<u8> {
    let mut head = b"OpusHead".to_vec();
    head.push(1); // version
    head.push(1); // channels
    head.extend_from_slice(&312u16.to_le_bytes()); // pre-skip
    head.extend_from_slice(&48_000u32.to_le_bytes());
    head.extend_from_slice(&0i16.to_le_bytes()); // gain
    head.push(0); // mapping family
    let mut tags = b"OpusTags".to_vec();
    tags.extend_from_slice(&4u32.to_le_bytes());
    tags.extend_from_slice(b"test");
    tags.extend_from_slice(&0u32.to_le_bytes());
    // TOC byte: CELT-only fullband 20 ms, one frame; then a few filler bytes.
    let audio = [0xFCu8, 0xFF, 0xFE, 0x00, 0x01];
    let mut out = ogg_page(0x02, 0, 0, &head);
    out.extend(ogg_page(0x00, 0, 1, &tags));
    out.extend(ogg_page(0x04, 960 + 312, 2, &audio));
    out
}

fn ogg_page(flags: u8, granule: u64, sequence: u32, packet: &[u8]) -> Vec<u8> {
    assert!(packet.len() < 255);
    let mut page = b"OggS".to_vec();
    page.push(0);
    page.push(flags);
    page.extend_from_slice(&granule.to_le_bytes());
    page.extend_from_slice(&0x5EED_u32.to_le_bytes());
    page.extend_from_slice(&sequence.to_le_bytes());
    page.extend_from_slice(&[0; 4]); // CRC, filled in below
    page.push(1);
    page.push(packet.len() as u8);
    page.extend_from_slice(packet);
    // Ogg's CRC-32: polynomial 0x04C11DB7, no reflection, zero init, no final xor.
    let mut crc = 0u32;
    for &byte in &page {
        crc ^= u32::from(byte) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    page[22..26].copy_from_slice(&crc.to_le_bytes());
    page
}
