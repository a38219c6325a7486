//! Live input: the bytes arriving on stdin → `f32` samples per channel.
//!
//! Raw PCM (little-endian, interleaved) in the format the user names, or a WAV
//! stream, recognised by its `RIFF…WAVE` header, whose `fmt ` chunk then decides
//! the format. Streaming writers often cannot know the length up front and put 0 or
//! 0xFFFFFFFF in the size fields; both mean "until the end of input".

use crate::error::{Error, Result};

/// How one sample is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleFormat {
    U8,
    S16,
    S24,
    S32,
    F32,
}

impl SampleFormat {
    pub fn bytes(self) -> usize {
        match self {
            SampleFormat::U8 => 1,
            SampleFormat::S16 => 2,
            SampleFormat::S24 => 3,
            SampleFormat::S32 | SampleFormat::F32 => 4,
        }
    }

    fn decode(self, b: &[u8]) -> f32 {
        match self {
            SampleFormat::U8 => (f32::from(b[0]) - 128.0) / 128.0,
            SampleFormat::S16 => f32::from(i16::from_le_bytes([b[0], b[1]])) / 32_768.0,
            SampleFormat::S24 => {
                // Sign-extend by placing the 3 bytes high in an i32.
                (i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8) as f32 / 8_388_608.0
            }
            SampleFormat::S32 => {
                i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32 / 2_147_483_648.0
            }
            SampleFormat::F32 => {
                let x = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                // A NaN or infinity would poison the VAD's LSTM state for good.
                if x.is_finite() {
                    x.clamp(-1.0, 1.0)
                } else {
                    0.0
                }
            }
        }
    }
}

/// What the stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamFormat {
    pub sample: SampleFormat,
    pub rate: u32,
    pub channels: u16,
}

impl StreamFormat {
    pub fn frame_bytes(&self) -> usize {
        self.sample.bytes() * usize::from(self.channels)
    }

    fn check(&self) -> Result<()> {
        if !(1_000..=384_000).contains(&self.rate) {
            return Err(Error::Stream(format!(
                "sample rate {} Hz is not a rate call audio comes at",
                self.rate
            )));
        }
        if self.channels == 0 || self.channels > 32 {
            return Err(Error::Stream(format!(
                "{} channels is not a layout call audio comes in",
                self.channels
            )));
        }
        Ok(())
    }
}

/// The most header bytes read before giving up on finding the `data` chunk.
const MAX_HEADER: usize = 1 << 20;

enum State {
    /// Nothing decided yet: the first bytes tell raw PCM from a WAV header.
    Start,
    Audio,
    /// Past the end of the WAV `data` chunk (trailing chunks are ignored).
    Done,
}

/// Turns the input bytes into samples, keeping any incomplete frame for the next call.
pub struct PcmDecoder {
    raw: StreamFormat,
    format: Option<StreamFormat>,
    state: State,
    pending: Vec<u8>,
    /// Bytes of WAV `data` still announced, when the header gave a real length.
    data_left: Option<u64>,
    /// Audio bytes decoded so far.
    audio_bytes: u64,
    /// Length announced by the WAV header, when it gave one.
    announced: Option<u64>,
}

/// Samples of one piece of input, one vector per channel.
pub type Frames = Vec<Vec<f32>>;

impl PcmDecoder {
    /// `raw`: the format assumed when the input has no WAV header.
    pub fn new(raw: StreamFormat) -> Result<Self> {
        raw.check()?;
        Ok(PcmDecoder {
            raw,
            format: None,
            state: State::Start,
            pending: Vec::new(),
            data_left: None,
            audio_bytes: 0,
            announced: None,
        })
    }

    /// The stream's format, once the first bytes have shown whether there is a header.
    pub fn format(&self) -> Option<StreamFormat> {
        self.format
    }

    /// Seconds of audio decoded so far.
    pub fn seconds(&self) -> f64 {
        self.format.map_or(0.0, |f| {
            self.audio_bytes as f64 / (f.frame_bytes() as f64 * f64::from(f.rate))
        })
    }

    /// Takes the next bytes; returns the whole frames they complete (empty while a
    /// header is still arriving).
    pub fn push(&mut self, bytes: &[u8]) -> Result<Frames> {
        self.pending.extend_from_slice(bytes);
        if let State::Start = self.state {
            if self.pending.len() < 4 {
                return Ok(Vec::new());
            }
            match &self.pending[..4] {
                b"RIFF" => match parse_wav_header(&self.pending)? {
                    None if self.pending.len() > MAX_HEADER => {
                        return Err(Error::Stream(format!(
                            "no WAV `data` chunk in the first {MAX_HEADER} bytes"
                        )))
                    }
                    None => return Ok(Vec::new()),
                    Some(header) => {
                        header.format.check()?;
                        self.pending.drain(..header.data_offset);
                        self.data_left = header.data_len;
                        self.announced = header.data_len;
                        self.format = Some(header.format);
                    }
                },
                b"RIFX" | b"RF64" | b"FORM" => {
                    return Err(Error::Stream(format!(
                        "a {} stream is not supported; send little-endian RIFF WAV or raw PCM",
                        String::from_utf8_lossy(&self.pending[..4])
                    )))
                }
                _ => self.format = Some(self.raw),
            }
            self.state = State::Audio;
        }
        if let State::Done = self.state {
            self.pending.clear();
            return Ok(Vec::new());
        }
        let format = self.format.expect("known once past the start");
        let frame = format.frame_bytes();
        let mut usable = self.pending.len() / frame * frame;
        if let Some(left) = self.data_left {
            usable = usable.min(left as usize / frame * frame);
        }
        let frames = decode(&self.pending[..usable], format);
        self.pending.drain(..usable);
        self.audio_bytes += usable as u64;
        if let Some(left) = &mut self.data_left {
            *left -= usable as u64;
            if *left < frame as u64 {
                // The announced audio is all here; what follows is other chunks.
                self.state = State::Done;
                self.pending.clear();
            }
        }
        Ok(frames)
    }

    /// End of input: returns the last frames (only an input shorter than four bytes
    /// has any left). An incomplete frame, or (with `check_length`: the stream was
    /// not cut off on purpose) a WAV stream shorter than its header announced, is
    /// reported; everything before it was delivered.
    pub fn finish(&mut self, check_length: bool) -> Result<Frames> {
        let mut frames = Vec::new();
        if let State::Start = self.state {
            if self.pending.starts_with(b"RIFF")
                || (!self.pending.is_empty() && b"RIFF".starts_with(&self.pending))
            {
                return Err(Error::Stream("input ended inside the WAV header".into()));
            }
            self.format = Some(self.raw);
            self.state = State::Audio;
            frames = self.push(&[])?;
        }
        let Some(format) = self.format else {
            return Ok(frames);
        };
        if !self.pending.is_empty() {
            return Err(Error::Stream(format!(
                "input ended in the middle of a sample frame: {} stray byte(s) after {} whole \
                 frames of {} bytes ({} channel(s) of {:?}); check --format and --channels",
                self.pending.len(),
                self.audio_bytes / format.frame_bytes() as u64,
                format.frame_bytes(),
                format.channels,
                format.sample
            )));
        }
        if let Some(announced) = self.announced.filter(|_| check_length) {
            if self.audio_bytes < announced {
                return Err(Error::Stream(format!(
                    "the WAV header announced {announced} bytes of audio ({:.1} s) but the input \
                     ended after {} ({:.1} s)",
                    announced as f64 / (format.frame_bytes() as f64 * f64::from(format.rate)),
                    self.audio_bytes,
                    self.seconds()
                )));
            }
        }
        Ok(frames)
    }
}

fn decode(bytes: &[u8], format: StreamFormat) -> Frames {
    let n = usize::from(format.channels);
    let size = format.sample.bytes();
    let mut out: Frames = vec![Vec::with_capacity(bytes.len() / format.frame_bytes()); n];
    for frame in bytes.chunks_exact(format.frame_bytes()) {
        for (c, channel) in out.iter_mut().enumerate() {
            channel.push(format.sample.decode(&frame[c * size..(c + 1) * size]));
        }
    }
    out
}

struct WavHeader {
    format: StreamFormat,
    /// Where the audio starts.
    data_offset: usize,
    /// None: "until the end of input" (a streaming writer's placeholder).
    data_len: Option<u64>,
}

/// Parses a RIFF/WAVE header from the start of `b`. `Ok(None)`: more bytes needed.
fn parse_wav_header(b: &[u8]) -> Result<Option<WavHeader>> {
    let bad = |why: &str| Err(Error::Stream(format!("bad WAV header: {why}")));
    if b.len() < 12 {
        return Ok(None);
    }
    if &b[8..12] != b"WAVE" {
        return bad("RIFF stream is not WAVE");
    }
    let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let mut pos = 12;
    let mut format = None;
    loop {
        if b.len() < pos + 8 {
            return Ok(None);
        }
        let (id, size) = (&b[pos..pos + 4], u32_at(pos + 4));
        let body = pos + 8;
        if id == b"data" {
            let Some(format) = format else {
                return bad("the `data` chunk comes before any `fmt ` chunk");
            };
            let data_len = match size {
                0 | 0xFFFF_FFFF => None,
                n => Some(u64::from(n)),
            };
            return Ok(Some(WavHeader {
                format,
                data_offset: body,
                data_len,
            }));
        }
        if id == b"fmt " {
            if size < 16 {
                return bad("`fmt ` chunk shorter than 16 bytes");
            }
            if b.len() < body + size as usize {
                return Ok(None);
            }
            let tag = u16_at(body);
            let channels = u16_at(body + 2);
            let rate = u32_at(body + 4);
            let block_align = u16_at(body + 12);
            let bits = u16_at(body + 14);
            // WAVE_FORMAT_EXTENSIBLE keeps the real tag in the sub-format GUID.
            let tag = if tag == 0xFFFE && size >= 40 {
                u16_at(body + 24)
            } else {
                tag
            };
            let sample = match (tag, bits) {
                (1, 8) => SampleFormat::U8,
                (1, 16) => SampleFormat::S16,
                (1, 24) => SampleFormat::S24,
                (1, 32) => SampleFormat::S32,
                (3, 32) => SampleFormat::F32,
                (6 | 7, _) => return bad("A-law/μ-law WAV is not supported live; send 16-bit PCM"),
                _ => {
                    return Err(Error::Stream(format!(
                        "unsupported WAV encoding (format tag {tag}, {bits} bits)"
                    )))
                }
            };
            let format_here = StreamFormat {
                sample,
                rate,
                channels,
            };
            if usize::from(block_align) != format_here.frame_bytes() {
                return Err(Error::Stream(format!(
                    "bad WAV header: block align {block_align} does not match {channels} channel(s) of {bits} bits"
                )));
            }
            format = Some(format_here);
        }
        // Chunks are padded to an even length.
        pos = body + size as usize + (size as usize & 1);
        if pos > MAX_HEADER {
            return bad("no `data` chunk in the first megabyte");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s16(rate: u32, channels: u16) -> StreamFormat {
        StreamFormat {
            sample: SampleFormat::S16,
            rate,
            channels,
        }
    }

    /// A WAV header for 16-bit PCM with `data_len` in the size field, optionally
    /// with a `LIST` chunk before `fmt `.
    fn wav_header(rate: u32, channels: u16, data_len: u32, extra_chunk: bool) -> Vec<u8> {
        let mut h = crate::live::pace::wav_header(rate, channels, data_len);
        if extra_chunk {
            h.splice(12..12, *b"LIST\x03\0\0\0abc\0");
        }
        h
    }

    fn samples(values: &[i16]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    #[test]
    fn raw_s16_in_odd_pieces_deinterleaves() {
        let mut d = PcmDecoder::new(s16(16_000, 2)).unwrap();
        let bytes = samples(&[16_384, -16_384, 0, 32_767]);
        let mut got: Frames = vec![Vec::new(), Vec::new()];
        for piece in [&bytes[..3], &bytes[3..5], &bytes[5..]] {
            for (g, f) in got.iter_mut().zip(d.push(piece).unwrap()) {
                g.extend(f);
            }
        }
        assert_eq!(got[0], [0.5, 0.0]);
        assert_eq!(got[1][0], -0.5);
        d.finish(true).unwrap();
    }

    #[test]
    fn wav_header_decides_the_format_even_when_split() {
        let mut bytes = wav_header(8_000, 1, 0xFFFF_FFFF, true);
        bytes.extend(samples(&[8_192, -8_192]));
        let mut d = PcmDecoder::new(s16(16_000, 2)).unwrap();
        let mut got = Vec::new();
        for b in bytes.chunks(5) {
            for f in d.push(b).unwrap() {
                got.extend(f);
            }
        }
        assert_eq!(d.format(), Some(s16(8_000, 1)));
        assert_eq!(got, [0.25, -0.25]);
        d.finish(true).unwrap();
    }

    #[test]
    fn wav_data_length_is_respected_and_a_short_stream_is_reported() {
        let mut bytes = wav_header(16_000, 1, 4, false);
        bytes.extend(samples(&[100, 200]));
        bytes.extend(b"LIST\x04\x00\x00\x00abcd");
        let mut d = PcmDecoder::new(s16(16_000, 1)).unwrap();
        let frames = d.push(&bytes).unwrap();
        assert_eq!(frames[0].len(), 2, "trailing chunks are not audio");
        d.finish(true).unwrap();

        let mut short = wav_header(16_000, 1, 64_000, false);
        short.extend(samples(&[1, 2, 3]));
        let mut d = PcmDecoder::new(s16(16_000, 1)).unwrap();
        d.push(&short).unwrap();
        let err = d.finish(true).unwrap_err().to_string();
        assert!(err.contains("announced 64000 bytes"), "{err}");
    }

    #[test]
    fn odd_byte_count_at_the_end_is_a_clear_error() {
        let mut d = PcmDecoder::new(s16(16_000, 2)).unwrap();
        d.push(&[0, 0, 0, 0, 7]).unwrap();
        let err = d.finish(true).unwrap_err().to_string();
        assert!(
            err.contains("1 stray byte(s)") && err.contains("--channels"),
            "{err}"
        );
    }

    #[test]
    fn lying_headers_are_refused() {
        let mut h = wav_header(16_000, 2, 0, false);
        h[32] = 3; // block align 3 for 2 channels of 16 bits
        let err = PcmDecoder::new(s16(16_000, 1))
            .unwrap()
            .push(&h)
            .unwrap_err();
        assert!(err.to_string().contains("block align"), "{err}");

        let mut h = wav_header(0, 1, 0, false);
        h[28..32].copy_from_slice(&0u32.to_le_bytes());
        let err = PcmDecoder::new(s16(16_000, 1))
            .unwrap()
            .push(&h)
            .unwrap_err();
        assert!(err.to_string().contains("0 Hz"), "{err}");

        let err = PcmDecoder::new(s16(16_000, 1))
            .unwrap()
            .push(b"RIFX....")
            .unwrap_err();
        assert!(err.to_string().contains("RIFX"), "{err}");
    }

    #[test]
    fn sample_formats_decode_to_unit_range() {
        assert_eq!(SampleFormat::U8.decode(&[0]), -1.0);
        assert_eq!(SampleFormat::S24.decode(&[0, 0, 0x80]), -1.0);
        assert_eq!(SampleFormat::S24.decode(&[0, 0, 0x40]), 0.5);
        assert_eq!(SampleFormat::S32.decode(&i32::MIN.to_le_bytes()), -1.0);
        assert_eq!(SampleFormat::F32.decode(&f32::NAN.to_le_bytes()), 0.0);
        assert_eq!(SampleFormat::F32.decode(&2.5f32.to_le_bytes()), 1.0);
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        /// Decodes `bytes` delivered in pieces cut at `cuts`; the frames, then the
        /// result of `finish`.
        fn decode_in_pieces(bytes: &[u8], cuts: &[usize], raw: StreamFormat) -> (Frames, bool) {
            let mut d = PcmDecoder::new(raw).unwrap();
            let mut all: Frames = Vec::new();
            let mut at = 0;
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
            cuts.sort_unstable();
            cuts.push(bytes.len());
            let mut failed = false;
            for cut in cuts {
                match d.push(&bytes[at..cut.max(at)]) {
                    Ok(frames) => {
                        all.resize(all.len().max(frames.len()), Vec::new());
                        for (a, f) in all.iter_mut().zip(frames) {
                            a.extend(f);
                        }
                    }
                    Err(_) => {
                        failed = true;
                        break;
                    }
                }
                at = cut.max(at);
            }
            if !failed {
                match d.finish(true) {
                    Ok(frames) => {
                        all.resize(all.len().max(frames.len()), Vec::new());
                        for (a, f) in all.iter_mut().zip(frames) {
                            a.extend(f);
                        }
                    }
                    Err(_) => failed = true,
                }
            }
            (all, failed)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(400))]

            /// Any bytes, cut anywhere: no panic, and the same result as in one piece.
            #[test]
            fn any_input_in_any_pieces_decodes_the_same(
                bytes in proptest::collection::vec(any::<u8>(), 0..600),
                cuts in proptest::collection::vec(any::<usize>(), 0..8),
                stereo in any::<bool>(),
            ) {
                let raw = s16(16_000, if stereo { 2 } else { 1 });
                let whole = decode_in_pieces(&bytes, &[], raw);
                let pieces = decode_in_pieces(&bytes, &cuts, raw);
                prop_assert_eq!(whole.1, pieces.1);
                if !whole.1 {
                    prop_assert_eq!(whole.0, pieces.0);
                }
            }

            /// A real WAV header with bytes flipped: an error or audio, never a panic,
            /// and every sample finite and within [-1, 1].
            #[test]
            fn damaged_wav_headers_never_panic(
                flips in proptest::collection::vec((0usize..44, any::<u8>()), 1..6),
                cuts in proptest::collection::vec(any::<usize>(), 0..4),
            ) {
                let mut bytes = wav_header(16_000, 2, 400, false);
                bytes.extend((0..400u32).map(|i| (i * 37 % 256) as u8));
                for (at, value) in flips {
                    bytes[at] = value;
                }
                let (frames, _) = decode_in_pieces(&bytes, &cuts, s16(16_000, 1));
                for channel in &frames {
                    prop_assert!(channel.iter().all(|x| x.is_finite() && x.abs() <= 1.0));
                }
            }
        }
    }
}
