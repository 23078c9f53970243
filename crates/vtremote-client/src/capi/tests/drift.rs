//! What must not drift: the header against the exported functions and status values, the
//! hostile-argument tests against the exported functions, and the `#[repr(C)]` layouts
//! against `tests/ffmpeg/capi_smoke.c`, which asserts the same numbers on the C side.

use super::*;

/// Names of the `extern "C"` functions defined in this file, sorted.
fn exported_functions() -> Vec<&'static str> {
    let source = include_str!("../../capi.rs");
    let mut exported: Vec<&str> = source
        .split("extern \"C\" fn ")
        .skip(1)
        .map(|rest| rest.split('(').next().unwrap())
        .filter(|name| name.starts_with("vtremote_"))
        .collect();
    exported.sort();
    exported
}

/// Every `extern "C"` function here is declared in the committed header and vice versa,
/// and the status values agree.
#[test]
fn header_declares_every_exported_function() {
    let header = include_str!("../../../../../include/vtremote.h");
    let exported = exported_functions();
    let mut declared: Vec<&str> = header
        .lines()
        .filter(|l| !l.trim_start().starts_with('*') && !l.trim_start().starts_with("//"))
        .filter_map(|l| {
            let (before, _) = l.split_once('(')?;
            let name = before.split_whitespace().last()?.trim_start_matches('*');
            name.starts_with("vtremote_").then_some(name)
        })
        .collect();
    declared.sort();
    declared.dedup();
    assert_eq!(
        exported, declared,
        "include/vtremote.h and capi.rs disagree"
    );
    for st in ALL_STATUSES {
        let name = format!("{st:?}");
        let mut c_name = String::from("VTREMOTE_");
        for (i, ch) in name.chars().enumerate() {
            if ch.is_uppercase() && i > 0 {
                c_name.push('_');
            }
            c_name.push(ch.to_ascii_uppercase());
        }
        if st as c_int <= 0 && st != St::Ok {
            c_name = c_name.replacen("VTREMOTE_", "VTREMOTE_ERROR_", 1);
        }
        let decl = format!("{c_name} = {}", st as c_int);
        assert!(header.contains(&decl), "header lacks `{decl}`");
    }
    let version = format!(
        "#define VTREMOTE_VERSION_MAJOR {}",
        env!("CARGO_PKG_VERSION_MAJOR")
    );
    assert!(header.contains(&version), "header lacks `{version}`");
}

// ---- Hostile arguments: every entry point on sessions that are not open, then open ones

/// Every exported function, each called by `every_entry_point_*` below; checked against
/// the definitions in this file so a new entry point cannot be forgotten.
const EXERCISED: [&str; 26] = [
    "vtremote_version",
    "vtremote_version_string",
    "vtremote_status_string",
    "vtremote_session_new",
    "vtremote_session_free",
    "vtremote_session_set_option",
    "vtremote_session_set_extradata",
    "vtremote_session_set_log_callback",
    "vtremote_session_set_cookie_free",
    "vtremote_session_open",
    "vtremote_session_last_error",
    "vtremote_session_extradata",
    "vtremote_session_warning_count",
    "vtremote_session_warning",
    "vtremote_session_send_frame",
    "vtremote_session_send_frame_with_cookie",
    "vtremote_session_receive_packet",
    "vtremote_session_receive_packet_with_cookie",
    "vtremote_session_send_packet",
    "vtremote_session_send_packet_with_cookie",
    "vtremote_session_receive_frame",
    "vtremote_session_receive_frame_with_cookie",
    "vtremote_session_send_eof",
    "vtremote_session_reset",
    "vtremote_session_get_stats",
    "vtremote_session_summary",
];

#[test]
fn the_hostile_argument_tests_cover_every_exported_function() {
    let mut exercised = EXERCISED.to_vec();
    exercised.sort();
    assert_eq!(exercised, exported_functions());
}

/// `sizeof`/`offsetof` of every `#[repr(C)]` type and field, spelled as in C.
macro_rules! layout {
    ($($ty:ident { $($field:ident),* $(,)? })*) => {{
        let mut v: Vec<(String, usize)> = Vec::new();
        $(
            v.push((format!("sizeof({})", stringify!($ty)), std::mem::size_of::<$ty>()));
            $(
                v.push((
                    // `type` is a Rust keyword: the field is `type_` here.
                    format!("offsetof({}, {})", stringify!($ty), stringify!($field).trim_end_matches('_')),
                    std::mem::offset_of!($ty, $field),
                ));
            )*
        )*
        v
    }};
}

/// The C compiler checks the header's layouts against these numbers (`_Static_assert`s in
/// tests/ffmpeg/capi_smoke.c); this test checks them against Rust's, so a field added,
/// moved or resized on either side fails one of the two. The numbers are for 64-bit
/// targets, the only ones the C file asserts on.
#[cfg(target_pointer_width = "64")]
#[test]
fn struct_layouts_match_the_static_asserts_of_the_c_smoke_test() {
    let rust = layout! {
        VtremoteStatus {}
        VtremoteSideData { type_, data, size }
        VtremoteFrame { pts, duration, flags, data, linesize, side_data, nb_side_data }
        VtremotePacket { data, size, pts, dts, duration, flags }
        VtremotePicture { pts, duration, width, height, pix_fmt, data, linesize }
        VtremoteStats {
            frames, packets, bytes_sent, bytes_received, max_inflight, elapsed_s, sent_mbps,
            received_mbps, mean_send_ms, mean_wait_ms,
        }
    };
    let c_source = include_str!("../../../../../tests/ffmpeg/capi_smoke.c");
    let mut seen: Vec<(String, usize)> = c_source
        .lines()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("_Static_assert(")?;
            let (lhs, tail) = rest.split_once(" == ")?;
            let value = tail.split(',').next()?.trim().parse().ok()?;
            Some((lhs.to_string(), value))
        })
        .collect();
    seen.sort();
    let mut want = rust.clone();
    want.sort();
    let block: String = rust
        .iter()
        .map(|(k, v)| format!("_Static_assert({k} == {v}, \"{k}\");\n"))
        .collect();
    assert_eq!(
        seen, want,
        "tests/ffmpeg/capi_smoke.c must assert exactly these layouts:\n{block}"
    );
}
