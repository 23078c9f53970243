/*
 * libvtremote from C, without FFmpeg: the usage loop of include/vtremote.h against a real
 * helper, linked through pkg-config (shared library).
 *
 *   capi_smoke HOST:PORT     encodes 30 NV12 pictures, then decodes the packets back
 *   capi_smoke --refused HOST:PORT
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vtremote.h>

/* The header's layouts as the compiler sees them, on 64-bit targets. The Rust test
 * capi::tests::drift::struct_layouts_match_the_static_asserts_of_the_c_smoke_test checks
 * the same lines against the library's #[repr(C)] types, so the two cannot drift apart
 * silently: regenerate this block from that test's failure message. */
#if UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(VtremoteStatus) == 4, "sizeof(VtremoteStatus)");
_Static_assert(sizeof(VtremoteSideData) == 24, "sizeof(VtremoteSideData)");
_Static_assert(offsetof(VtremoteSideData, type) == 0, "offsetof(VtremoteSideData, type)");
_Static_assert(offsetof(VtremoteSideData, data) == 8, "offsetof(VtremoteSideData, data)");
_Static_assert(offsetof(VtremoteSideData, size) == 16, "offsetof(VtremoteSideData, size)");
_Static_assert(sizeof(VtremoteFrame) == 72, "sizeof(VtremoteFrame)");
_Static_assert(offsetof(VtremoteFrame, pts) == 0, "offsetof(VtremoteFrame, pts)");
_Static_assert(offsetof(VtremoteFrame, duration) == 8, "offsetof(VtremoteFrame, duration)");
_Static_assert(offsetof(VtremoteFrame, flags) == 16, "offsetof(VtremoteFrame, flags)");
_Static_assert(offsetof(VtremoteFrame, data) == 24, "offsetof(VtremoteFrame, data)");
_Static_assert(offsetof(VtremoteFrame, linesize) == 40, "offsetof(VtremoteFrame, linesize)");
_Static_assert(offsetof(VtremoteFrame, side_data) == 56, "offsetof(VtremoteFrame, side_data)");
_Static_assert(offsetof(VtremoteFrame, nb_side_data) == 64, "offsetof(VtremoteFrame, nb_side_data)");
_Static_assert(sizeof(VtremotePacket) == 48, "sizeof(VtremotePacket)");
_Static_assert(offsetof(VtremotePacket, data) == 0, "offsetof(VtremotePacket, data)");
_Static_assert(offsetof(VtremotePacket, size) == 8, "offsetof(VtremotePacket, size)");
_Static_assert(offsetof(VtremotePacket, pts) == 16, "offsetof(VtremotePacket, pts)");
_Static_assert(offsetof(VtremotePacket, dts) == 24, "offsetof(VtremotePacket, dts)");
_Static_assert(offsetof(VtremotePacket, duration) == 32, "offsetof(VtremotePacket, duration)");
_Static_assert(offsetof(VtremotePacket, flags) == 40, "offsetof(VtremotePacket, flags)");
_Static_assert(sizeof(VtremotePicture) == 64, "sizeof(VtremotePicture)");
_Static_assert(offsetof(VtremotePicture, pts) == 0, "offsetof(VtremotePicture, pts)");
_Static_assert(offsetof(VtremotePicture, duration) == 8, "offsetof(VtremotePicture, duration)");
_Static_assert(offsetof(VtremotePicture, width) == 16, "offsetof(VtremotePicture, width)");
_Static_assert(offsetof(VtremotePicture, height) == 20, "offsetof(VtremotePicture, height)");
_Static_assert(offsetof(VtremotePicture, pix_fmt) == 24, "offsetof(VtremotePicture, pix_fmt)");
_Static_assert(offsetof(VtremotePicture, data) == 32, "offsetof(VtremotePicture, data)");
_Static_assert(offsetof(VtremotePicture, linesize) == 48, "offsetof(VtremotePicture, linesize)");
_Static_assert(sizeof(VtremoteStats) == 80, "sizeof(VtremoteStats)");
_Static_assert(offsetof(VtremoteStats, frames) == 0, "offsetof(VtremoteStats, frames)");
_Static_assert(offsetof(VtremoteStats, packets) == 8, "offsetof(VtremoteStats, packets)");
_Static_assert(offsetof(VtremoteStats, bytes_sent) == 16, "offsetof(VtremoteStats, bytes_sent)");
_Static_assert(offsetof(VtremoteStats, bytes_received) == 24, "offsetof(VtremoteStats, bytes_received)");
_Static_assert(offsetof(VtremoteStats, max_inflight) == 32, "offsetof(VtremoteStats, max_inflight)");
_Static_assert(offsetof(VtremoteStats, elapsed_s) == 40, "offsetof(VtremoteStats, elapsed_s)");
_Static_assert(offsetof(VtremoteStats, sent_mbps) == 48, "offsetof(VtremoteStats, sent_mbps)");
_Static_assert(offsetof(VtremoteStats, received_mbps) == 56, "offsetof(VtremoteStats, received_mbps)");
_Static_assert(offsetof(VtremoteStats, mean_send_ms) == 64, "offsetof(VtremoteStats, mean_send_ms)");
_Static_assert(offsetof(VtremoteStats, mean_wait_ms) == 72, "offsetof(VtremoteStats, mean_wait_ms)");
#endif

#define W 320
#define H 240
#define N 30

static int fail(VtremoteSession *s, const char *what, VtremoteStatus st)
{
    fprintf(stderr, "FAIL: %s: %s (%s)\n", what, vtremote_session_last_error(s),
            vtremote_status_string(st));
    vtremote_session_free(s);
    return 1;
}

int main(int argc, char **argv)
{
    static uint8_t luma[W * H], chroma[W * H / 2];
    static uint8_t stream[4 << 20];
    static int64_t pts_of[N + 8];
    size_t stream_size = 0, sizes[N + 8];
    VtremoteSession *s;
    VtremoteStatus st;
    int sent = 0, got = 0, pictures = 0, pending = 0;
    const uint8_t *ed;
    size_t ed_size;

    if (vtremote_version() != VTREMOTE_VERSION) {
        fprintf(stderr, "FAIL: header %u, library %u\n", VTREMOTE_VERSION, vtremote_version());
        return 1;
    }
    if (argc == 3 && !strcmp(argv[1], "--refused")) {
        s = vtremote_session_new(VTREMOTE_MODE_ENCODE);
        vtremote_session_set_option(s, "host", argv[2]);
        vtremote_session_set_option(s, "codec", "h264");
        vtremote_session_set_option(s, "width", "320");
        vtremote_session_set_option(s, "height", "240");
        st = vtremote_session_open(s);
        if (st != VTREMOTE_ERROR_CONNECT || !strstr(vtremote_session_last_error(s), argv[2]))
            return fail(s, "refused port", st);
        printf("refused: %s\n", vtremote_session_last_error(s));
        vtremote_session_free(s);
        return 0;
    }
    if (argc != 2)
        return 2;

    s = vtremote_session_new(VTREMOTE_MODE_ENCODE);
    const char *opts[][2] = {
        { "host", argv[1] }, { "codec", "h264" }, { "width", "320" }, { "height", "240" },
        { "pix_fmt", "nv12" }, { "time_base", "1/30" }, { "framerate", "30/1" },
        { "bitrate", "1000000" }, { "gop", "10" }, { "wire_compression", "lz4" },
        { "client_name", "capi_smoke" },
    };
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
        if ((st = vtremote_session_set_option(s, opts[i][0], opts[i][1])) != VTREMOTE_OK)
            return fail(s, opts[i][0], st);
    if ((st = vtremote_session_open(s)) != VTREMOTE_OK)
        return fail(s, "open", st);
    vtremote_session_extradata(s, &ed, &ed_size);
    if (ed_size < 8 || memcmp(ed, "\0\0\0\1", 4))
        return fail(s, "extradata is not Annex B", VTREMOTE_OK);
    memcpy(stream, ed, ed_size);
    stream_size = ed_size;

    for (;;) {
        VtremotePacket pkt;
        st = vtremote_session_receive_packet(s, &pkt);
        if (st == VTREMOTE_OK) {
            if (stream_size + pkt.size > sizeof(stream) || got >= N)
                return fail(s, "too much output", st);
            memcpy(stream + stream_size, pkt.data, pkt.size);
            sizes[got] = pkt.size;
            pts_of[got++] = pkt.pts;
            stream_size += pkt.size;
            continue;
        }
        if (st == VTREMOTE_EOF)
            break;
        if (st != VTREMOTE_AGAIN)
            return fail(s, "receive_packet", st);
        if (!pending) {
            if (sent == N) {
                if ((st = vtremote_session_send_eof(s)) != VTREMOTE_OK)
                    return fail(s, "send_eof", st);
                continue;
            }
            memset(luma, 16 + sent * 7, sizeof(luma));
            memset(chroma, 128, sizeof(chroma));
            pending = 1;
        }
        VtremoteFrame f = {
            .pts = sent, .duration = 1, .data = { luma, chroma }, .linesize = { W, W },
            .flags = sent == 0 ? VTREMOTE_FRAME_FORCE_KEYFRAME : 0,
        };
        st = vtremote_session_send_frame(s, &f);
        if (st == VTREMOTE_OK) {
            pending = 0;
            sent++;
        } else if (st != VTREMOTE_AGAIN) {
            return fail(s, "send_frame", st);
        }
    }
    if (got != N)
        return fail(s, "packet count", VTREMOTE_OK);
    printf("encode: %d frames -> %d packets, %zu bytes; %s\n", sent, got, stream_size,
           vtremote_session_summary(s));
    vtremote_session_free(s);

    /* Decode what came back: Annex B extradata and packets. */
    s = vtremote_session_new(VTREMOTE_MODE_DECODE);
    vtremote_session_set_option(s, "host", argv[1]);
    vtremote_session_set_option(s, "codec", "h264");
    vtremote_session_set_option(s, "width", "320");
    vtremote_session_set_option(s, "height", "240");
    vtremote_session_set_option(s, "time_base", "1/30");
    vtremote_session_set_extradata(s, stream, ed_size);
    if ((st = vtremote_session_open(s)) != VTREMOTE_OK)
        return fail(s, "open decoder", st);
    size_t off = ed_size;
    int fed = 0;
    for (;;) {
        VtremotePicture pic;
        st = vtremote_session_receive_frame(s, &pic);
        if (st == VTREMOTE_OK) {
            if (pic.width != W || pic.height != H || pic.pix_fmt != VTREMOTE_PIX_FMT_NV12)
                return fail(s, "picture geometry", st);
            pictures++;
            continue;
        }
        if (st == VTREMOTE_EOF)
            break;
        if (st != VTREMOTE_AGAIN)
            return fail(s, "receive_frame", st);
        if (fed == got) {
            if ((st = vtremote_session_send_eof(s)) != VTREMOTE_OK)
                return fail(s, "decoder send_eof", st);
            continue;
        }
        VtremotePacket in = { .data = stream + off, .size = sizes[fed], .pts = pts_of[fed],
                              .dts = fed, .flags = fed == 0 ? VTREMOTE_PACKET_KEYFRAME : 0 };
        st = vtremote_session_send_packet(s, &in);
        if (st == VTREMOTE_OK) {
            off += sizes[fed++];
        } else if (st != VTREMOTE_AGAIN) {
            return fail(s, "send_packet", st);
        }
    }
    if (pictures != N)
        return fail(s, "picture count", VTREMOTE_OK);
    printf("decode: %d packets -> %d pictures; %s\n", fed, pictures, vtremote_session_summary(s));
    vtremote_session_free(s);
    return 0;
}
