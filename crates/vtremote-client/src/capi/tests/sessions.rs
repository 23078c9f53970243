//! Whole sessions through the C ABI: the loops FFmpeg runs, reset, cookies, logging.

use super::*;

/// The loop FFmpeg's receive_packet callback runs: send until AGAIN, receive until AGAIN,
/// EOF drains.
#[test]
fn encode_loop_gets_one_packet_per_frame_and_annexb_extradata() {
    let (host, server) = fake_server(None);
    let (w, h) = (64u32, 36u32);
    let s = encoder(&host, w, h);
    assert_eq!(
        unsafe { vtremote_session_open(s) },
        St::Ok,
        "{}",
        last_error(s)
    );
    let (mut ed, mut ed_len) = (ptr::null(), 0usize);
    assert_eq!(
        unsafe { vtremote_session_extradata(s, &mut ed, &mut ed_len) },
        St::Ok
    );
    let ed = unsafe { std::slice::from_raw_parts(ed, ed_len) };
    assert_eq!(&ed[..5], &[0, 0, 0, 1, 0x67], "SPS first, as Annex B");

    let stride = 96usize;
    let luma = vec![16u8; stride * h as usize];
    let chroma = vec![128u8; stride * (h as usize / 2)];
    let total = 20i64;
    let (mut next, mut got, mut eof_sent) = (0i64, Vec::new(), false);
    loop {
        let mut pkt = VtremotePacket {
            data: ptr::null(),
            size: 0,
            pts: 0,
            dts: 0,
            duration: 0,
            flags: 0,
        };
        match unsafe { vtremote_session_receive_packet(s, &mut pkt) } {
            St::Ok => {
                let data = unsafe { std::slice::from_raw_parts(pkt.data, pkt.size) };
                assert_eq!(data, &[0, 0, 0, 1, 0x65, 0x88]);
                got.push((pkt.pts, pkt.flags));
                continue;
            }
            St::Eof => break,
            St::Again => {}
            other => panic!("receive: {other:?} {}", last_error(s)),
        }
        assert!(!eof_sent, "AGAIN after EOF was sent");
        if next == total {
            assert_eq!(unsafe { vtremote_session_send_eof(s) }, St::Ok);
            eof_sent = true;
            continue;
        }
        let frame = VtremoteFrame {
            pts: next,
            duration: 1,
            flags: if next == 10 {
                VTREMOTE_FRAME_FORCE_KEYFRAME
            } else {
                0
            },
            data: [luma.as_ptr(), chroma.as_ptr()],
            linesize: [stride as isize, stride as isize],
            side_data: ptr::null(),
            nb_side_data: 0,
        };
        match unsafe { vtremote_session_send_frame(s, &frame) } {
            St::Ok => next += 1,
            St::Again => {}
            other => panic!("send: {other:?} {}", last_error(s)),
        }
    }
    assert_eq!(got.len(), total as usize);
    assert_eq!(got[10], (10, VTREMOTE_PACKET_KEYFRAME));
    let mut stats = VtremoteStats::default();
    assert_eq!(unsafe { vtremote_session_get_stats(s, &mut stats) }, St::Ok);
    assert_eq!((stats.frames, stats.packets), (20, 20));
    assert!(stats.max_inflight <= 4);
    let summary = unsafe { CStr::from_ptr(vtremote_session_summary(s)) }
        .to_str()
        .unwrap()
        .to_owned();
    assert!(summary.starts_with("VT remote summary: host="), "{summary}");
    assert!(summary.contains("frames=20 packets=20"), "{summary}");
    unsafe { vtremote_session_free(s) };

    let seen = server.join().unwrap();
    assert_eq!(seen.frames.len(), 20);
    assert_eq!(seen.frames[10], (10, 1));
    let keys: Vec<&str> = seen.options.iter().map(|(k, _)| k.as_str()).collect();
    // mode first, compression next, then §6.1 order; FFmpeg's "unset" values stay off the wire.
    assert_eq!(&keys[..4], ["mode", "wire_compression", "bitrate", "gop"]);
    assert!(!keys.contains(&"qmin") && !keys.contains(&"colorspace"));
    assert!(seen
        .options
        .contains(&("wire_compression".into(), "1".into())));
    assert_eq!(seen.flushes, 1);
}

#[test]
fn frames_with_short_or_negative_linesize_are_refused() {
    let (host, server) = fake_server(None);
    let s = encoder(&host, 64, 36);
    assert_eq!(
        unsafe { vtremote_session_open(s) },
        St::Ok,
        "{}",
        last_error(s)
    );
    let buf = vec![0u8; 64 * 36];
    let frame = VtremoteFrame {
        pts: 0,
        duration: 0,
        flags: 0,
        data: [buf.as_ptr(), buf.as_ptr()],
        linesize: [-64, 64],
        side_data: ptr::null(),
        nb_side_data: 0,
    };
    assert_eq!(
        unsafe { vtremote_session_send_frame(s, &frame) },
        St::InvalidArgument
    );
    assert!(last_error(s).contains("linesize"), "{}", last_error(s));
    unsafe { vtremote_session_free(s) };
    drop(server.join());
}

#[test]
fn decode_loop_returns_pictures_and_fills_missing_durations() {
    let (host, server) = fake_server(None);
    let s = vtremote_session_new(VTREMOTE_MODE_DECODE);
    for (k, v) in [
        ("host", host.as_str()),
        ("codec", "h264"),
        ("width", "32"),
        ("height", "18"),
        ("pix_fmt", "nv12"),
        ("time_base", "1/90000"),
        ("wire_compression", "zstd"),
    ] {
        assert_eq!(set(s, k, v), St::Ok);
    }
    let record = avcc_record();
    assert_eq!(
        unsafe { vtremote_session_set_extradata(s, record.as_ptr(), record.len()) },
        St::Ok
    );
    assert_eq!(
        unsafe { vtremote_session_open(s) },
        St::Ok,
        "{}",
        last_error(s)
    );
    let mut pics = Vec::new();
    let mut sent = 0u8;
    loop {
        let mut pic = VtremotePicture {
            pts: 0,
            duration: 0,
            width: 0,
            height: 0,
            pix_fmt: 0,
            data: [ptr::null(); 2],
            linesize: [0; 2],
        };
        match unsafe { vtremote_session_receive_frame(s, &mut pic) } {
            St::Ok => {
                let y = unsafe { std::slice::from_raw_parts(pic.data[0], pic.linesize[0] * 18) };
                pics.push((
                    pic.pts,
                    pic.duration,
                    pic.width,
                    pic.height,
                    pic.pix_fmt,
                    y[0],
                ));
                continue;
            }
            St::Eof => break,
            St::Again => {}
            other => panic!("receive: {other:?} {}", last_error(s)),
        }
        if sent == 3 {
            assert_eq!(unsafe { vtremote_session_send_eof(s) }, St::Ok);
            continue;
        }
        let data = [0u8, 0, 0, 1, 0x65, 10 + sent];
        let pkt = VtremotePacket {
            data: data.as_ptr(),
            size: data.len(),
            pts: i64::from(sent) * 3000,
            dts: i64::from(sent) * 3000,
            duration: 3000,
            flags: u32::from(sent == 0),
        };
        match unsafe { vtremote_session_send_packet(s, &pkt) } {
            St::Ok => sent += 1,
            St::Again => {}
            other => panic!("send: {other:?} {}", last_error(s)),
        }
    }
    assert_eq!(
        pics,
        vec![
            (0, 3000, 32, 18, VTREMOTE_PIX_FMT_NV12, 10),
            (3000, 3000, 32, 18, VTREMOTE_PIX_FMT_NV12, 11),
            (6000, 3000, 32, 18, VTREMOTE_PIX_FMT_NV12, 12),
        ]
    );
    unsafe { vtremote_session_free(s) };
    let seen = server.join().unwrap();
    assert_eq!(
        seen.extradata, record,
        "container extradata goes to CONFIGURE as-is"
    );
    assert_eq!(seen.options[0], ("mode".into(), "decode".into()));
    assert_eq!(seen.packets, 3);
}

#[test]
fn wrong_token_and_refused_port_fail_with_the_host_in_the_message() {
    let (host, server) = fake_server(Some("right"));
    let s = encoder(&host, 64, 36);
    assert_eq!(set(s, "token", "wrong"), St::Ok);
    assert_eq!(unsafe { vtremote_session_open(s) }, St::Auth);
    assert!(last_error(s).contains(&host), "{}", last_error(s));
    unsafe { vtremote_session_free(s) };
    server.join().unwrap();

    // A port nobody listens on (bound, then released).
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let host = format!("127.0.0.1:{port}");
    let s = encoder(&host, 64, 36);
    assert_eq!(unsafe { vtremote_session_open(s) }, St::Connect);
    assert!(last_error(s).contains(&host), "{}", last_error(s));
    unsafe { vtremote_session_free(s) };
}

#[test]
fn reset_reconnects_a_decoder_lazily() {
    let (host1, server1) = fake_server(None);
    let s = vtremote_session_new(VTREMOTE_MODE_DECODE);
    for (k, v) in [
        ("host", host1.as_str()),
        ("codec", "h264"),
        ("width", "16"),
        ("height", "16"),
    ] {
        assert_eq!(set(s, k, v), St::Ok);
    }
    assert_eq!(
        unsafe { vtremote_session_open(s) },
        St::Ok,
        "{}",
        last_error(s)
    );
    assert_eq!(unsafe { vtremote_session_reset(s) }, St::Ok);
    drop(server1.join());
    // The next send connects again, to the same host: nobody listens now.
    let data = [0u8, 0, 0, 1, 0x65];
    let pkt = VtremotePacket {
        data: data.as_ptr(),
        size: 5,
        pts: 0,
        dts: 0,
        duration: 0,
        flags: 1,
    };
    assert_eq!(
        unsafe { vtremote_session_send_packet(s, &pkt) },
        St::Connect
    );
    unsafe { vtremote_session_free(s) };
}

#[test]
fn decode_order_from_an_original_daemon_is_returned_in_display_order() {
    // The fake server answers each PACKET at once with a FRAME carrying that packet's
    // pts: decode order, exactly what the original daemon does (spec §5.3).
    let (addr, server) = fake_server(None);
    let mut cfg = crate::ClientConfig::new(addr);
    cfg.inflight = 4;
    let extradata = avcc_record();
    let depth = crate::reorder::reorder_depth(vtremote_media::Codec::H264, &extradata);
    assert!(
        (2..crate::reorder::UNKNOWN_DEPTH).contains(&depth),
        "depth {depth}"
    );
    let params = crate::DecoderParams {
        codec: crate::Codec::H264,
        width: 318,
        height: 238,
        pix_fmt: PixelFormat::Nv12,
        time_base: (1, 25),
        extradata,
        options: vec![],
    };
    let mut s = crate::DecodeSession::connect(&cfg, &params).unwrap();
    assert!(!s.server_info().is_vtremoted_rs());
    let decode_order = [0i64, 3, 1, 2, 6, 4, 5, 9, 7, 8];
    let mut shown = Vec::new();
    let take = |r: crate::Received<crate::OutputFrame>, shown: &mut Vec<i64>| match r {
        crate::Received::Item(f) => {
            shown.push(f.pts);
            true
        }
        _ => false,
    };
    for &pts in &decode_order {
        let data = [0, 0, 0, 1, 0x41, pts as u8];
        let pkt = crate::InputPacket {
            pts,
            dts: pts,
            duration: 1,
            keyframe: pts == 0,
            data: &data,
        };
        loop {
            match s.send_packet(&pkt) {
                Ok(()) => break,
                Err(crate::ClientError::WouldBlock) => {
                    let r = s.receive_frame().unwrap();
                    take(r, &mut shown);
                }
                Err(e) => panic!("{e}"),
            }
        }
        while take(s.receive_frame().unwrap(), &mut shown) {}
    }
    s.send_eof().unwrap();
    loop {
        match s.receive_frame().unwrap() {
            crate::Received::Item(f) => shown.push(f.pts),
            crate::Received::Eof => break,
            crate::Received::Again => {}
        }
    }
    assert_eq!(shown, (0..10).collect::<Vec<i64>>());
    drop(s);
    assert_eq!(server.join().unwrap().packets, 10);
}

// ---- Cookies, reset and logging

/// Cookies in these tests are boxed `i64`s; the free function records what it freed in the
/// `Mutex<Vec<i64>>` its opaque points to.
fn cookie(value: i64) -> *mut c_void {
    Box::into_raw(Box::new(value)).cast()
}

/// Takes a cookie back (the caller's job once the library hands it over).
fn redeem(cookie: *mut c_void) -> i64 {
    assert!(!cookie.is_null(), "a cookie came back");
    // SAFETY: made by `cookie` above and handed back once.
    *unsafe { Box::from_raw(cookie.cast::<i64>()) }
}

unsafe extern "C" fn free_cookie(opaque: *mut c_void, cookie: *mut c_void) {
    // SAFETY: the tests register `opaque` as a `Mutex<Vec<i64>>` that outlives the session.
    let freed = unsafe { &*opaque.cast::<std::sync::Mutex<Vec<i64>>>() };
    freed.lock().unwrap().push(redeem(cookie));
}

fn with_cookie_free(s: *mut VtremoteSession, freed: &std::sync::Mutex<Vec<i64>>) {
    let opaque = (freed as *const std::sync::Mutex<Vec<i64>>)
        .cast_mut()
        .cast();
    assert_eq!(
        unsafe { vtremote_session_set_cookie_free(s, Some(free_cookie), opaque) },
        St::Ok
    );
}

/// Receives one picture (waiting for it) and the cookie of its packet.
fn next_picture(s: *mut VtremoteSession) -> (i64, *mut c_void) {
    loop {
        let (mut pic, mut c) = (empty_picture(), ptr::null_mut());
        match unsafe { vtremote_session_receive_frame_with_cookie(s, &mut pic, &mut c) } {
            St::Ok => return (pic.pts, c),
            St::Again => thread::sleep(std::time::Duration::from_millis(5)),
            other => panic!("receive: {other:?} {}", last_error(s)),
        }
    }
}

fn send_au(s: *mut VtremoteSession, pts: i64, cookie: *mut c_void) -> VtremoteStatus {
    let data = [0u8, 0, 0, 1, 0x65, pts as u8];
    let pkt = VtremotePacket {
        data: data.as_ptr(),
        size: data.len(),
        pts,
        dts: pts,
        duration: 3000,
        flags: u32::from(pts == 0),
    };
    unsafe { vtremote_session_send_packet_with_cookie(s, &pkt, cookie) }
}

#[test]
fn decoder_cookies_come_back_with_their_pictures_and_dropped_ones_are_freed() {
    let (host, server) = fake_server(None);
    let freed = std::sync::Mutex::new(Vec::new());
    let s = configured(VTREMOTE_MODE_DECODE, &host, "32", "18");
    with_cookie_free(s, &freed);
    assert_eq!(
        unsafe { vtremote_session_open(s) },
        St::Ok,
        "{}",
        last_error(s)
    );
    for pts in [0, 3000, 6000] {
        assert_eq!(
            send_au(s, pts, cookie(pts + 1)),
            St::Ok,
            "{}",
            last_error(s)
        );
    }
    assert_eq!(send_au(s, 9000, ptr::null_mut()), St::Ok);
    // The fake helper looks like the original, whose decode order the library puts back in
    // display order: the end of input releases the pictures.
    assert_eq!(unsafe { vtremote_session_send_eof(s) }, St::Ok);

    let (pts, c) = next_picture(s);
    assert_eq!(
        (pts, redeem(c)),
        (0, 1),
        "the first picture brings the first cookie"
    );
    // A plain receive does not hand the cookie over: the library frees it.
    let mut pic = empty_picture();
    while unsafe { vtremote_session_receive_frame(s, &mut pic) } == St::Again {}
    assert_eq!(pic.pts, 3000);
    assert_eq!(*freed.lock().unwrap(), [3001]);
    // Reset drops the third picture and frees its cookie.
    assert_eq!(unsafe { vtremote_session_reset(s) }, St::Ok);
    assert_eq!(*freed.lock().unwrap(), [3001, 6001]);
    unsafe { vtremote_session_free(s) };
    assert_eq!(*freed.lock().unwrap(), [3001, 6001], "nothing freed twice");
    assert_eq!(server.join().unwrap().packets, 4);
}

#[test]
fn a_packet_without_a_cookie_gets_a_null_one_back() {
    let (host, server) = fake_server(None);
    let s = configured(VTREMOTE_MODE_DECODE, &host, "32", "18");
    assert_eq!(
        unsafe { vtremote_session_open(s) },
        St::Ok,
        "{}",
        last_error(s)
    );
    assert_eq!(send_au(s, 0, ptr::null_mut()), St::Ok);
    assert_eq!(unsafe { vtremote_session_send_eof(s) }, St::Ok);
    let (pts, c) = next_picture(s);
    assert_eq!((pts, c), (0, ptr::null_mut()));
    unsafe { vtremote_session_free(s) };
    drop(server.join());
}

#[test]
fn a_send_that_is_not_ok_leaves_the_cookie_with_the_caller() {
    let (host, server) = fake_server(None);
    let freed = std::sync::Mutex::new(Vec::new());
    let s = configured(VTREMOTE_MODE_DECODE, &host, "32", "18");
    assert_eq!(set(s, "inflight", "1"), St::Ok);
    with_cookie_free(s, &freed);
    assert_eq!(
        unsafe { vtremote_session_open(s) },
        St::Ok,
        "{}",
        last_error(s)
    );
    assert_eq!(send_au(s, 0, cookie(1)), St::Ok);
    let mine = cookie(2);
    assert_eq!(send_au(s, 3000, mine), St::Again, "window of one is full");
    assert_eq!(unsafe { vtremote_session_send_eof(s) }, St::Ok);
    assert_eq!(
        send_au(s, 3000, mine),
        St::InvalidArgument,
        "after end of stream"
    );
    assert!(freed.lock().unwrap().is_empty());
    assert_eq!(redeem(mine), 2, "still ours");
    let (_, c) = next_picture(s);
    assert_eq!(redeem(c), 1);
    unsafe { vtremote_session_free(s) };
    assert!(freed.lock().unwrap().is_empty());
    drop(server.join());
}

/// 64×36 NV12 planes (luma, chroma) for the encoder tests below.
fn gray_frame(pts: i64, planes: &[Vec<u8>; 2]) -> VtremoteFrame {
    VtremoteFrame {
        pts,
        duration: 1,
        flags: 0,
        data: [planes[0].as_ptr(), planes[1].as_ptr()],
        linesize: [64, 64],
        side_data: ptr::null(),
        nb_side_data: 0,
    }
}

/// Receives `n` packets, waiting for each, with their cookies.
fn next_packets(s: *mut VtremoteSession, n: usize) -> Vec<(i64, *mut c_void)> {
    let mut got = Vec::new();
    while got.len() < n {
        let (mut pkt, mut c) = (empty_packet(), ptr::null_mut());
        match unsafe { vtremote_session_receive_packet_with_cookie(s, &mut pkt, &mut c) } {
            St::Ok => got.push((pkt.pts, c)),
            St::Again => thread::sleep(std::time::Duration::from_millis(5)),
            other => panic!("receive: {other:?} {}", last_error(s)),
        }
    }
    got
}

#[test]
fn encoder_cookies_come_back_with_their_packets() {
    let (host, server) = fake_server(None);
    let s = encoder(&host, 64, 36);
    assert_eq!(
        unsafe { vtremote_session_open(s) },
        St::Ok,
        "{}",
        last_error(s)
    );
    let planes = [vec![16u8; 64 * 36], vec![128u8; 64 * 18]];
    for pts in 0..3 {
        let st = unsafe {
            vtremote_session_send_frame_with_cookie(s, &gray_frame(pts, &planes), cookie(100 + pts))
        };
        assert_eq!(st, St::Ok, "{}", last_error(s));
    }
    let got: Vec<(i64, i64)> = next_packets(s, 3)
        .into_iter()
        .map(|(pts, c)| (pts, redeem(c)))
        .collect();
    assert_eq!(got, [(0, 100), (1, 101), (2, 102)]);
    unsafe { vtremote_session_free(s) };
    drop(server.join());
}

/// A seek in FFmpeg's terms: the connection goes, the next send opens another one with the
/// same options, and the counters and summary cover both.
#[test]
fn reset_reconnects_an_encoder_and_the_summary_covers_both_connections() {
    let (host, server) = fake_server_for(2);
    let s = encoder(&host, 64, 36);
    assert_eq!(
        unsafe { vtremote_session_open(s) },
        St::Ok,
        "{}",
        last_error(s)
    );
    let extradata = |s| {
        let (mut ed, mut len) = (ptr::null(), 0usize);
        assert_eq!(
            unsafe { vtremote_session_extradata(s, &mut ed, &mut len) },
            St::Ok
        );
        (ed, len)
    };
    let planes = [vec![16u8; 64 * 36], vec![128u8; 64 * 18]];
    let send = |pts| unsafe { vtremote_session_send_frame(s, &gray_frame(pts, &planes)) };
    for pts in 0..3 {
        assert_eq!(send(pts), St::Ok);
    }
    assert_eq!(next_packets(s, 3).len(), 3);
    let before = extradata(s);
    assert_eq!(unsafe { vtremote_session_reset(s) }, St::Ok);
    assert_eq!(
        extradata(s),
        before,
        "same buffer until the session reconnects"
    );

    for pts in 3..5 {
        assert_eq!(send(pts), St::Ok, "{}", last_error(s));
    }
    assert_eq!(unsafe { vtremote_session_send_eof(s) }, St::Ok);
    let mut pkt = empty_packet();
    let mut after_reset = 0;
    loop {
        match unsafe { vtremote_session_receive_packet(s, &mut pkt) } {
            St::Ok => after_reset += 1,
            St::Again => {}
            St::Eof => break,
            other => panic!("receive: {other:?} {}", last_error(s)),
        }
    }
    assert_eq!(after_reset, 2);
    let (ed, len) = extradata(s);
    // SAFETY: valid until the next reconnect; read right away.
    let now = unsafe { std::slice::from_raw_parts(ed, len) };
    assert_eq!(
        &now[..5],
        &[0, 0, 0, 1, 0x67],
        "the new connection's parameter sets"
    );

    let mut stats = VtremoteStats::default();
    assert_eq!(unsafe { vtremote_session_get_stats(s, &mut stats) }, St::Ok);
    assert_eq!((stats.frames, stats.packets), (5, 5));
    let summary = unsafe { CStr::from_ptr(vtremote_session_summary(s)) }
        .to_str()
        .unwrap()
        .to_owned();
    assert!(summary.contains(" frames=5 packets=5 "), "{summary}");
    unsafe { vtremote_session_free(s) };
    let seen = server.join().unwrap();
    assert_eq!(
        seen.iter().map(|c| c.frames.len()).collect::<Vec<_>>(),
        [3, 2]
    );
    assert_eq!((seen[0].flushes, seen[1].flushes), (0, 1));
}

unsafe extern "C" fn collect_log(opaque: *mut c_void, level: c_int, message: *const c_char) {
    // SAFETY: the test registers a `Mutex<Vec<(c_int, String)>>` that outlives the session,
    // and the library passes a NUL-terminated line.
    let (lines, text) = unsafe {
        (
            &*opaque.cast::<std::sync::Mutex<Vec<(c_int, String)>>>(),
            CStr::from_ptr(message).to_string_lossy().into_owned(),
        )
    };
    lines.lock().unwrap().push((level, text));
}

#[test]
fn log_lines_reach_the_callback_with_their_level() {
    let (host, server) = fake_server(None);
    let lines = std::sync::Mutex::new(Vec::new());
    let opaque = (&lines as *const std::sync::Mutex<Vec<(c_int, String)>>)
        .cast_mut()
        .cast();
    // vtl by default: a plain v1 helper does not offer it.
    let s = configured(VTREMOTE_MODE_DECODE, &host, "32", "18");
    assert_eq!(
        unsafe { vtremote_session_set_log_callback(s, Some(collect_log), opaque) },
        St::Ok
    );
    assert_eq!(
        unsafe { vtremote_session_open(s) },
        St::Ok,
        "{}",
        last_error(s)
    );
    assert_eq!(
        unsafe { vtremote_session_set_log_callback(s, None, ptr::null_mut()) },
        St::InvalidArgument,
        "the callback is fixed once open"
    );
    unsafe { vtremote_session_free(s) };
    drop(server.join());
    let lines = lines.into_inner().unwrap();
    assert!(
        lines.contains(&(
            VTREMOTE_LOG_INFO,
            format!("{host}: the helper does not offer vtl wire compression; using zstd")
        )),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|(level, l)| *level == VTREMOTE_LOG_DEBUG && l.contains("an original vtremoted")),
        "{lines:?}"
    );
}
