/*
 * vtremote.h — C API of libvtremote, the client side of a vtremote helper (VTRemote v1):
 * remote H.264/HEVC encoding and decoding over TCP, on a Mac's VideoToolbox or any host
 * running vtremoted.
 *
 * This header is maintained by hand; the Rust tests in
 * crates/vtremote-client/src/capi/tests/drift.rs fail when it and the library
 * (crates/vtremote-client/src/capi.rs) drift apart, and check the struct layouts below
 * against the _Static_asserts in tests/ffmpeg/capi_smoke.c.
 *
 * Conventions
 * -----------
 * - One opaque handle, VtremoteSession, is one TCP connection to one helper, either
 *   encoding or decoding. It is not thread-safe: use it from one thread at a time.
 * - Everything is configured with key/value strings (vtremote_session_set_option), so new
 *   options never add symbols.
 * - Every call returns a VtremoteStatus. VTREMOTE_AGAIN from a send means "receive first";
 *   from a receive it means "send more input first". Negative values are failures; the
 *   sentence explaining one (naming the helper and the cause) is in
 *   vtremote_session_last_error().
 * - The only thing to free is the handle (vtremote_session_free). Packets, pictures and
 *   strings returned by a session point into it and stay valid until the next call on the
 *   same session; the two exceptions (extradata and warnings) say so below. Input buffers
 *   are only read during the call.
 * - A session that fails on the wire (an error from the helper, a timeout, a closed or
 *   corrupt connection) stays failed: every later send, receive and send_eof returns the
 *   same status and text, until vtremote_session_reset gives it a fresh start. A refused
 *   argument (VTREMOTE_ERROR_INVALID_ARGUMENT) does not fail the session.
 * - No call blocks longer than the "timeout_ms" option, except that connecting tries each
 *   resolved address in turn. Any send, receive or send_eof after vtremote_session_reset
 *   may connect, so it can also return what vtremote_session_open returns.
 * - Cookies: the *_with_cookie variants attach a pointer-sized value of the caller's to one
 *   input; it comes back with the output made from that input (matched by pts), so a caller
 *   needs no table of its own. The library owns a cookie from a successful send until it
 *   hands it back; one it drops instead (an input that produced no output, reset, free, or
 *   a receive without _with_cookie) goes to the function set with
 *   vtremote_session_set_cookie_free. A send that does not return VTREMOTE_OK leaves the
 *   cookie with the caller. NULL is "no cookie".
 * - Log lines of the library (connection details, reconnects, recovered oddities of the
 *   helper) go to the callback set with vtremote_session_set_log_callback; FFmpeg passes
 *   them to av_log.
 *
 * Options (vtremote_session_set_option, before vtremote_session_open)
 * -------------------------------------------------------------------
 *   host              HOST:PORT, HOST (port 5555) or [IPv6]:PORT of the helper. Required.
 *   token             shared secret (empty: none)
 *   timeout_ms        100..60000, default 5000: connect, every read, every write
 *   inflight          1..128, default 16: pictures (encode) or packets (decode) in flight
 *   wire_compression  none | lz4 | zstd | vtl (or 0 | 1 | 2 | 3), default vtl: raw picture
 *                     planes; vtl (lossless picture coder) only where the helper offers
 *                     it, zstd otherwise
 *   client_name       shown in the helper's log (default "libvtremote")
 *   client_build      ditto (e.g. FFmpeg's version string)
 *   codec             h264 | hevc. Required.
 *   width, height     picture size in pixels. Required.
 *   pix_fmt           nv12 | p010le: encoder input / decoder output (default nv12)
 *   time_base         NUM/DEN of every pts/dts/duration (default 1/1)
 *   framerate         NUM/DEN, encode only (default 0/0 = unknown)
 * Any other key is a CONFIGURE option for the helper (spec §6), given with FFmpeg's meaning
 * of the value; the library applies the original client's rules for what goes on the wire
 * (e.g. qmin=-1 and colorspace=2 mean "unset" and are not sent):
 *   bitrate maxrate gop max_b_frames flags global_quality qmin qmax profile level entropy
 *   allow_sw require_sw realtime frames_before frames_after prio_speed power_efficient
 *   spatial_aq max_ref_frames max_slice_bytes constant_bit_rate alpha_quality color_range
 *   colorspace color_primaries color_trc sar_num sar_den a53_cc vtr_bufsize
 * Keys outside that list are forwarded verbatim. Setting a key again replaces its value.
 *
 * Encoding, complete loop
 * -----------------------
 *   VtremoteSession *s = vtremote_session_new(VTREMOTE_MODE_ENCODE);
 *   vtremote_session_set_option(s, "host", "192.168.1.20:5555");
 *   vtremote_session_set_option(s, "codec", "h264");
 *   vtremote_session_set_option(s, "width", "1920");
 *   vtremote_session_set_option(s, "height", "1080");
 *   vtremote_session_set_option(s, "time_base", "1/30");
 *   vtremote_session_set_option(s, "bitrate", "6000000");
 *   if (vtremote_session_open(s) < 0) {
 *       fprintf(stderr, "%s\n", vtremote_session_last_error(s));
 *       goto done;
 *   }
 *   const uint8_t *sps_pps; size_t sps_pps_size;
 *   vtremote_session_extradata(s, &sps_pps, &sps_pps_size);   // Annex B parameter sets
 *
 *   int have_input = 1, pending = 0;
 *   VtremoteFrame in;
 *   for (;;) {
 *       VtremotePacket out;
 *       VtremoteStatus st = vtremote_session_receive_packet(s, &out);
 *       if (st == VTREMOTE_OK) { write_packet(out.data, out.size, out.pts, out.dts,
 *                                             out.flags & VTREMOTE_PACKET_KEYFRAME);
 *                                continue; }
 *       if (st == VTREMOTE_EOF) break;          // everything received
 *       if (st < 0) goto fail;
 *       // VTREMOTE_AGAIN: nothing ready, feed more input
 *       if (!pending) {
 *           if (!have_input || !next_picture(&in)) {   // fills pts, data[], linesize[]
 *               have_input = 0;
 *               if (vtremote_session_send_eof(s) < 0) goto fail;
 *               continue;                       // receive now blocks until output or EOF
 *           }
 *           pending = 1;
 *       }
 *       st = vtremote_session_send_frame(s, &in);
 *       if (st == VTREMOTE_OK) pending = 0;     // VTREMOTE_AGAIN: window full, receive first
 *       else if (st < 0) goto fail;
 *   }
 *   fprintf(stderr, "%s\n", vtremote_session_summary(s));
 *   done:
 *   vtremote_session_free(s);
 *
 * Decoding is the mirror image: mode VTREMOTE_MODE_DECODE, container extradata (avcC/hvcC
 * or Annex B) via vtremote_session_set_extradata, Annex B packets in with
 * vtremote_session_send_packet, pictures out with vtremote_session_receive_frame. After a
 * seek, vtremote_session_reset drops the connection; the next send opens a fresh one.
 */

#ifndef VTREMOTE_H
#define VTREMOTE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VTREMOTE_VERSION_MAJOR 0
#define VTREMOTE_VERSION_MINOR 1
#define VTREMOTE_VERSION_PATCH 0
/* Usable in #if (no casts). */
#define VTREMOTE_VERSION_INT(major, minor, patch) (((major) << 16) | ((minor) << 8) | (patch))
/* The version this header describes; compare with vtremote_version() at run time. */
#define VTREMOTE_VERSION \
    VTREMOTE_VERSION_INT(VTREMOTE_VERSION_MAJOR, VTREMOTE_VERSION_MINOR, VTREMOTE_VERSION_PATCH)

typedef enum VtremoteStatus {
    VTREMOTE_OK = 0,
    /* send: in-flight window full, call receive. receive: nothing ready, call send. */
    VTREMOTE_AGAIN = 1,
    /* receive: the helper finished the stream. */
    VTREMOTE_EOF = 2,
    /* NULL pointer, bad option value, wrong mode for the call, call out of order. */
    VTREMOTE_ERROR_INVALID_ARGUMENT = -1,
    /* The host name does not resolve. */
    VTREMOTE_ERROR_RESOLVE = -2,
    /* Connection refused or host unreachable. */
    VTREMOTE_ERROR_CONNECT = -3,
    /* No answer within timeout_ms. */
    VTREMOTE_ERROR_TIMEOUT = -4,
    /* Wrong or missing token. */
    VTREMOTE_ERROR_AUTH = -5,
    /* The helper has no free session. */
    VTREMOTE_ERROR_BUSY = -6,
    /* The helper refused the configuration or reported an error. */
    VTREMOTE_ERROR_SERVER = -7,
    /* The peer broke the protocol: not a vtremote helper, or corrupt data. */
    VTREMOTE_ERROR_PROTOCOL = -8,
    /* Other socket error. */
    VTREMOTE_ERROR_IO = -9,
    /* The helper closed the connection. */
    VTREMOTE_ERROR_CLOSED = -10,
    /* A bug in libvtremote (caught panic); the session is unusable afterwards. */
    VTREMOTE_ERROR_INTERNAL = -11
} VtremoteStatus;

/* vtremote_session_new() modes */
#define VTREMOTE_MODE_ENCODE 0
#define VTREMOTE_MODE_DECODE 1

/* VtremoteFrame.flags */
#define VTREMOTE_FRAME_FORCE_KEYFRAME 1u
/* VtremotePacket.flags */
#define VTREMOTE_PACKET_KEYFRAME 1u
/* VtremotePicture.pix_fmt (the wire codes) */
#define VTREMOTE_PIX_FMT_NV12 1
#define VTREMOTE_PIX_FMT_P010 2

/* Opaque. */
typedef struct VtremoteSession VtremoteSession;

/* Side data of an input picture; `type` uses FFmpeg's AVFrameSideDataType numbering
 * (1 = A53 closed captions, the only kind helpers use). Borrowed for the call. */
typedef struct VtremoteSideData {
    uint32_t type;
    const uint8_t *data;
    size_t size;
} VtremoteSideData;

/* An input picture (encode). Borrowed for the duration of vtremote_session_send_frame.
 * Plane 0 is luma, plane 1 interleaved CbCr; their row sizes and row counts follow from
 * the configured width, height and pix_fmt (chroma has (height + 1) / 2 rows). */
typedef struct VtremoteFrame {
    int64_t pts;
    int64_t duration;
    uint32_t flags;                       /* VTREMOTE_FRAME_FORCE_KEYFRAME */
    const uint8_t *data[2];
    ptrdiff_t linesize[2];                /* bytes between rows, >= row size, not negative */
    const VtremoteSideData *side_data;    /* nb_side_data entries, may be NULL if 0 */
    size_t nb_side_data;
} VtremoteFrame;

/* A compressed access unit, Annex B. Input of vtremote_session_send_packet (borrowed for
 * the call) or output of vtremote_session_receive_packet (owned by the session, valid until
 * its next call). */
typedef struct VtremotePacket {
    const uint8_t *data;
    size_t size;
    int64_t pts;
    int64_t dts;
    int64_t duration;
    uint32_t flags;                       /* VTREMOTE_PACKET_KEYFRAME */
} VtremotePacket;

/* A decoded picture at exactly the configured size; planes owned by the session, valid
 * until its next call. */
typedef struct VtremotePicture {
    int64_t pts;
    int64_t duration;
    uint32_t width;
    uint32_t height;
    int pix_fmt;                          /* VTREMOTE_PIX_FMT_* */
    const uint8_t *data[2];
    size_t linesize[2];
} VtremotePicture;

/* Counters since vtremote_session_open (across resets); see vtremote_session_get_stats. */
typedef struct VtremoteStats {
    uint64_t frames;          /* pictures sent (encode) or received (decode) */
    uint64_t packets;         /* packets received (encode) or sent (decode) */
    uint64_t bytes_sent;      /* to the helper, message headers included */
    uint64_t bytes_received;  /* from the helper */
    uint32_t max_inflight;
    double elapsed_s;
    double sent_mbps;
    double received_mbps;
    double mean_send_ms;      /* time the caller spent handing over one input */
    double mean_wait_ms;      /* time the caller spent blocked for output */
} VtremoteStats;

/* VTREMOTE_VERSION_INT of the linked library. */
uint32_t vtremote_version(void);
/* "MAJOR.MINOR.PATCH" of the linked library; static. */
const char *vtremote_version_string(void);
/* Static English text for a status (any int accepted). */
const char *vtremote_status_string(int status);

/* A new, unconnected session, or NULL (unknown mode, out of memory). */
VtremoteSession *vtremote_session_new(int mode);
/* Closes the connection, frees the cookies the session still holds (see
 * vtremote_session_set_cookie_free) and the session. NULL is a no-op. */
void vtremote_session_free(VtremoteSession *s);

/* See "Options" above. Copies key and value.
 * VTREMOTE_OK.
 * VTREMOTE_ERROR_INVALID_ARGUMENT: NULL s, key or value; not UTF-8; a value the key does
 *   not take (the text names the key); an empty or over-long key; "mode"; after open. */
VtremoteStatus vtremote_session_set_option(VtremoteSession *s, const char *key,
                                           const char *value);
/* Decode: the container's extradata (avcC/hvcC or Annex B), sent as-is. Copied.
 * VTREMOTE_OK; VTREMOTE_ERROR_INVALID_ARGUMENT: NULL s, data NULL with size > 0, after
 * open. */
VtremoteStatus vtremote_session_set_extradata(VtremoteSession *s, const uint8_t *data,
                                              size_t size);

/* Log levels passed to a VtremoteLogCallback, most severe first. */
#define VTREMOTE_LOG_ERROR   0
#define VTREMOTE_LOG_WARNING 1
#define VTREMOTE_LOG_INFO    2
#define VTREMOTE_LOG_DEBUG   3
/* `message` is one line without a newline, valid for the call only. Called on the thread
 * calling the library or on one of the session's two I/O threads, one call at a time per
 * session, until vtremote_session_free returns. */
typedef void (*VtremoteLogCallback)(void *opaque, int level, const char *message);
/* Where the session's log lines go (NULL: nowhere). Before open.
 * VTREMOTE_OK; VTREMOTE_ERROR_INVALID_ARGUMENT: NULL s, after open. */
VtremoteStatus vtremote_session_set_log_callback(VtremoteSession *s,
                                                 VtremoteLogCallback callback, void *opaque);

/* Frees one cookie the library drops (see "Cookies" above). Called on the thread calling
 * the library, from inside a vtremote_session_* call. */
typedef void (*VtremoteCookieFree)(void *opaque, void *cookie);
/* The function that frees dropped cookies (NULL: they are simply forgotten). Before open.
 * VTREMOTE_OK; VTREMOTE_ERROR_INVALID_ARGUMENT: NULL s, after open. */
VtremoteStatus vtremote_session_set_cookie_free(VtremoteSession *s,
                                                VtremoteCookieFree free_cookie, void *opaque);

/* Connects, authenticates and configures. Blocks up to about timeout_ms per step.
 * VTREMOTE_OK.
 * VTREMOTE_ERROR_INVALID_ARGUMENT: codec or host missing, a geometry the library refuses
 *   (zero or oversized, H.264 with p010le), already open.
 * VTREMOTE_ERROR_RESOLVE, _CONNECT, _TIMEOUT, _AUTH, _BUSY, _SERVER (the helper refused
 *   the configuration), _PROTOCOL (not a vtremote helper), _IO, _CLOSED.
 * A failed open leaves the session unopened; calling it again tries again. */
VtremoteStatus vtremote_session_open(VtremoteSession *s);
/* Why the last failing call failed ("" if none): one sentence naming the helper and the
 * cause. Valid until the next call on s. For a NULL s, a static text. */
const char *vtremote_session_last_error(const VtremoteSession *s);

/* Encode: the helper's parameter sets as Annex B (*data NULL and *size 0 if it sent none;
 * always so for a decoder). Owned by the session; valid until the session reconnects after
 * a vtremote_session_reset (the first send, receive or send_eof after it), or is freed.
 * VTREMOTE_OK.
 * VTREMOTE_ERROR_INVALID_ARGUMENT: NULL data or size; a session that is not open (never
 *   opened, or its open failed), with *data NULL and *size 0. */
VtremoteStatus vtremote_session_extradata(VtremoteSession *s, const uint8_t **data,
                                          size_t *size);
/* Options the helper accepted but could not honour: a count, and each as a string (NULL for
 * an index out of range or a NULL s). The strings are owned by the session and valid as
 * long as its extradata (until a reconnect after a reset, or free). */
size_t vtremote_session_warning_count(const VtremoteSession *s);
const char *vtremote_session_warning(const VtremoteSession *s, size_t index);

/* Encode: queues one picture.
 * VTREMOTE_OK.
 * VTREMOTE_AGAIN: window full, call vtremote_session_receive_packet first.
 * VTREMOTE_ERROR_INVALID_ARGUMENT: not open, a decode session, NULL frame, a plane that is
 *   NULL or whose linesize is negative or below its row size, bad side data, after
 *   send_eof. The session stays usable.
 * VTREMOTE_ERROR_CLOSED, _IO, _TIMEOUT, _PROTOCOL, _SERVER: the session failed. */
VtremoteStatus vtremote_session_send_frame(VtremoteSession *s, const VtremoteFrame *frame);
/* As vtremote_session_send_frame; `cookie` comes back with this picture's packet. */
VtremoteStatus vtremote_session_send_frame_with_cookie(VtremoteSession *s,
                                                       const VtremoteFrame *frame,
                                                       void *cookie);
/* Encode: the next packet. *out is written only on VTREMOTE_OK; out->data is owned by the
 * session and valid until its next call.
 * VTREMOTE_OK.
 * VTREMOTE_AGAIN: nothing ready yet; only returned before send_eof while the window has
 *   room (otherwise the call waits up to timeout_ms).
 * VTREMOTE_EOF: drained, after send_eof.
 * VTREMOTE_ERROR_INVALID_ARGUMENT: NULL out, not open, a decode session.
 * VTREMOTE_ERROR_TIMEOUT (nothing within timeout_ms), _SERVER (the helper reported an
 *   error), _PROTOCOL (corrupt or surplus output), _CLOSED, _IO: the session failed. */
VtremoteStatus vtremote_session_receive_packet(VtremoteSession *s, VtremotePacket *out);
/* As vtremote_session_receive_packet; on VTREMOTE_OK *cookie is the cookie sent with the
 * packet's picture (yours again) or NULL; on anything else NULL. */
VtremoteStatus vtremote_session_receive_packet_with_cookie(VtremoteSession *s,
                                                           VtremotePacket *out,
                                                           void **cookie);

/* Decode: queues one access unit (Annex B).
 * VTREMOTE_OK.
 * VTREMOTE_AGAIN: window full, call vtremote_session_receive_frame first.
 * VTREMOTE_ERROR_INVALID_ARGUMENT: not open, an encode session, NULL packet, NULL data with
 *   size > 0, after send_eof. The session stays usable.
 * VTREMOTE_ERROR_CLOSED, _IO, _TIMEOUT, _PROTOCOL, _SERVER: the session failed. */
VtremoteStatus vtremote_session_send_packet(VtremoteSession *s, const VtremotePacket *packet);
/* As vtremote_session_send_packet; `cookie` comes back with this packet's picture. */
VtremoteStatus vtremote_session_send_packet_with_cookie(VtremoteSession *s,
                                                        const VtremotePacket *packet,
                                                        void *cookie);
/* Decode: the next picture, in display order. *out is written only on VTREMOTE_OK; its
 * planes are owned by the session and valid until its next call. A picture the helper sent
 * without a duration gets its packet's. Returns as vtremote_session_receive_packet. */
VtremoteStatus vtremote_session_receive_frame(VtremoteSession *s, VtremotePicture *out);
/* As vtremote_session_receive_frame; on VTREMOTE_OK *cookie is the cookie sent with the
 * picture's packet (yours again) or NULL; on anything else NULL. */
VtremoteStatus vtremote_session_receive_frame_with_cookie(VtremoteSession *s,
                                                          VtremotePicture *out,
                                                          void **cookie);

/* End of input: the helper drains and answers with the remaining output, then EOF.
 * Idempotent.
 * VTREMOTE_OK; VTREMOTE_ERROR_INVALID_ARGUMENT: not open; the session's failure if it
 * failed. */
VtremoteStatus vtremote_session_send_eof(VtremoteSession *s);
/* Drops the connection, pending output and the cookies held (e.g. decoder seek); the next
 * send, receive or send_eof reconnects with the same options. Counters carry over. Also the
 * way out of a failed session.
 * VTREMOTE_OK; VTREMOTE_ERROR_INVALID_ARGUMENT: not open. */
VtremoteStatus vtremote_session_reset(VtremoteSession *s);

/* Counters since open, summed over every connection (zeros before open).
 * VTREMOTE_OK; VTREMOTE_ERROR_INVALID_ARGUMENT: NULL out. */
VtremoteStatus vtremote_session_get_stats(VtremoteSession *s, VtremoteStats *out);
/* One-line summary (frames, bytes each way, Mb/s, mean wait), in every state; valid until
 * the next call on s. "" for a NULL s. */
const char *vtremote_session_summary(VtremoteSession *s);

#ifdef __cplusplus
}
#endif

#endif /* VTREMOTE_H */
