/*
 * proto/wire.h — the admin protocol's framing and text forms, shared by
 * the client library (sdk/src/client*.c) and the host's admin endpoint
 * (host/admin/) so both sides split, build and check frames with the same
 * code. The format is documented in docs/protocol.md; every number here is
 * a wire constant and permanent. Never installed.
 */
#ifndef TH_PROTO_WIRE_H
#define TH_PROTO_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "thespian/actor.h"

/* ---- Frame prefix (permanent; docs/protocol.md §2) ----------------------
 *   0  2  magic "TH"
 *   2  1  protocol version (TH_WIRE_VERSION)
 *   3  1  flags, 0 in version 1
 *   4  4  header length H, big-endian
 *   8  H  header: a UTF-8 JSON object
 * 8+H ..  payload bytes (the rest of the frame) */
#define TH_WIRE_MAGIC0 0x54u /* 'T' */
#define TH_WIRE_MAGIC1 0x48u /* 'H' */
#define TH_WIRE_VERSION 1u
#define TH_WIRE_PREFIX 8u
#define TH_WIRE_HEADER_MAX 65536u              /* bytes of JSON header */
#define TH_WIRE_PAYLOAD_MAX ((size_t)16 << 20) /* default payload limit */

/* The default admin endpoint: Thespian's Admin Port on loopback. */
#define TH_WIRE_DEFAULT_ENDPOINT "tcp://127.0.0.1:1900"
#define TH_WIRE_ENDPOINT_MAX 256 /* bytes, with the NUL */
#define TH_WIRE_ENDPOINT_CFG "adminendpoint.cfg"
/* Thespian's director file: the admin port (used when the one above is
 * missing) */
#define TH_WIRE_PORT_CFG "adminport.cfg"

/* Why a frame was refused by thi_wire_split (stable, for log lines). */
enum thi_wire_bad {
    THI_WIRE_OK = 0,
    THI_WIRE_TRUNCATED,       /* shorter than its prefix says */
    THI_WIRE_GARBAGE,         /* no magic */
    THI_WIRE_VERSION_UNKNOWN, /* magic fine, other version */
    THI_WIRE_FLAGS,           /* flags set that version 1 does not define */
    THI_WIRE_HEADER_SIZE,     /* header length 0 or over the limit */
};

typedef struct thi_wire_frame {
    const char *hdr; /* borrowed from the frame; NOT NUL-ended */
    size_t hdr_len;
    const unsigned char *payload; /* borrowed from the frame */
    size_t payload_len;
    unsigned version; /* the version byte as found */
} thi_wire_frame_t;

/* Split a received frame (borrowed). Returns THI_WIRE_OK and fills *out
 * (pointers into `frame`), or the reason it was refused. Pure. */
enum thi_wire_bad thi_wire_split(thi_wire_frame_t *out, const void *frame,
                                 size_t len);

/* Stable text for a refusal reason. */
const char *thi_wire_bad_text(enum thi_wire_bad why);

/* Write the 8-byte prefix for a header of hdr_len bytes. */
void thi_wire_prefix(unsigned char out[TH_WIRE_PREFIX], size_t hdr_len);

/* ---- Addresses as text: "th1:<system hex16>:<slot id>:<nonce hex16>", or
 * "th1:none" for the null address. The one address printer and parser:
 * the public th_addr_to_string / th_addr_from_string (host),
 * th_client_addr_format (client) and th_addr_format (plugins, through the
 * API table) are thin aliases of these, which internal code calls. */
int thi_wire_addr_format(const th_addr_t *addr, char *buf, size_t size);
int thi_wire_addr_parse(th_addr_t *out, const char *text);

/* ---- Message types ---------------------------------------------------------
 * True when `type` is a well-formed type name: 1..TH_NAME_MAX-1 bytes of
 * [A-Za-z0-9_.:-] (the runtime's rule). */
bool thi_wire_type_valid(const char *type);

/* The runtime's types: actor.h's TH_MSG_RUNTIME_TYPES and the host's
 * private envelope name "th.internal" (nobody sends it). Entry i's name
 * and who may send it (TH_MSG_BY_*); NULL past the last. Pure. */
const char *thi_wire_runtime_type(size_t i, unsigned *senders);

/* Who may send `type` (TH_MSG_BY_*), or -1 when it is not a runtime
 * type (anyone may send it). */
int thi_wire_type_senders(const char *type);

/* True for runtime message types an outside program may not send (no
 * TH_MSG_BY_OUTSIDE in the list). */
bool thi_wire_type_reserved(const char *type);

/* True for runtime message types an outside program does receive:
 * PoisonMessage and the status replies. Every other runtime type is
 * filtered out by the host before it reaches a client. */
bool thi_wire_type_passes(const char *type);

/* True when `type` is one of the runtime's message types (actor.h) or
 * "th.internal". */
bool thi_wire_type_is_runtime(const char *type);

/* ---- Endpoint ---------------------------------------------------------------
 * True when `ep` is an endpoint we accept: "tcp://HOST:PORT" or
 * "ipc://PATH", printable, shorter than TH_WIRE_ENDPOINT_MAX. */
bool thi_wire_endpoint_valid(const char *ep);

/* The one discovery rule (docs/cli.md): `explicit_ep` when non-NULL and
 * non-empty, else $THESPIAN_ENDPOINT, else the director directory's
 * adminendpoint.cfg ($THESPIAN_DIRECTOR_DIR; a JSON string endpoint or a
 * JSON integer port meaning tcp://127.0.0.1:PORT), else the default.
 * Writes the endpoint into buf (TH_WIRE_ENDPOINT_MAX bytes) and where it
 * came from into `source` (may be NULL; 300 bytes). Returns 0, or
 * TH_EINVAL / TH_EFORMAT / TH_EIO with a line in `why` (may be NULL;
 * 512 bytes) naming the variable or file and the reason: a bad setting is
 * an error, never silently skipped. Thread-safe (reads the environment). */
int thi_wire_endpoint_resolve(char *buf, const char *explicit_ep, char *source,
                              char *why);

#endif /* TH_PROTO_WIRE_H */
