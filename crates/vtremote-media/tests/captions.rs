//! A53 captions inserted by `sei` are recognised by a real decoder (the system FFmpeg).

use std::process::Command;

use vtremote_media::{annexb, nal, sei, Codec};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Splits a stream into access units at each slice that starts a picture (first_mb /
/// first_slice_segment flag set), which is all these single-slice fixtures need.
fn access_units(codec: Codec, data: &[u8]) -> Vec<Vec<u8>> {
    let mut units: Vec<Vec<u8>> = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    for n in annexb::nal_units(data) {
        let t = nal::nal_type(codec, n);
        let slice = match codec {
            Codec::H264 => nal::h264::is_vcl(t),
            Codec::Hevc => nal::hevc::is_vcl(t),
        };
        annexb::write_annexb(&mut pending, [n]);
        if slice {
            units.push(std::mem::take(&mut pending));
        }
    }
    units
}

/// (access units captioned, frames on which ffprobe reports captions)
fn captions_seen(codec: Codec, fixture_name: &str) -> (usize, usize) {
    let data = fixture(fixture_name);
    let mut stream = Vec::new();
    let units = access_units(codec, &data);
    assert!(units.len() >= 5, "{} access units", units.len());
    for (i, au) in units.iter().enumerate() {
        let cc = [0xFC, 0x80 | (i as u8 & 0x7F), 0x80];
        let sei = sei::a53_cc_sei(codec, &cc).unwrap();
        stream.extend(sei::insert_before_first_slice(codec, au, &sei));
    }
    let dir =
        std::env::temp_dir().join(format!("vtremote-cc-{}-{fixture_name}", std::process::id()));
    std::fs::write(&dir, &stream).unwrap();
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_frames",
            "-show_entries",
            "frame_side_data=side_data_type",
        ])
        .arg(&dir)
        .output()
        .expect("system ffprobe");
    let _ = std::fs::remove_file(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = String::from_utf8_lossy(&out.stdout)
        .matches("Closed Captions")
        .count();
    (units.len(), seen)
}

#[test]
fn h264_captions_reach_the_decoder() {
    let (units, seen) = captions_seen(Codec::H264, "h264_320x240_bf2.h264");
    assert_eq!(seen, units, "every captioned frame reports its captions");
}

#[test]
fn hevc_captions_reach_the_decoder() {
    let (units, seen) = captions_seen(Codec::Hevc, "hevc_320x240_main10.h265");
    assert_eq!(seen, units, "every captioned frame reports its captions");
}
