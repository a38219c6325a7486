//! Refuses files whose metadata states more bytes than holds them, before symphonia
//! sees them.
//!
//! symphonia 0.5.5 allocates several stated lengths (up to 4 GiB each) before it
//! reads the bytes: a FLAC picture block's media type, description and image, and
//! every Vorbis comment (in FLAC comment blocks, Ogg Vorbis and Opus comment headers,
//! and Ogg FLAC), and the frames of an ID3v2.3 tag in front of an MP3 or FLAC. A
//! picture can also hide inside a comment, base64-encoded as `METADATA_BLOCK_PICTURE`.
//! A 1.5 kB file asked for 3.7 GB this way (found by the
//! `audio_file` fuzzer). With overcommit that is a lazy page mapping, but on a small
//! machine the allocation fails, and Rust aborts the whole process, batch and all. Such
//! a length cannot be honest, so the file is refused with its reason and the batch goes
//! on. Every check compares a length with what could hold it (the block, the packet
//! or the file), so a valid file is never refused.

/// How much of a file is checked: symphonia's probe looks for a format marker in
/// the first 1 MiB, and the metadata follows the marker.
pub(super) const CHECK_BYTES: usize = 2 << 20;

const FLAC_COMMENT: u8 = 4;
const FLAC_PICTURE: u8 = 6;

/// Why the metadata in `head` (the first [`CHECK_BYTES`] of a file of `file_len`
/// bytes) cannot be read safely, or `None` when it can.
pub(super) fn corrupt_metadata(head: &[u8], file_len: u64) -> Option<&'static str> {
    match probed_stream(head)? {
        Stream::Flac(at) => native_flac(&head[at..]),
        Stream::Ogg(at) => ogg(&head[at..], file_len),
        Stream::Refused(reason) => Some(reason),
    }
}

enum Stream {
    Flac(usize),
    Ogg(usize),
    /// An ID3v2 tag in front of the stream is itself unsafe to read.
    Refused(&'static str),
}

/// Where symphonia's probe (with the formats enabled here) finds the stream it reads:
/// the first format marker, after any ID3v2 tags, which it reads and steps over. Only
/// that stream's metadata is read, so only it is checked: a "fLaC" that happens to lie
/// in an MP3's audio must not get the MP3 refused. `None`: MP3, WAV or no marker.
fn probed_stream(head: &[u8]) -> Option<Stream> {
    let mut at = 0;
    while let Some(rest) = head.get(at..).filter(|r| r.len() >= 2) {
        if rest.starts_with(b"fLaC") {
            return Some(Stream::Flac(at));
        }
        if rest.starts_with(b"OggS") {
            return Some(Stream::Ogg(at));
        }
        if rest.starts_with(b"RIFF") || is_mpeg_sync(rest[0], rest[1]) {
            return None;
        }
        if rest.starts_with(b"ID3") && rest.len() >= 10 {
            // The tag's 28-bit "syncsafe" size, after its 10-byte header (symphonia
            // does not step over a footer).
            let size = rest[6..10]
                .iter()
                .fold(0usize, |size, &b| size << 7 | usize::from(b & 0x7F));
            if rest[3] == 3 && !id3v23_frames_fit(rest, size) {
                return Some(Stream::Refused(
                    "corrupt ID3v2 tag: a frame states more bytes than the tag holds",
                ));
            }
            at += 10 + size;
            continue;
        }
        at += 1;
    }
    None
}

/// ID3v2.3 frame sizes are plain 32-bit (2.2's are 24-bit, 2.4's 28-bit), and
/// symphonia allocates a known frame's size before reading it: each must fit the tag
/// (`tag` starts at "ID3"; `size` is the header's). Mirrors symphonia's walk: the
/// body is un-synchronised first when the header says so, then the extended header
/// is stepped over, then frames (4-byte id, size, flags) follow until padding.
fn id3v23_frames_fit(tag: &[u8], size: usize) -> bool {
    let raw = &tag[10..(10 + size).min(tag.len())];
    let body: Vec<u8> = if tag[5] & 0x80 != 0 {
        // Unsynchronisation: a 0x00 after every 0xFF was inserted; drop it.
        raw.iter()
            .enumerate()
            .filter(|&(i, &b)| !(b == 0 && i > 0 && raw[i - 1] == 0xFF))
            .map(|(_, &b)| b)
            .collect()
    } else {
        raw.to_vec()
    };
    let mut at = 0;
    if tag[5] & 0x40 != 0 {
        // Extended header: size (6 or 10; symphonia refuses others), flags, padding
        // size, and a CRC when the size is 10 and its flag is set.
        let (Some(extended), Some(flags)) = (be32(&body, 0), body.get(4)) else {
            return true;
        };
        at = 10
            + if extended == 10 && flags & 0x80 != 0 {
                4
            } else {
                0
            };
    }
    while let Some(id) = body.get(at..at + 4) {
        if !id
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            break;
        }
        let Some(frame) = be32(&body, at + 4) else {
            break;
        };
        if frame > size {
            return false;
        }
        at += 10 + frame;
    }
    true
}

/// symphonia's MPEG audio markers: 0xFF, then version 1, 2 or 2.5 and layer I-III.
fn is_mpeg_sync(first: u8, second: u8) -> bool {
    first == 0xFF && second & 0xE0 == 0xE0 && second & 0x18 != 0x08 && second & 0x06 != 0
}

/// Native FLAC: "fLaC", then metadata blocks (a 4-byte header: last flag, type,
/// 24-bit length).
fn native_flac(head: &[u8]) -> Option<&'static str> {
    let mut block = 4;
    while let Some(header) = head.get(block..block + 4) {
        let last = header[0] & 0x80 != 0;
        let length = be24(&header[1..4]);
        let data = block + 4;
        let body = &head[data.min(head.len())..(data + length).min(head.len())];
        if let Some(reason) = flac_block(header[0] & 0x7F, body, length) {
            return Some(reason);
        }
        if last {
            break;
        }
        block = data + length;
    }
    None
}

/// One FLAC metadata block's body (as much as is at hand) against `bound`, the most
/// bytes any length inside it may state.
fn flac_block(kind: u8, body: &[u8], bound: usize) -> Option<&'static str> {
    match kind {
        FLAC_PICTURE if !picture_fits(body, bound) => {
            Some("corrupt FLAC metadata: a picture block states more bytes than it holds")
        }
        FLAC_COMMENT => comments(body, bound).err().map(|_| {
            "corrupt FLAC metadata: a Vorbis comment states more bytes than its block holds"
        }),
        _ => None,
    }
}

/// A FLAC picture: type, media-type length + bytes, description length + bytes, four
/// u32 fields, image length. Lengths past the end of `body` are not known and pass.
fn picture_fits(body: &[u8], bound: usize) -> bool {
    let media = be32(body, 4).unwrap_or(0);
    if media > bound {
        return false;
    }
    let description_at = media.saturating_add(8);
    let description = be32(body, description_at).unwrap_or(0);
    if description > bound {
        return false;
    }
    let image_at = description_at
        .saturating_add(description)
        .saturating_add(20);
    let image = be32(body, image_at).unwrap_or(0);
    image <= bound
}

/// A Vorbis comment list: vendor length + bytes, comment count, then length + bytes
/// for each comment. `Err(())` when a stated length exceeds `bound`, or a picture
/// comment's own lengths exceed the picture.
fn comments(body: &[u8], bound: usize) -> Result<(), ()> {
    let Some(vendor) = le32(body, 0) else {
        return Ok(());
    };
    if vendor > bound {
        return Err(());
    }
    let mut at = vendor.saturating_add(8);
    while let Some(length) = le32(body, at) {
        if length > bound {
            return Err(());
        }
        at += 4;
        if let Some(comment) = body.get(at..at.saturating_add(length)) {
            if let Some(picture) = embedded_picture(comment) {
                if !picture_fits(&picture, picture.len()) {
                    return Err(());
                }
            }
        }
        at = at.saturating_add(length);
    }
    Ok(())
}

/// The decoded picture of a `METADATA_BLOCK_PICTURE=<base64>` comment, which
/// symphonia reads as a FLAC picture block.
fn embedded_picture(comment: &[u8]) -> Option<Vec<u8>> {
    const KEY: &[u8] = b"METADATA_BLOCK_PICTURE=";
    let value = comment.get(KEY.len()..)?;
    if !comment[..KEY.len()].eq_ignore_ascii_case(KEY) {
        return None;
    }
    base64::decode_config(value, base64::STANDARD).ok()
}

/// Ogg (`head` starts at the first page): pages ("OggS", 27-byte header, segment
/// table, body) carry the packets of one or more logical streams, told apart by serial
/// number. Packets are reassembled per stream, and the comment headers among them are
/// checked. Between pages, the next "OggS" is searched for, as symphonia resyncs.
fn ogg(head: &[u8], file_len: u64) -> Option<&'static str> {
    let find_page = |from: usize| {
        let rest = head.get(from..)?;
        let at = rest.windows(4).position(|w| w == b"OggS")?;
        Some(from + at)
    };
    let file_bound = usize::try_from(file_len).unwrap_or(usize::MAX);
    let mut streams: Vec<OggStream> = Vec::new();
    let mut page = Some(0);
    while let Some(at) = page {
        let (Some(serial), Some(&count)) = (le32(head, at + 14), head.get(at + 26)) else {
            break;
        };
        let Some(lacing) = head.get(at + 27..at + 27 + usize::from(count)) else {
            break;
        };
        let stream = match streams.iter().position(|s| s.serial == serial) {
            Some(i) => &mut streams[i],
            None => {
                streams.push(OggStream::new(serial));
                streams.last_mut().expect("just pushed")
            }
        };
        let mut body = at + 27 + usize::from(count);
        for &segment in lacing {
            let end = (body + usize::from(segment)).min(head.len());
            stream.packet.extend_from_slice(&head[body.min(end)..end]);
            stream.packet_cut |= end < body + usize::from(segment);
            body += usize::from(segment);
            if segment < 255 {
                // A whole packet: nothing in it can be longer than it, unless the end
                // of `head` cut it short.
                let bound = if stream.packet_cut {
                    file_bound
                } else {
                    stream.packet.len()
                };
                if let Some(reason) = stream.finish_packet(bound) {
                    return Some(reason);
                }
            }
        }
        page = find_page(body);
    }
    // Packets cut off by the end of `head`: the file is the only bound left.
    streams
        .iter_mut()
        .filter(|s| !s.packet.is_empty())
        .find_map(|s| s.finish_packet(file_bound))
}

struct OggStream {
    serial: usize,
    packet: Vec<u8>,
    /// Some of `packet`'s bytes lie beyond the checked head of the file.
    packet_cut: bool,
    packets_done: usize,
    /// Ogg FLAC: after the first packet, each header packet is one metadata block.
    is_flac: bool,
}

impl OggStream {
    fn new(serial: usize) -> Self {
        Self {
            serial,
            packet: Vec::new(),
            packet_cut: false,
            packets_done: 0,
            is_flac: false,
        }
    }

    fn finish_packet(&mut self, bound: usize) -> Option<&'static str> {
        const OGG_REASON: &str =
            "corrupt Ogg metadata: a comment header states more bytes than it holds";
        let packet = std::mem::take(&mut self.packet);
        self.packet_cut = false;
        self.packets_done += 1;
        if self.packets_done == 1 && packet.starts_with(b"\x7FFLAC") {
            self.is_flac = true;
            return None;
        }
        let comment_list = if let Some(rest) = packet.strip_prefix(b"\x03vorbis") {
            Some(rest)
        } else {
            packet.strip_prefix(b"OpusTags")
        };
        if let Some(list) = comment_list {
            return comments(list, bound).err().map(|_| OGG_REASON);
        }
        if self.is_flac && packet.len() >= 4 && packet[0] & 0x7F != 0x7F {
            return flac_block(packet[0] & 0x7F, &packet[4..], bound).map(|_| OGG_REASON);
        }
        None
    }
}

fn be24(b: &[u8]) -> usize {
    usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2])
}

fn be32(b: &[u8], at: usize) -> Option<usize> {
    let bytes: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(bytes) as usize)
}

fn le32(b: &[u8], at: usize) -> Option<usize> {
    let bytes: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(bytes) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A FLAC picture block body: media type, description, four u32 fields, image.
    fn picture(media_len: u32, media: &[u8], image_len: u32) -> Vec<u8> {
        let mut body = 3u32.to_be_bytes().to_vec();
        body.extend(media_len.to_be_bytes());
        body.extend(media);
        body.extend(0u32.to_be_bytes());
        body.extend([0u8; 16]);
        body.extend(image_len.to_be_bytes());
        body
    }

    /// A Vorbis comment list with the given comments (and their stated lengths).
    fn comment_list(comments: &[(u32, &[u8])]) -> Vec<u8> {
        let mut body = 4u32.to_le_bytes().to_vec();
        body.extend(b"test");
        body.extend((comments.len() as u32).to_le_bytes());
        for (length, text) in comments {
            body.extend(length.to_le_bytes());
            body.extend(*text);
        }
        body
    }

    fn native_flac_file(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut file = b"xyzfLaC".to_vec();
        let length = body.len() as u32;
        file.extend([
            0x80 | kind,
            (length >> 16) as u8,
            (length >> 8) as u8,
            length as u8,
        ]);
        file.extend(body);
        file
    }

    /// One Ogg page holding `packets`, each whole and under 255 bytes.
    fn ogg_page(serial: u32, packets: &[&[u8]]) -> Vec<u8> {
        let lacing: Vec<u8> = packets.iter().map(|p| p.len() as u8).collect();
        ogg_page_laced(serial, &lacing, &packets.concat())
    }

    /// One Ogg page with the given segment table (a 255 continues a packet) and body.
    fn ogg_page_laced(serial: u32, lacing: &[u8], body: &[u8]) -> Vec<u8> {
        let mut page = b"OggS\0\x02".to_vec();
        page.extend([0u8; 8]);
        page.extend(serial.to_le_bytes());
        page.extend([0u8; 8]);
        page.push(lacing.len() as u8);
        page.extend(lacing);
        page.extend(body);
        page
    }

    #[test]
    fn flac_picture_lengths_past_their_block_are_refused() {
        let lying = native_flac_file(FLAC_PICTURE, &picture(0xFFFF_FFF0, b"", 0));
        assert!(corrupt_metadata(&lying, 1 << 30).is_some());
        let image_lies = native_flac_file(FLAC_PICTURE, &picture(9, b"image/png", 1 << 20));
        assert!(corrupt_metadata(&image_lies, 1 << 30).is_some());
        let honest = native_flac_file(FLAC_PICTURE, &picture(9, b"image/png", 0));
        assert_eq!(corrupt_metadata(&honest, 1 << 30), None);
        assert_eq!(corrupt_metadata(b"RIFF....WAVE", 12), None);
    }

    #[test]
    fn only_the_stream_symphonia_probes_is_checked() {
        let lying = native_flac_file(FLAC_PICTURE, &picture(0xFFFF_FFF0, b"", 0));
        // After an ID3v2 tag (10-byte header, syncsafe size 0x81 = 129 bytes).
        let mut tagged = b"ID3\x04\x00\x00\x00\x00\x01\x01".to_vec();
        tagged.extend([0u8; 129]);
        tagged.extend(&lying);
        assert!(corrupt_metadata(&tagged, 1 << 30).is_some());
        // Behind an MP3 frame sync, or inside a WAV, symphonia never reads it.
        for prefix in [&[0xFF, 0xFB, 0x90, 0x64][..], b"RIFF\0\0\0\0WAVE"] {
            let mut file = prefix.to_vec();
            file.extend(&lying);
            assert_eq!(corrupt_metadata(&file, 1 << 30), None);
        }
    }

    /// An ID3v2.3 tag (no flags) holding one frame whose size field says `stated`.
    fn id3v23_tag(stated: u32) -> Vec<u8> {
        let mut frame = b"TIT2".to_vec();
        frame.extend(stated.to_be_bytes());
        frame.extend([0, 0, 3]);
        frame.extend(b"Klacht");
        let mut tag = b"ID3\x03\x00\x00\x00\x00\x00".to_vec();
        tag.push(frame.len() as u8);
        tag.extend(frame);
        tag
    }

    #[test]
    fn id3v23_frames_larger_than_their_tag_are_refused() {
        let mp3_frame = [0xFF, 0xFB, 0x90, 0x64, 0, 0, 0, 0];
        let mut honest = id3v23_tag(7);
        honest.extend(mp3_frame);
        assert_eq!(corrupt_metadata(&honest, 1 << 20), None);
        let mut lying = id3v23_tag(0xF000_0000);
        lying.extend(mp3_frame);
        let reason = corrupt_metadata(&lying, 1 << 20);
        assert!(reason.unwrap().contains("ID3v2"));
        // Unsynchronised: the lying size's 0xFF bytes are followed by inserted zeros.
        let mut unsync = b"ID3\x03\x00\x80\x00\x00\x00\x14TIT2".to_vec();
        unsync.extend([0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0, 0, 3]);
        unsync.extend(b"abc");
        unsync.extend(mp3_frame);
        assert!(corrupt_metadata(&unsync, 1 << 20).is_some());
    }

    #[test]
    fn flac_comment_lengths_past_their_block_are_refused() {
        let honest = comment_list(&[(11, b"TITLE=hallo"), (8, b"ARTIST=x")]);
        assert_eq!(
            corrupt_metadata(&native_flac_file(FLAC_COMMENT, &honest), 1 << 30),
            None
        );
        let lying = comment_list(&[(11, b"TITLE=hallo"), (0xF000_0000, b"ARTIST=x")]);
        let reason = corrupt_metadata(&native_flac_file(FLAC_COMMENT, &lying), 1 << 30);
        assert!(reason.unwrap().contains("Vorbis comment"));
    }

    #[test]
    fn a_picture_hidden_in_a_comment_is_checked_too() {
        let encode = |p: &[u8]| base64::encode_config(p, base64::STANDARD);
        let mut honest = b"metadata_block_picture=".to_vec();
        honest.extend(encode(&picture(9, b"image/png", 0)).bytes());
        let mut lying = b"METADATA_BLOCK_PICTURE=".to_vec();
        lying.extend(encode(&picture(0x7FFF_FFFF, b"image/png", 0)).bytes());
        for (comment, refused) in [(honest, false), (lying, true)] {
            let list = comment_list(&[(comment.len() as u32, &comment)]);
            let file = native_flac_file(FLAC_COMMENT, &list);
            assert_eq!(corrupt_metadata(&file, 1 << 30).is_some(), refused);
        }
    }

    #[test]
    fn ogg_vorbis_and_opus_comment_headers_are_checked_per_packet() {
        let identification = b"\x01vorbis-and-the-rest";
        for prefix in [&b"\x03vorbis"[..], b"OpusTags"] {
            let mut honest = prefix.to_vec();
            honest.extend(comment_list(&[(7, b"TITLE=a")]));
            let mut lying = prefix.to_vec();
            lying.extend(comment_list(&[(0x0100_0000, b"TITLE=a")]));
            let file = |packet: &[u8]| {
                let mut file = ogg_page(7, &[identification]);
                file.extend(ogg_page(7, &[packet]));
                file
            };
            let honest_file = file(&honest);
            assert_eq!(
                corrupt_metadata(&honest_file, honest_file.len() as u64),
                None
            );
            let lying_file = file(&lying);
            let reason = corrupt_metadata(&lying_file, lying_file.len() as u64);
            assert!(reason.unwrap().starts_with("corrupt Ogg metadata"));
        }
    }

    #[test]
    fn an_ogg_packet_spanning_pages_is_reassembled_before_it_is_read() {
        // A 300-byte comment: its packet fills one page's 255-byte segment and ends
        // on the next page, so the lengths read across the page header only when the
        // pages are joined first.
        let two_pages = |packet: &[u8]| {
            let (first, second) = packet.split_at(255);
            let mut file = ogg_page_laced(9, &[255], first);
            file.extend(ogg_page(9, &[second]));
            file
        };
        let text = [b'x'; 300];
        let mut packet = b"\x03vorbis".to_vec();
        packet.extend(comment_list(&[(300, &text)]));
        let file = two_pages(&packet);
        assert_eq!(corrupt_metadata(&file, file.len() as u64), None);
        // The same comment claiming more than the file holds.
        packet[7 + 12..7 + 16].copy_from_slice(&0x00FF_FFFFu32.to_le_bytes());
        let file = two_pages(&packet);
        assert!(corrupt_metadata(&file, file.len() as u64).is_some());
    }

    #[test]
    fn an_ogg_packet_cut_by_the_end_of_the_checked_bytes_is_bounded_by_the_file() {
        // A valid 300-byte comment in one page, of which only the first 200 bytes are
        // checked (as when a large cover-art comment crosses the 2 MiB mark): its
        // length is more than the bytes at hand but less than the file.
        let text = [b'x'; 300];
        let mut packet = b"\x03vorbis".to_vec();
        packet.extend(comment_list(&[(300, &text)]));
        let file = ogg_page_laced(5, &[255, (packet.len() - 255) as u8], &packet);
        let head = &file[..file.len() - 150];
        assert_eq!(corrupt_metadata(head, file.len() as u64), None);
        assert!(corrupt_metadata(head, head.len() as u64).is_some());
    }

    #[test]
    fn ogg_flac_metadata_blocks_are_checked_and_its_marker_is_not_walked_twice() {
        let mut first = b"\x7FFLAC\x01\x00\x00\x01fLaC".to_vec();
        first.extend([0, 0, 0, 34]);
        first.extend([0u8; 34]);
        let block = |body: Vec<u8>| {
            let mut packet = vec![0x80 | FLAC_PICTURE, 0, 0, body.len() as u8];
            packet.extend(body);
            packet
        };
        let honest = block(picture(9, b"image/png", 0));
        let lying = block(picture(9, b"image/png", 0x7FFF_0000));
        for (packet, refused) in [(honest, false), (lying, true)] {
            let mut file = ogg_page(3, &[&first]);
            file.extend(ogg_page(3, &[&packet]));
            assert_eq!(corrupt_metadata(&file, 1 << 20).is_some(), refused);
        }
    }
}
