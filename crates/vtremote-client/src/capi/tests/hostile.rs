//! Every entry point with NULL, misaligned, oversized and out-of-order arguments: each is
//! refused with a sentence, never a crash, and the session stays usable.

use super::*;

#[test]
fn status_strings_are_static_and_cover_unknown_values() {
    for st in ALL_STATUSES {
        let p = vtremote_status_string(st as c_int);
        assert!(!unsafe { CStr::from_ptr(p) }.to_bytes().is_empty());
    }
    let p = vtremote_status_string(12345);
    assert_eq!(
        unsafe { CStr::from_ptr(p) }.to_str().unwrap(),
        "unknown status"
    );
}

#[test]
fn version_matches_the_crate() {
    let v = vtremote_version();
    let s = unsafe { CStr::from_ptr(vtremote_version_string()) }
        .to_str()
        .unwrap();
    let parts: Vec<u32> = s.split('.').map(|p| p.parse().unwrap()).collect();
    assert_eq!(v, (parts[0] << 16) | (parts[1] << 8) | parts[2]);
}

#[test]
fn null_handles_and_pointers_are_refused_not_dereferenced() {
    assert!(vtremote_session_new(7).is_null());
    assert_eq!(
        unsafe { vtremote_session_open(ptr::null_mut()) },
        St::InvalidArgument
    );
    unsafe { vtremote_session_free(ptr::null_mut()) };
    let s = vtremote_session_new(VTREMOTE_MODE_ENCODE);
    let k = CString::new("host").unwrap();
    assert_eq!(
        unsafe { vtremote_session_set_option(s, k.as_ptr(), ptr::null()) },
        St::InvalidArgument
    );
    assert!(last_error(s).contains("value is NULL"));
    assert_eq!(
        unsafe { vtremote_session_send_frame(s, ptr::null()) },
        St::InvalidArgument
    );
    assert_eq!(
        unsafe { vtremote_session_set_extradata(s, ptr::null(), 4) },
        St::InvalidArgument
    );
    unsafe { vtremote_session_free(s) };
}

#[test]
fn a_panic_is_caught_and_poisons_the_handle() {
    let s = vtremote_session_new(VTREMOTE_MODE_ENCODE);
    assert_eq!(set(s, "test_panic", "boom"), St::Internal);
    assert!(
        last_error(s).contains("test panic: boom"),
        "{}",
        last_error(s)
    );
    // Unusable afterwards, but still answerable and freeable.
    assert_eq!(set(s, "host", "127.0.0.1:1"), St::Internal);
    assert!(!unsafe { vtremote_session_summary(s) }.is_null());
    unsafe { vtremote_session_free(s) };
}

#[test]
fn bad_option_values_name_the_option() {
    let s = vtremote_session_new(VTREMOTE_MODE_DECODE);
    assert_eq!(set(s, "timeout_ms", "5"), St::InvalidArgument);
    assert!(last_error(s).contains("timeout_ms"), "{}", last_error(s));
    assert_eq!(set(s, "inflight", "0"), St::InvalidArgument);
    assert_eq!(set(s, "wire_compression", "brotli"), St::InvalidArgument);
    assert_eq!(set(s, "pix_fmt", "yuv420p"), St::InvalidArgument);
    assert_eq!(set(s, "bitrate", "lots"), St::InvalidArgument);
    assert_eq!(set(s, "mode", "encode"), St::InvalidArgument);
    assert_eq!(set(s, "some_future_vt_property", "x"), St::Ok);
    // Opening without a host says so.
    assert_eq!(set(s, "codec", "hevc"), St::Ok);
    assert_eq!(unsafe { vtremote_session_open(s) }, St::InvalidArgument);
    assert!(last_error(s).contains("host"), "{}", last_error(s));
    unsafe { vtremote_session_free(s) };
}

/// `127.0.0.1:PORT` where nothing listens (bound, then released): connecting is refused.
fn refused_host() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

/// Input frames from plausible to hostile. `buf` must outlive their use; `big` is a
/// non-null, aligned pointer valid for nothing, for sizes no buffer can have.
fn frames(buf: &[u8], side: &[VtremoteSideData]) -> Vec<(&'static str, VtremoteFrame)> {
    let big = ptr::NonNull::<VtremoteSideData>::dangling()
        .as_ptr()
        .cast_const();
    let frame = |data: [*const u8; 2], linesize: [isize; 2]| VtremoteFrame {
        pts: 0,
        duration: 1,
        flags: VTREMOTE_FRAME_FORCE_KEYFRAME,
        data,
        linesize,
        side_data: ptr::null(),
        nb_side_data: 0,
    };
    let planes = [buf.as_ptr(), buf.as_ptr()];
    let mut out = vec![
        ("plausible", frame(planes, [64, 64])),
        ("null planes", frame([ptr::null(); 2], [64, 64])),
        ("zero linesize", frame(planes, [0, 0])),
        ("negative linesize", frame(planes, [isize::MIN, -64])),
        ("huge linesize", frame(planes, [isize::MAX, isize::MAX])),
        (
            "linesize near overflow",
            frame(planes, [isize::MAX / 35, 64]),
        ),
    ];
    let mut f = frame(planes, [64, 64]);
    f.side_data = side.as_ptr();
    f.nb_side_data = side.len();
    out.push(("side data", f));
    let mut f = frame(planes, [64, 64]);
    f.nb_side_data = 3;
    out.push(("null side data", f));
    let mut f = frame(planes, [64, 64]);
    f.side_data = big;
    f.nb_side_data = usize::MAX;
    out.push(("huge side data count", f));
    let mut f = frame(planes, [64, 64]);
    f.side_data = side.as_ptr().cast::<u8>().wrapping_add(1).cast();
    f.nb_side_data = 1;
    out.push(("misaligned side data", f));
    out
}

/// Calls every session entry point except new/open/free on `s`, which is not open (never
/// opened, or its open failed), with plausible and hostile arguments. Calls that need a
/// connection must fail with INVALID_ARGUMENT and a sentence before looking at any size
/// (no panic, no wrapped length); setters and read-only accessors keep their documented
/// pre-open behaviour.
fn poke_every_session_call(s: *mut VtremoteSession) {
    let buf = vec![0x80u8; 64 * 64];
    let cc = [0xfcu8, 0x80, 0x80];
    let big_bytes = ptr::NonNull::<u8>::dangling().as_ptr().cast_const();
    let side = [VtremoteSideData {
        type_: 1,
        data: cc.as_ptr(),
        size: cc.len(),
    }];

    for (what, frame) in frames(&buf, &side) {
        let st = unsafe { vtremote_session_send_frame(s, &frame) };
        assert_eq!(st, St::InvalidArgument, "{what}: {}", last_error(s));
        assert_not_open(s, st);
    }
    assert_not_open(s, unsafe { vtremote_session_send_frame(s, ptr::null()) });

    let au = [0u8, 0, 0, 1, 0x65, 0x88];
    let packets = [
        (au.as_ptr(), au.len()),
        (ptr::null(), 0),
        (ptr::null(), 100),
        (big_bytes, usize::MAX),
        (big_bytes, isize::MAX as usize + 1),
    ];
    for (data, size) in packets {
        let pkt = VtremotePacket {
            data,
            size,
            pts: i64::MIN,
            dts: i64::MAX,
            duration: -1,
            flags: u32::MAX,
        };
        assert_not_open(s, unsafe { vtremote_session_send_packet(s, &pkt) });
    }
    assert_not_open(s, unsafe { vtremote_session_send_packet(s, ptr::null()) });

    let mut pkt = empty_packet();
    assert_not_open(s, unsafe { vtremote_session_receive_packet(s, &mut pkt) });
    assert!(
        pkt.data.is_null() && pkt.size == 0,
        "out untouched on failure"
    );
    assert_refused(
        s,
        unsafe { vtremote_session_receive_packet(s, ptr::null_mut()) },
        "NULL",
    );
    let mut pic = empty_picture();
    assert_not_open(s, unsafe { vtremote_session_receive_frame(s, &mut pic) });
    assert!(pic.data[0].is_null());
    assert_refused(
        s,
        unsafe { vtremote_session_receive_frame(s, ptr::null_mut()) },
        "NULL",
    );
    assert_not_open(s, unsafe { vtremote_session_send_eof(s) });
    assert_not_open(s, unsafe { vtremote_session_send_eof(s) });
    assert_not_open(s, unsafe { vtremote_session_reset(s) });

    // The cookie variants: refused the same way, and a cookie out-parameter that is not
    // written on failure stays NULL (the library wrote it first).
    let marker = 0x5eed_usize as *mut c_void;
    let frame = &frames(&buf, &side)[0].1;
    assert_not_open(s, unsafe {
        vtremote_session_send_frame_with_cookie(s, frame, marker)
    });
    let pkt_in = VtremotePacket {
        data: au.as_ptr(),
        size: au.len(),
        ..empty_packet()
    };
    assert_not_open(s, unsafe {
        vtremote_session_send_packet_with_cookie(s, &pkt_in, marker)
    });
    let mut cookie = marker;
    assert_not_open(s, unsafe {
        vtremote_session_receive_packet_with_cookie(s, &mut pkt, &mut cookie)
    });
    assert!(cookie.is_null());
    cookie = marker;
    assert_not_open(s, unsafe {
        vtremote_session_receive_frame_with_cookie(s, &mut pic, &mut cookie)
    });
    assert!(cookie.is_null());
    assert_refused(
        s,
        unsafe { vtremote_session_receive_packet_with_cookie(s, &mut pkt, ptr::null_mut()) },
        "cookie is NULL",
    );
    assert_refused(
        s,
        unsafe { vtremote_session_receive_frame_with_cookie(s, &mut pic, ptr::null_mut()) },
        "cookie is NULL",
    );
    let misaligned = (&mut pkt as *mut VtremotePacket)
        .cast::<u8>()
        .wrapping_add(1);
    assert_refused(
        s,
        unsafe { vtremote_session_receive_packet(s, misaligned.cast()) },
        "aligned",
    );

    // Encoder parameter sets exist only once open; the outputs are still defined.
    let (mut ed, mut ed_len) = (au.as_ptr(), 99usize);
    assert_not_open(s, unsafe {
        vtremote_session_extradata(s, &mut ed, &mut ed_len)
    });
    assert!(ed.is_null() && ed_len == 0);
    assert_refused(
        s,
        unsafe { vtremote_session_extradata(s, ptr::null_mut(), &mut ed_len) },
        "NULL",
    );
    assert_refused(
        s,
        unsafe { vtremote_session_extradata(s, &mut ed, ptr::null_mut()) },
        "NULL",
    );

    // Callbacks may be set, and cleared, until the session is open.
    assert_eq!(
        unsafe { vtremote_session_set_log_callback(s, None, ptr::null_mut()) },
        St::Ok
    );
    assert_eq!(
        unsafe { vtremote_session_set_cookie_free(s, None, ptr::null_mut()) },
        St::Ok
    );

    // Setters: plausible values are what an unopened session is for; hostile ones fail.
    let key = CString::new("bitrate").unwrap();
    assert_refused(
        s,
        unsafe { vtremote_session_set_option(s, ptr::null(), key.as_ptr()) },
        "key is NULL",
    );
    assert_refused(
        s,
        unsafe { vtremote_session_set_option(s, key.as_ptr(), ptr::null()) },
        "value is NULL",
    );
    let not_utf8 = [0xffu8, 0xfe, 0];
    assert_refused(
        s,
        unsafe { vtremote_session_set_option(s, not_utf8.as_ptr().cast(), key.as_ptr()) },
        "UTF-8",
    );
    for (k, v) in [
        ("width", "-1"),
        ("height", "99999999999"),
        ("inflight", "0"),
        ("timeout_ms", "18446744073709551616"),
        ("time_base", "1/"),
    ] {
        assert_refused(s, set(s, k, v), k);
    }
    assert_eq!(set(s, "bitrate", "1000000"), St::Ok, "{}", last_error(s));
    assert_refused(
        s,
        unsafe { vtremote_session_set_extradata(s, ptr::null(), 4) },
        "NULL",
    );
    assert_refused(
        s,
        unsafe { vtremote_session_set_extradata(s, big_bytes, usize::MAX) },
        "larger than any buffer",
    );
    assert_eq!(
        unsafe { vtremote_session_set_extradata(s, ptr::null(), 0) },
        St::Ok
    );
    let record = avcc_record();
    assert_eq!(
        unsafe { vtremote_session_set_extradata(s, record.as_ptr(), record.len()) },
        St::Ok
    );

    // Read-only accessors answer in every state.
    assert_eq!(unsafe { vtremote_session_warning_count(s) }, 0);
    for i in [0, 1, usize::MAX] {
        assert!(unsafe { vtremote_session_warning(s, i) }.is_null());
    }
    let mut stats = VtremoteStats {
        frames: 7,
        ..Default::default()
    };
    assert_eq!(unsafe { vtremote_session_get_stats(s, &mut stats) }, St::Ok);
    assert_eq!((stats.frames, stats.packets, stats.bytes_sent), (0, 0, 0));
    assert_refused(
        s,
        unsafe { vtremote_session_get_stats(s, ptr::null_mut()) },
        "NULL",
    );
    let summary = unsafe { CStr::from_ptr(vtremote_session_summary(s)) }
        .to_str()
        .unwrap();
    assert!(summary.starts_with("VT remote "), "{summary}");
    assert!(!last_error(s).is_empty());
}

#[test]
fn every_entry_point_refuses_politely_on_unopened_and_failed_sessions() {
    // Session-less entry points, any input.
    assert_ne!(vtremote_version(), 0);
    assert!(!unsafe { CStr::from_ptr(vtremote_version_string()) }
        .to_bytes()
        .is_empty());
    for st in [c_int::MIN, -12, 3, c_int::MAX] {
        let text = unsafe { CStr::from_ptr(vtremote_status_string(st)) };
        assert_eq!(text.to_str().unwrap(), "unknown status");
    }
    for mode in [-1, 2, c_int::MIN, c_int::MAX] {
        assert!(vtremote_session_new(mode).is_null());
    }

    let host = refused_host();
    for mode in [VTREMOTE_MODE_ENCODE, VTREMOTE_MODE_DECODE] {
        // Never opened: plausible geometry, then zero rows, then sizes no machine has.
        for (w, h) in [
            ("64", "36"),
            ("0", "0"),
            ("64", "0"),
            ("4294967295", "4294967295"),
        ] {
            let s = configured(mode, &host, w, h);
            poke_every_session_call(s);
            unsafe { vtremote_session_free(s) };
        }

        // Open failed: refused connection, or a geometry the library rejects.
        for (w, h, want) in [
            ("64", "36", St::Connect),
            ("0", "0", St::InvalidArgument),
            ("4294967295", "1", St::InvalidArgument),
        ] {
            let s = configured(mode, &host, w, h);
            assert_eq!(
                unsafe { vtremote_session_open(s) },
                want,
                "{w}x{h}: {}",
                last_error(s)
            );
            assert!(!last_error(s).is_empty());
            poke_every_session_call(s);
            // Opening again retries (and fails the same way); it is not "called twice".
            assert_eq!(unsafe { vtremote_session_open(s) }, want);
            poke_every_session_call(s);
            unsafe { vtremote_session_free(s) };
        }

        // No host at all.
        let s = vtremote_session_new(mode);
        assert_eq!(set(s, "codec", "hevc"), St::Ok);
        assert_refused(s, unsafe { vtremote_session_open(s) }, "host");
        poke_every_session_call(s);
        unsafe { vtremote_session_free(s) };
    }

    // A NULL handle: every call refuses without dereferencing it.
    let null = ptr::null_mut::<VtremoteSession>();
    let key = CString::new("host").unwrap();
    let (mut pkt, mut pic, mut stats) = (empty_packet(), empty_picture(), VtremoteStats::default());
    let (mut ed, mut ed_len) = (ptr::null(), 0usize);
    unsafe {
        assert_eq!(
            vtremote_session_set_option(null, key.as_ptr(), key.as_ptr()),
            St::InvalidArgument
        );
        assert_eq!(
            vtremote_session_set_extradata(null, ptr::null(), 0),
            St::InvalidArgument
        );
        assert_eq!(vtremote_session_open(null), St::InvalidArgument);
        assert!(!vtremote_session_last_error(null).is_null());
        assert_eq!(
            vtremote_session_extradata(null, &mut ed, &mut ed_len),
            St::InvalidArgument
        );
        assert_eq!(vtremote_session_warning_count(null), 0);
        assert!(vtremote_session_warning(null, 0).is_null());
        assert_eq!(
            vtremote_session_send_frame(null, ptr::null()),
            St::InvalidArgument
        );
        assert_eq!(
            vtremote_session_receive_packet(null, &mut pkt),
            St::InvalidArgument
        );
        assert_eq!(
            vtremote_session_send_packet(null, &pkt),
            St::InvalidArgument
        );
        assert_eq!(
            vtremote_session_receive_frame(null, &mut pic),
            St::InvalidArgument
        );
        assert_eq!(vtremote_session_send_eof(null), St::InvalidArgument);
        assert_eq!(vtremote_session_reset(null), St::InvalidArgument);
        assert_eq!(
            vtremote_session_set_log_callback(null, None, ptr::null_mut()),
            St::InvalidArgument
        );
        assert_eq!(
            vtremote_session_set_cookie_free(null, None, ptr::null_mut()),
            St::InvalidArgument
        );
        let mut cookie = ptr::null_mut();
        assert_eq!(
            vtremote_session_send_frame_with_cookie(null, ptr::null(), ptr::null_mut()),
            St::InvalidArgument
        );
        assert_eq!(
            vtremote_session_send_packet_with_cookie(null, &pkt, ptr::null_mut()),
            St::InvalidArgument
        );
        assert_eq!(
            vtremote_session_receive_packet_with_cookie(null, &mut pkt, &mut cookie),
            St::InvalidArgument
        );
        assert_eq!(
            vtremote_session_receive_frame_with_cookie(null, &mut pic, &mut cookie),
            St::InvalidArgument
        );
        assert_eq!(
            vtremote_session_get_stats(null, &mut stats),
            St::InvalidArgument
        );
        assert_eq!(
            CStr::from_ptr(vtremote_session_summary(null)).to_bytes(),
            b""
        );
        vtremote_session_free(null);
    }
}

/// An open encoder refuses the same hostile frames with checked sizes (no wrapped length
/// reaches `slice::from_raw_parts`), stays usable, and never sends them.
#[test]
fn hostile_frames_on_an_open_encoder_are_refused_and_the_session_stays_usable() {
    let (host, server) = fake_server(None);
    let (w, h) = (64u32, 36u32);
    let s = encoder(&host, w, h);
    assert_eq!(
        unsafe { vtremote_session_open(s) },
        St::Ok,
        "{}",
        last_error(s)
    );
    let buf = vec![0x80u8; 64 * 64];
    let cc = [0xfcu8, 0x80, 0x80];
    let side = [VtremoteSideData {
        type_: 1,
        data: cc.as_ptr(),
        size: cc.len(),
    }];
    let expected = [
        ("null planes", "plane 0 data is NULL"),
        ("zero linesize", "linesize 0"),
        ("negative linesize", "negative"),
        ("huge linesize", "is not a buffer size"),
        ("linesize near overflow", "larger than any buffer"),
        ("null side data", "side_data is NULL"),
        ("huge side data count", "larger than any buffer"),
        ("misaligned side data", "aligned"),
    ];
    for (what, frame) in frames(&buf, &side) {
        let st = unsafe { vtremote_session_send_frame(s, &frame) };
        if let Some((_, needle)) = expected.iter().find(|(w, _)| *w == what) {
            assert_refused(s, st, needle);
        } else {
            assert_eq!(st, St::Ok, "{what}: {}", last_error(s));
        }
    }
    // A decode call on an encoder is refused before its arguments are read.
    let pkt = VtremotePacket {
        data: ptr::NonNull::<u8>::dangling().as_ptr().cast_const(),
        size: usize::MAX,
        ..empty_packet()
    };
    assert_refused(
        s,
        unsafe { vtremote_session_send_packet(s, &pkt) },
        "encode session",
    );
    let mut pic = empty_picture();
    assert_refused(
        s,
        unsafe { vtremote_session_receive_frame(s, &mut pic) },
        "encode session",
    );
    // Still usable: drain the two good frames.
    assert_eq!(unsafe { vtremote_session_send_eof(s) }, St::Ok);
    let mut got = 0;
    loop {
        let mut pkt = empty_packet();
        match unsafe { vtremote_session_receive_packet(s, &mut pkt) } {
            St::Ok => got += 1,
            St::Eof => break,
            St::Again => {}
            other => panic!("receive: {other:?} {}", last_error(s)),
        }
    }
    assert_eq!(got, 2);
    unsafe { vtremote_session_free(s) };
    let seen = server.join().unwrap();
    assert_eq!(seen.frames.len(), 2, "only the plausible frames were sent");
}

/// An open decoder refuses hostile packet sizes and encode calls the same way.
#[test]
fn hostile_packets_on_an_open_decoder_are_refused() {
    let (host, server) = fake_server(None);
    let s = configured(VTREMOTE_MODE_DECODE, &host, "32", "18");
    assert_eq!(
        unsafe { vtremote_session_open(s) },
        St::Ok,
        "{}",
        last_error(s)
    );
    // What shapes the connection is fixed once it is open.
    assert_refused(
        s,
        unsafe { vtremote_session_set_cookie_free(s, None, ptr::null_mut()) },
        "before vtremote_session_open",
    );
    assert_refused(
        s,
        unsafe { vtremote_session_set_log_callback(s, None, ptr::null_mut()) },
        "before vtremote_session_open",
    );
    assert_refused(s, set(s, "bitrate", "1"), "before vtremote_session_open");
    assert_refused(
        s,
        unsafe { vtremote_session_set_extradata(s, ptr::null(), 0) },
        "before vtremote_session_open",
    );
    let big = ptr::NonNull::<u8>::dangling().as_ptr().cast_const();
    for (data, size, needle) in [
        (ptr::null(), 100, "NULL"),
        (big, usize::MAX, "larger than any buffer"),
        (big, isize::MAX as usize + 1, "larger than any buffer"),
    ] {
        let pkt = VtremotePacket {
            data,
            size,
            ..empty_packet()
        };
        assert_refused(s, unsafe { vtremote_session_send_packet(s, &pkt) }, needle);
    }
    assert_refused(
        s,
        unsafe { vtremote_session_send_packet(s, ptr::null()) },
        "packet is NULL",
    );
    let buf = vec![0u8; 64 * 64];
    let hostile = frames(&buf, &[]);
    assert_eq!(hostile[4].0, "huge linesize");
    assert_refused(
        s,
        unsafe { vtremote_session_send_frame(s, &hostile[4].1) },
        "decode session",
    );
    let mut pkt = empty_packet();
    assert_refused(
        s,
        unsafe { vtremote_session_receive_packet(s, &mut pkt) },
        "decode session",
    );
    let (mut ed, mut ed_len) = (ptr::null(), 0usize);
    assert_eq!(
        unsafe { vtremote_session_extradata(s, &mut ed, &mut ed_len) },
        St::Ok
    );
    assert!(
        ed.is_null() && ed_len == 0,
        "a decoder has no parameter sets"
    );
    unsafe { vtremote_session_free(s) };
    assert_eq!(server.join().unwrap().packets, 0);
}
