//! Any bytes on stdin, cut into two pieces anywhere: the live stream parser gives
//! the same samples as for one piece, every sample in [-1, 1], or an error; never
//! a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use subtext::live::input::{PcmDecoder, SampleFormat, StreamFormat};

fn decode(pieces: &[&[u8]]) -> Option<Vec<Vec<f32>>> {
    let raw = StreamFormat {
        sample: SampleFormat::S16,
        rate: 16_000,
        channels: 2,
    };
    let mut decoder = PcmDecoder::new(raw).unwrap();
    let mut channels: Vec<Vec<f32>> = Vec::new();
    let mut take = |frames: Vec<Vec<f32>>| {
        if channels.is_empty() {
            channels = vec![Vec::new(); frames.len()];
        }
        for (all, new) in channels.iter_mut().zip(frames) {
            all.extend(new);
        }
    };
    for piece in pieces {
        take(decoder.push(piece).ok()?);
    }
    take(decoder.finish(true).ok()?);
    Some(channels)
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let cut = usize::from(data[0]) * data.len() / 256;
    let data = &data[1..];
    let cut = cut.min(data.len());
    let whole = decode(&[data]);
    let split = decode(&[&data[..cut], &data[cut..]]);
    assert_eq!(whole.is_some(), split.is_some());
    if let (Some(a), Some(b)) = (&whole, &split) {
        assert_eq!(a, b);
        assert!(a.iter().flatten().all(|s| (-1.0..=1.0).contains(s)));
    }
});
