//! Audio file → [`Audio`] at the file's own sample rate.
//!
//! In: a path to a WAV, MP3, FLAC or Ogg/Vorbis file (the content decides, the
//! extension is only a hint). Out: one `Vec<f32>` per channel, deinterleaved, samples
//! in [-1, 1], at the rate the file was recorded at (`sample_rate == source_rate`);
//! [`super::resample`] takes it from there.
//!
//! WAV goes through three steps, because telephony WAVs are where most of the odd
//! files come from:
//! 1. our own RIFF header walk ([`WavHeader::read`]), which gives specific errors for a
//!    cut header, zero channels, a zero rate and codecs that nothing here decodes
//!    (GSM 6.10, G.729, MP3-in-WAV, …), and spots files cut short mid-data;
//! 2. hound, for the PCM and float layouts it knows (8/16/24/32-bit int, 32-bit float);
//! 3. symphonia for what hound rejects: μ-law/A-law, ADPCM, headers with an
//!    inconsistent byte rate, unusual WAVE_FORMAT_EXTENSIBLE layouts.
//!
//! Everything that is not WAV goes straight to symphonia. Decode errors on single
//! packets are skipped and counted (a damaged MP3 frame should not lose a whole
//! call) and replaced by silence of the packet's length, so later audio keeps its
//! timing; the file fails only when no packet decodes.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use symphonia::core::audio::{AudioBuffer, Signal};
use symphonia::core::codecs::{self, CodecType, DecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader, Track};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;
use tracing::{debug, warn};

use super::{metadata_guard, Audio};
use crate::error::{Error, Result};

/// Decodes a whole audio file into per-channel `f32` samples at its own rate.
///
/// ```no_run
/// let audio = subtext::audio::decode::decode_file(std::path::Path::new("call.wav"))?;
/// println!("{} channels, {:.1} s", audio.channels.len(), audio.duration());
/// # Ok::<(), subtext::Error>(())
/// ```
///
/// # Errors
/// [`Error::EmptyAudio`] for a 0-byte file or one without a single sample,
/// [`Error::BadAudio`] for unrecognised bytes or a broken header,
/// [`Error::UnsupportedAudio`] for a recognised codec that cannot be decoded,
/// [`Error::Io`] when the file cannot be read.
pub fn decode_file(path: &Path) -> Result<Audio> {
    guarded(path, || decode_any(path))
}

fn decode_any(path: &Path) -> Result<Audio> {
    let (mut file, file_len) = open_nonempty(path)?;
    let wav = WavHeader::read(path, &mut file, file_len)?;

    // A cut file, or one whose recorder never wrote the final lengths: both
    // readers get a header that matches the bytes that are there, so neither trips
    // over the missing end (symphonia rejects a data chunk longer than its RIFF
    // parent, hound reads past the end into an error).
    let mut source: Box<dyn MediaSource> = match &wav {
        Some(header) if header.data_beyond_file() => Box::new(PatchedWav::new(path, file, header)?),
        _ => Box::new(file),
    };
    let from_hound = match &wav {
        Some(header) if header.hound_may_read() => {
            rewind(path, &mut source)?;
            decode_hound(path, BufReader::new(&mut source))?
        }
        _ => None,
    };
    let mut audio = match from_hound {
        Some(audio) => audio,
        None => {
            rewind(path, &mut source)?;
            decode_symphonia(path, source)?
        }
    };

    if let Some(fact) = wav.as_ref().and_then(WavHeader::adpcm_frames) {
        // ADPCM pads the last block with silence; `fact` holds the true length.
        audio
            .channels
            .iter_mut()
            .for_each(|c| c.truncate(fact as usize));
    }
    let frames = audio.frames();
    if let Some(header) = &wav {
        if header.is_truncated() {
            if frames == 0 {
                return Err(bad(
                    path,
                    format!(
                        "truncated: the header promises {} bytes of audio but the file holds none",
                        header.data_len
                    ),
                ));
            }
            warn!(
                path = %path.display(),
                declared_bytes = header.data_len,
                present_bytes = header.data_present,
                decoded_frames = frames,
                "WAV file is truncated; decoded the audio that is present"
            );
        }
    }
    if frames == 0 {
        return Err(Error::EmptyAudio {
            path: path.to_path_buf(),
        });
    }
    Ok(audio)
}

/// The duration in seconds, from the headers where they state it (WAV, FLAC, most
/// Ogg and tagged MP3), else by decoding the whole file.
///
/// Meant for progress bars over large batches, where decoding every file twice
/// would double the I/O. Errors are those of [`decode_file`].
pub fn probe_duration(path: &Path) -> Result<f64> {
    guarded(path, || probe_any(path))
}

fn probe_any(path: &Path) -> Result<f64> {
    let (mut file, file_len) = open_nonempty(path)?;
    if let Some(header) = WavHeader::read(path, &mut file, file_len)? {
        return match header.frames_from_header().filter(|&f| f > 0) {
            Some(frames) => Ok(frames as f64 / f64::from(header.sample_rate)),
            // No usable count (ADPCM without `fact`, or no data): the full decode
            // gives the length, or the error that says why there is none.
            None => decode_file(path).map(|audio| audio.duration()),
        };
    }
    rewind(path, &mut file)?;
    let format = open_format(path, Box::new(file))?;
    let track = audio_track(path, format.tracks())?;
    let params = &track.codec_params;
    // A duration for a file that `decode_file` then refuses would put it in a
    // batch's progress total and fail later; refuse it here as well.
    if symphonia::default::get_codecs()
        .get_codec(params.codec)
        .is_none()
    {
        return Err(unsupported(path, codec_name(params.codec)));
    }
    match (params.n_frames, params.sample_rate) {
        (Some(frames), Some(rate)) if rate > 0 && frames > 0 => Ok(frames as f64 / f64::from(rate)),
        _ => {
            debug!(path = %path.display(), "no duration in the headers; decoding in full");
            decode_file(path).map(|audio| audio.duration())
        }
    }
}

thread_local! {
    /// Whether this thread is inside [`guarded`], whose panics become errors.
    static IN_DECODER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs a decode, turning a panic inside it into this file's error. symphonia 0.5
/// panics on some malformed headers (a 0 Hz rate reaches `TimeBase::new`, found by
/// the `audio_file` fuzz target), and one bad file must not take a batch down.
fn guarded<T>(path: &Path, decode: impl FnOnce() -> Result<T>) -> Result<T> {
    let outer = IN_DECODER.replace(true);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode));
    IN_DECODER.set(outer);
    result.unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        Err(bad(
            path,
            format!("the decoder failed on this file: {what}"),
        ))
    })
}

/// Installs a panic hook that keeps quiet about the panics [`decode_file`] turns
/// into a file's error (the user gets that error, not a backtrace), and reports
/// every other panic as the hook before it did. For binaries; call once at start.
pub fn quiet_decoder_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if IN_DECODER.get() {
            debug!(%info, "the audio decoder panicked; reported as the file's error");
        } else {
            previous(info);
        }
    }));
}

fn open_nonempty(path: &Path) -> Result<(File, u64)> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if len == 0 {
        return Err(Error::EmptyAudio {
            path: path.to_path_buf(),
        });
    }
    Ok((file, len))
}

fn rewind(path: &Path, file: &mut impl Seek) -> Result<()> {
    file.seek(SeekFrom::Start(0))
        .map(drop)
        .map_err(|e| Error::io(path, e))
}

fn bad(path: &Path, reason: impl Into<String>) -> Error {
    Error::BadAudio {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn unsupported(path: &Path, format: impl Into<String>) -> Error {
    Error::UnsupportedAudio {
        path: path.to_path_buf(),
        format: format.into(),
    }
}

/// Float formats may carry values past full scale, NaN or infinity; later stages
/// (resampler, VAD, whisper) assume finite samples in [-1, 1], and one NaN would
/// spread through a whole FFT block.
fn sanitize(sample: f32) -> f32 {
    if sample.is_finite() {
        sample.clamp(-1.0, 1.0)
    } else {
        0.0
    }
}

// ---------------------------------------------------------------------------
// WAV header
// ---------------------------------------------------------------------------

const TAG_PCM: u16 = 0x0001;
const TAG_MS_ADPCM: u16 = 0x0002;
const TAG_IEEE_FLOAT: u16 = 0x0003;
const TAG_ALAW: u16 = 0x0006;
const TAG_MULAW: u16 = 0x0007;
const TAG_IMA_ADPCM: u16 = 0x0011;
const TAG_EXTENSIBLE: u16 = 0xFFFE;

/// What the RIFF/WAVE header says, read by hand so that problems get precise
/// errors before hound or symphonia give their generic ones.
#[derive(Debug)]
struct WavHeader {
    /// The codec, with WAVE_FORMAT_EXTENSIBLE resolved to its sub-format.
    format_tag: u16,
    sample_rate: u32,
    block_align: u16,
    /// The `fact` chunk's frame count, which compressed formats must carry.
    fact_frames: Option<u32>,
    /// Bytes of audio the data chunk header promises.
    data_len: u32,
    /// Where the audio bytes start.
    data_offset: u64,
    /// Bytes actually in the file after the data chunk header.
    data_present: u64,
}

impl WavHeader {
    /// `Ok(None)` when the file is not RIFF/WAVE at all (then symphonia probes it).
    fn read(path: &Path, file: &mut File, file_len: u64) -> Result<Option<WavHeader>> {
        let mut reader = BufReader::new(file);
        let mut riff = [0u8; 12];
        let got = read_up_to(&mut reader, &mut riff).map_err(|e| Error::io(path, e))?;
        if got < 4 || &riff[..4] != b"RIFF" {
            return Ok(None);
        }
        if got < 12 {
            return Err(bad(path, "truncated WAV header"));
        }
        if &riff[8..12] != b"WAVE" {
            // RIFF but not WAVE (AVI, WebP, …): let the probe say it is not audio.
            return Ok(None);
        }

        let truncated = || {
            bad(
                path,
                "truncated WAV header: the file ends before the audio data",
            )
        };
        let mut pos: u64 = 12;
        let mut fmt: Option<(u16, u16, u32, u16)> = None;
        let mut fact_frames = None;
        loop {
            let mut chunk = [0u8; 8];
            if read_up_to(&mut reader, &mut chunk).map_err(|e| Error::io(path, e))? < 8 {
                return Err(if fmt.is_some() {
                    truncated()
                } else {
                    bad(path, "WAV file has no fmt chunk")
                });
            }
            pos += 8;
            let id = &chunk[..4];
            let len = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
            if id == b"data" {
                let Some((format_tag, channels, sample_rate, block_align)) = fmt else {
                    return Err(bad(path, "WAV file has no fmt chunk before its data"));
                };
                if channels == 0 {
                    return Err(bad(path, "the WAV header declares zero channels"));
                }
                if sample_rate == 0 {
                    return Err(bad(path, "the WAV header declares a sample rate of 0 Hz"));
                }
                if !matches!(
                    format_tag,
                    TAG_PCM | TAG_MS_ADPCM | TAG_IEEE_FLOAT | TAG_ALAW | TAG_MULAW | TAG_IMA_ADPCM
                ) {
                    return Err(unsupported(
                        path,
                        format!(
                            "WAV codec {} (format tag {format_tag:#06x})",
                            wav_codec_name(format_tag)
                        ),
                    ));
                }
                return Ok(Some(WavHeader {
                    format_tag,
                    sample_rate,
                    block_align,
                    fact_frames,
                    data_len: len,
                    data_offset: pos,
                    data_present: file_len.saturating_sub(pos),
                }));
            }
            // RIFF chunks are padded to an even length.
            let padded = u64::from(len) + u64::from(len % 2);
            if id == b"fmt " || id == b"fact" {
                // Enough for WAVEFORMATEXTENSIBLE; anything longer is skipped below.
                let mut body = [0u8; 40];
                let want = (len as usize).min(body.len());
                if read_up_to(&mut reader, &mut body[..want]).map_err(|e| Error::io(path, e))?
                    < want
                {
                    return Err(truncated());
                }
                let le16 = |at: usize| u16::from_le_bytes([body[at], body[at + 1]]);
                let le32 = |at: usize| {
                    u32::from_le_bytes([body[at], body[at + 1], body[at + 2], body[at + 3]])
                };
                if id == b"fmt " {
                    if len < 16 {
                        return Err(bad(
                            path,
                            format!("malformed WAV fmt chunk ({len} bytes, at least 16 needed)"),
                        ));
                    }
                    let mut tag = le16(0);
                    // The sub-format GUID's first two bytes are the real format tag.
                    if tag == TAG_EXTENSIBLE && len >= 40 {
                        tag = le16(24);
                    }
                    fmt = Some((tag, le16(2), le32(4), le16(12)));
                } else if len >= 4 {
                    fact_frames = Some(le32(0));
                }
                let rest = padded - want as u64;
                skip(&mut reader, rest, pos + want as u64, file_len).map_err(|_| truncated())?;
            } else {
                skip(&mut reader, padded, pos, file_len).map_err(|_| truncated())?;
            }
            pos += padded;
        }
    }

    /// hound handles integer PCM and float; the rest goes straight to symphonia.
    fn hound_may_read(&self) -> bool {
        matches!(self.format_tag, TAG_PCM | TAG_IEEE_FLOAT)
    }

    /// Streaming recorders leave 0xFFFFFFFF as the data length while recording;
    /// anything else beyond the end of the file means the file was cut.
    fn is_truncated(&self) -> bool {
        self.data_len != u32::MAX && u64::from(self.data_len) > self.data_present
    }

    /// True when the data chunk claims more bytes than the file has: a cut file, or
    /// a streaming recorder's placeholder length. Readers must stop at the end of
    /// the file instead of failing there.
    fn data_beyond_file(&self) -> bool {
        u64::from(self.data_len) > self.data_present
    }

    /// The `fact` frame count of a complete ADPCM file.
    fn adpcm_frames(&self) -> Option<u32> {
        match self.format_tag {
            TAG_MS_ADPCM | TAG_IMA_ADPCM if !self.is_truncated() => self.fact_frames,
            _ => None,
        }
    }

    fn frames_from_header(&self) -> Option<u64> {
        let bytes = u64::from(self.data_len).min(self.data_present);
        match self.format_tag {
            TAG_PCM | TAG_IEEE_FLOAT | TAG_ALAW | TAG_MULAW if self.block_align > 0 => {
                Some(bytes / u64::from(self.block_align))
            }
            // ADPCM blocks hold a codec-specific number of frames: trust `fact` only
            // when the data is complete.
            _ => self.adpcm_frames().map(u64::from),
        }
    }
}

/// Reads until `buf` is full or the end of the file; returns the bytes read.
fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Skips `n` bytes at `pos`; an error when that would go past the end of the file.
fn skip(reader: &mut BufReader<&mut File>, n: u64, pos: u64, file_len: u64) -> io::Result<()> {
    if pos + n > file_len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let n = i64::try_from(n).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
    reader.seek_relative(n)
}

/// A WAV file seen through a header whose RIFF and data lengths are corrected to
/// the whole blocks actually present. The header bytes (everything before the
/// audio) are held in memory; the audio is read from the file in place.
struct PatchedWav {
    head: Vec<u8>,
    file: File,
    data_offset: u64,
    len: u64,
    pos: u64,
}

impl PatchedWav {
    fn new(path: &Path, mut file: File, header: &WavHeader) -> Result<Self> {
        let align = u64::from(header.block_align.max(1));
        let data = header.data_present - header.data_present % align;
        let mut head = vec![0u8; header.data_offset as usize];
        file.seek(SeekFrom::Start(0))
            .and_then(|_| file.read_exact(&mut head))
            .map_err(|e| Error::io(path, e))?;
        let len = header.data_offset + data;
        let (Ok(riff_len), Ok(data_len)) = (u32::try_from(len - 8), u32::try_from(data)) else {
            return Err(bad(path, "WAV file larger than 4 GiB"));
        };
        head[4..8].copy_from_slice(&riff_len.to_le_bytes());
        let at = head.len() - 4;
        head[at..].copy_from_slice(&data_len.to_le_bytes());
        Ok(PatchedWav {
            head,
            file,
            data_offset: header.data_offset,
            len,
            pos: 0,
        })
    }
}

impl Read for PatchedWav {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = if self.pos < self.data_offset {
            let from = &self.head[self.pos as usize..];
            let n = from.len().min(buf.len());
            buf[..n].copy_from_slice(&from[..n]);
            n
        } else {
            let left = self.len.saturating_sub(self.pos).min(buf.len() as u64) as usize;
            if left == 0 {
                return Ok(0);
            }
            self.file.seek(SeekFrom::Start(self.pos))?;
            self.file.read(&mut buf[..left])?
        };
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for PatchedWav {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target.ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        Ok(self.pos)
    }
}

impl MediaSource for PatchedWav {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.len)
    }
}

/// Names for the WAV format tags met in telephony and dictation archives (mmreg.h),
/// so an error says "GSM 6.10" rather than a number.
fn wav_codec_name(tag: u16) -> &'static str {
    match tag {
        0x0000 => "unknown",
        0x0010 => "OKI ADPCM",
        0x0014 => "G.723 ADPCM",
        0x0022 => "DSP Group TrueSpeech",
        0x0031 => "GSM 6.10",
        0x0040 => "G.721 ADPCM",
        0x0041 => "G.728 CELP",
        0x0042 => "G.723.1",
        0x0050 => "MPEG-1 Layer I/II",
        0x0055 => "MPEG Layer III (MP3)",
        0x0064 => "G.726 ADPCM",
        0x0065 => "G.722 ADPCM",
        0x0083 => "G.729A",
        0x0092 => "Dolby AC-3 SPDIF",
        0x00FF | 0x1600 | 0x1601 | 0x1610 => "AAC",
        0x0101 => "IBM μ-law",
        0x0102 => "IBM A-law",
        0x0103 => "IBM ADPCM",
        0x0161 => "Windows Media Audio",
        0x0162 => "Windows Media Audio Pro",
        0x0163 => "Windows Media Audio Lossless",
        0x2000 => "Dolby AC-3",
        _ => "not known to this program",
    }
}

// ---------------------------------------------------------------------------
// hound
// ---------------------------------------------------------------------------

/// `Ok(None)` when hound rejects the header, so the caller falls back to symphonia.
fn decode_hound(path: &Path, reader: impl Read) -> Result<Option<Audio>> {
    let mut wav = match hound::WavReader::new(reader) {
        Ok(wav) => wav,
        Err(e) => {
            debug!(path = %path.display(), error = %e, "hound rejects the WAV; trying symphonia");
            return Ok(None);
        }
    };
    let spec = wav.spec();
    let n_channels = usize::from(spec.channels);
    // The lengths are consistent with the file by now (see `PatchedWav`).
    let mut channels = vec![Vec::with_capacity(wav.duration() as usize); n_channels];

    let fail = |e: hound::Error| match e {
        hound::Error::IoError(io) => Error::io(path, io),
        other => bad(path, other.to_string()),
    };
    match spec.sample_format {
        hound::SampleFormat::Float => {
            for (i, sample) in wav.samples::<f32>().enumerate() {
                match sample {
                    Ok(s) => channels[i % n_channels].push(sanitize(s)),
                    Err(e) => return Err(fail(e)),
                }
            }
        }
        hound::SampleFormat::Int => {
            // hound sign-extends every width (and recentres 8-bit unsigned) into i32.
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            for (i, sample) in wav.samples::<i32>().enumerate() {
                match sample {
                    Ok(s) => channels[i % n_channels].push((s as f32 * scale).clamp(-1.0, 1.0)),
                    Err(e) => return Err(fail(e)),
                }
            }
        }
    }
    Ok(Some(Audio {
        sample_rate: spec.sample_rate,
        source_rate: spec.sample_rate,
        channels,
    }))
}

// ---------------------------------------------------------------------------
// symphonia
// ---------------------------------------------------------------------------

fn open_format(path: &Path, mut source: Box<dyn MediaSource>) -> Result<Box<dyn FormatReader>> {
    let mut head = vec![0u8; metadata_guard::CHECK_BYTES];
    let got = read_up_to(&mut source, &mut head).map_err(|e| Error::io(path, e))?;
    rewind(path, &mut source)?;
    let file_len = source.byte_len().unwrap_or(u64::MAX);
    if let Some(reason) = metadata_guard::corrupt_metadata(&head[..got], file_len) {
        return Err(bad(path, reason));
    }

    let mss = MediaSourceStream::new(source, Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    // Gapless trims the MP3 encoder delay and padding, so durations match the source.
    let options = FormatOptions {
        enable_gapless: true,
        ..Default::default()
    };
    match symphonia::default::get_probe().format(&hint, mss, &options, &MetadataOptions::default())
    {
        Ok(probed) => Ok(probed.format),
        Err(SymError::Unsupported(what)) => Err(match sniff_unsupported(&head[..got]) {
            Some(container) => unsupported(path, container),
            None if what.starts_with("wav") => unsupported(path, what),
            None => bad(path, "not a recognised audio format"),
        }),
        Err(SymError::IoError(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
            // Random bytes can hold something that looks like a frame sync and then
            // run out, so this is not necessarily a cut audio file.
            Err(bad(
                path,
                "not a recognised audio format, or its header is cut short",
            ))
        }
        Err(SymError::IoError(e)) => Err(Error::io(path, e)),
        Err(e) => Err(bad(path, e.to_string())),
    }
}

/// Formats that symphonia (as configured here) does not probe, but that are common
/// enough in call archives to deserve "unsupported X" rather than "not audio".
fn sniff_unsupported(head: &[u8]) -> Option<&'static str> {
    let at = |i: usize, magic: &[u8]| head.get(i..i + magic.len()) == Some(magic);
    if at(4, b"ftyp") {
        Some("MP4/M4A container (AAC or ALAC audio)")
    } else if at(0, b"#!AMR-WB") {
        Some("AMR-WB")
    } else if at(0, b"#!AMR") {
        Some("AMR-NB")
    } else if at(0, b"FORM") && (at(8, b"AIFF") || at(8, b"AIFC")) {
        Some("AIFF")
    } else if at(0, b"caff") {
        Some("Core Audio Format (CAF)")
    } else if at(0, &[0x30, 0x26, 0xB2, 0x75]) {
        Some("Windows Media Audio (ASF container)")
    } else if head.len() >= 2 && head[0] == 0xFF && head[1] & 0xF6 == 0xF0 {
        // ADTS sync word with layer bits 00; MP3 frames have a non-zero layer.
        Some("AAC (ADTS stream)")
    } else {
        None
    }
}

fn audio_track<'a>(path: &Path, tracks: &'a [Track]) -> Result<&'a Track> {
    tracks
        .iter()
        .find(|t| t.codec_params.codec != codecs::CODEC_TYPE_NULL)
        .ok_or_else(|| bad(path, "the file contains no audio track"))
}

fn codec_name(codec: CodecType) -> String {
    if let Some(descriptor) = symphonia::default::get_codecs().get_codec(codec) {
        return descriptor.long_name.to_string();
    }
    let name = match codec {
        codecs::CODEC_TYPE_AAC => "AAC",
        codecs::CODEC_TYPE_OPUS => "Opus",
        codecs::CODEC_TYPE_SPEEX => "Speex",
        codecs::CODEC_TYPE_ALAC => "ALAC",
        codecs::CODEC_TYPE_MP1 => "MPEG Layer I",
        codecs::CODEC_TYPE_MP2 => "MPEG Layer II",
        codecs::CODEC_TYPE_WMA => "Windows Media Audio",
        codecs::CODEC_TYPE_EAC3 => "E-AC-3",
        codecs::CODEC_TYPE_AC4 => "AC-4",
        codecs::CODEC_TYPE_DCA => "DTS",
        codecs::CODEC_TYPE_WAVPACK => "WavPack",
        codecs::CODEC_TYPE_MONKEYS_AUDIO => "Monkey's Audio",
        codecs::CODEC_TYPE_TTA => "TTA",
        codecs::CODEC_TYPE_ADPCM_G722 => "G.722 ADPCM",
        codecs::CODEC_TYPE_ADPCM_G726 | codecs::CODEC_TYPE_ADPCM_G726LE => "G.726 ADPCM",
        _ => return format!("codec {codec}"),
    };
    name.to_string()
}

fn decode_symphonia(path: &Path, source: Box<dyn MediaSource>) -> Result<Audio> {
    let mut format = open_format(path, source)?;
    let track = audio_track(path, format.tracks())?;
    let track_id = track.id;
    let params = track.codec_params.clone();
    if params.sample_rate == Some(0) {
        return Err(bad(path, "the header declares a sample rate of 0 Hz"));
    }
    if params.channels.is_some_and(|c| c.count() == 0) {
        return Err(bad(path, "the header declares zero channels"));
    }
    let mut decoder = match symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
    {
        Ok(decoder) => decoder,
        Err(SymError::Unsupported(_)) => return Err(unsupported(path, codec_name(params.codec))),
        Err(e) => return Err(bad(path, format!("{}: {e}", codec_name(params.codec)))),
    };

    let mut channels: Vec<Vec<f32>> = Vec::new();
    let mut rate = 0;
    let mut scratch: Option<AudioBuffer<f32>> = None;
    let (mut decoded, mut failed) = (0usize, 0usize);
    let mut first_failure: Option<SymError> = None;
    // Frames of undecodable packets not yet written. They are written as silence,
    // so what follows a damaged stretch keeps its place in time: a transcript's
    // timestamps must point at the same moment of the recording.
    let mut gap: u64 = 0;
    let max_packet = params.max_frames_per_packet.unwrap_or(u64::MAX);
    // Demuxers that resync past damage (FLAC, MP3) drop what they skip without a
    // packet; a jump in packet timestamps shows it. Only when timestamps count
    // frames, and never more than ten minutes at once, so a corrupt timestamp
    // cannot ask for gigabytes of silence.
    let ts_in_frames = params.sample_rate.is_some_and(|rate| {
        params
            .time_base
            .is_some_and(|tb| tb.numer == 1 && tb.denom == rate)
    });
    let max_jump = u64::from(params.sample_rate.unwrap_or(0)) * 600;
    let mut next_ts: Option<u64> = None;

    loop {
        let packet = match format.next_packet() {
            Ok(packet) => packet,
            // symphonia reports the end of the stream this way; for a cut file it is
            // also where the data runs out, and we keep what came before.
            Err(SymError::IoError(e)) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(SymError::ResetRequired) => {
                // A chained stream (new Ogg logical stream) with new parameters;
                // calls are one stream, so keep the first and say so.
                warn!(path = %path.display(), "stream parameters change mid-file; ignoring the rest");
                break;
            }
            Err(SymError::IoError(e)) => return Err(Error::io(path, e)),
            Err(e) if decoded > 0 => {
                warn!(path = %path.display(), error = %e, "unreadable data mid-file; keeping what was decoded");
                break;
            }
            Err(e) => return Err(bad(path, e.to_string())),
        };
        if packet.track_id() != track_id {
            continue;
        }
        if let Some(expected) = next_ts.filter(|_| ts_in_frames) {
            if packet.ts() > expected {
                let lost = (packet.ts() - expected).min(max_jump);
                debug!(path = %path.display(), lost, "demuxer skipped damaged data");
                gap += lost;
            }
        }
        next_ts = Some(packet.ts().saturating_add(packet.dur()));
        let buffer = match decoder.decode(&packet) {
            Ok(buffer) => buffer,
            // A damaged packet: skip it, as a player would, and count it.
            Err(
                e @ (SymError::DecodeError(_) | SymError::IoError(_) | SymError::Unsupported(_)),
            ) => {
                failed += 1;
                gap += packet.dur().min(max_packet);
                debug!(path = %path.display(), error = %e, "skipping undecodable packet");
                first_failure.get_or_insert(e);
                continue;
            }
            Err(e) => return Err(bad(path, e.to_string())),
        };
        let spec = *buffer.spec();
        if decoded == 0 {
            if spec.rate == 0 {
                return Err(bad(path, "the stream declares a sample rate of 0 Hz"));
            }
            if spec.channels.count() == 0 {
                return Err(bad(path, "the stream declares zero channels"));
            }
            rate = spec.rate;
            channels = vec![Vec::new(); spec.channels.count()];
        } else if spec.rate != rate || spec.channels.count() != channels.len() {
            return Err(bad(
                path,
                format!(
                    "the stream changes from {} channel(s) at {rate} Hz to {} at {} Hz mid-file",
                    channels.len(),
                    spec.channels.count(),
                    spec.rate
                ),
            ));
        }
        decoded += 1;
        if gap > 0 {
            fill_gap(&mut channels, &mut gap);
        }
        if buffer.frames() == 0 {
            continue;
        }
        // `convert` wants a destination at least as large and of the same layout.
        if !scratch
            .as_ref()
            .is_some_and(|s| s.capacity() >= buffer.capacity() && *s.spec() == spec)
        {
            scratch = None;
        }
        let f32s = scratch.get_or_insert_with(|| AudioBuffer::new(buffer.capacity() as u64, spec));
        buffer.convert(f32s);
        for (ch, out) in channels.iter_mut().enumerate() {
            out.extend(f32s.chan(ch).iter().copied().map(sanitize));
        }
    }

    fill_gap(&mut channels, &mut gap);
    if failed > 0 {
        if decoded == 0 {
            return Err(match first_failure {
                Some(SymError::Unsupported(what)) => {
                    unsupported(path, format!("{}: {what}", codec_name(params.codec)))
                }
                Some(e) => bad(
                    path,
                    format!("none of the {failed} packets could be decoded (first error: {e})"),
                ),
                None => bad(path, "no packet could be decoded"),
            });
        }
        warn!(path = %path.display(), failed, decoded, "skipped undecodable packets");
    }
    if decoded == 0 {
        // The container parsed but holds no packets: report the rate anyway.
        rate = params.sample_rate.unwrap_or(0);
        if rate == 0 {
            return Err(Error::EmptyAudio {
                path: path.to_path_buf(),
            });
        }
        channels = vec![Vec::new(); params.channels.map_or(1, |c| c.count())];
    }
    Ok(Audio {
        sample_rate: rate,
        source_rate: rate,
        channels,
    })
}

fn fill_gap(channels: &mut [Vec<f32>], gap: &mut u64) {
    for channel in channels.iter_mut() {
        channel.resize(channel.len() + *gap as usize, 0.0);
    }
    *gap = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_the_decoder_is_the_files_error() {
        // Found by the audio_file fuzz target (see tests/corpus/make_corpus.py):
        // symphonia 0.5 panics on this file instead of returning an error.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.wav");
        let bytes = include_bytes!("../../tests/corpus/files/junk-before-riff-zero-rate.wav");
        std::fs::write(&path, bytes).unwrap();
        let error = decode_file(&path).unwrap_err().to_string();
        assert!(error.contains("decoder failed"), "{error}");
        let error = probe_duration(&path).unwrap_err().to_string();
        assert!(error.contains("decoder failed"), "{error}");
    }

    #[test]
    fn sanitize_clamps_and_zeroes_non_finite() {
        assert_eq!(sanitize(0.25), 0.25);
        assert_eq!(sanitize(1.5), 1.0);
        assert_eq!(sanitize(-3.0), -1.0);
        assert_eq!(sanitize(f32::NAN), 0.0);
        assert_eq!(sanitize(f32::INFINITY), 0.0);
    }

    #[test]
    fn sniffs_common_unsupported_containers() {
        assert_eq!(
            sniff_unsupported(b"\0\0\0\x20ftypM4A \0\0\0\0"),
            Some("MP4/M4A container (AAC or ALAC audio)")
        );
        assert_eq!(sniff_unsupported(b"#!AMR\n"), Some("AMR-NB"));
        assert_eq!(
            sniff_unsupported(&[0xFF, 0xF1, 0x50, 0x80]),
            Some("AAC (ADTS stream)")
        );
        // An MP3 frame header (layer III) must not be taken for ADTS.
        assert_eq!(sniff_unsupported(&[0xFF, 0xFB, 0x90, 0x64]), None);
        assert_eq!(sniff_unsupported(b"hello"), None);
    }

    #[test]
    fn names_telephony_wav_codecs() {
        assert_eq!(wav_codec_name(0x0031), "GSM 6.10");
        assert_eq!(wav_codec_name(0x0055), "MPEG Layer III (MP3)");
        assert_eq!(codec_name(codecs::CODEC_TYPE_OPUS), "Opus");
    }
}
