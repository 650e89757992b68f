/*
 * sdk/src/client_int.h — the inside of libthespian-client, shared by its
 * files (private: nothing here is exported):
 *   client.c       contexts: connect, private contexts, close, accessors
 *   client_io.c    the connection's traffic: frames in (pushed messages,
 *                  results, the socket monitor) and out, one request
 *   client_msg.c   messages: tell, listen, ask (by address, name, role)
 *   client_ops.c   the admin operations: create, lookup, capabilities,
 *                  status, shutdown, load, sources, keys, unload
 * A context is used by one thread at a time (client.h).
 */
#ifndef TH_SDK_CLIENT_INT_H
#define TH_SDK_CLIENT_INT_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <zmq.h>

#include "proto/curve.h"
#include "proto/wire.h"
#include "thespian/client.h"

#define CLIENT_MAGIC 0x434c4e54u /* "CLNT" */
#define DEFAULT_CONNECT_MS 5000
#define DEFAULT_REQUEST_MS 10000
#define BYE_LINGER_MS 100
/* Heartbeats find a host that stopped answering on a live TCP connection
 * (stopped, or a partition): the connection is then dropped and every
 * call fails with TH_ECLOSED instead of waiting. */
#define HEARTBEAT_IVL_MS 1000
#define HEARTBEAT_TTL_MS 5000
#define MONITOR_EVERY 32    /* tells between monitor checks (cost per tell) */
#define MONITOR_SLICE_MS 50 /* a wait looks at the monitor this often */

/* Shared by a context and the private contexts made from it. */
typedef struct shared {
    atomic_int refs;
    atomic_uint seq; /* names monitor endpoints */
    void *zctx;
    char endpoint[TH_WIRE_ENDPOINT_MAX];
    int connect_timeout_ms;
    int request_timeout_ms;
    bool curve; /* tcp://: CurveZMQ with these keys */
    thi_curve_key_t key;
    char server_pub[THI_CURVE_Z85];
    /* a key file is missing: the keys above are throwaway ones, so that
     * "nothing listens there" is still told apart; any host that answers
     * gets this error instead */
    int key_rc;
    char key_err[THI_CURVE_WHY];
} shared_t;

typedef struct qmsg {
    th_client_msg_t pub; /* first: handed out as th_client_msg_t */
    struct qmsg *next;
    char type[TH_NAME_MAX];
    unsigned char data[]; /* len + 1 bytes, NUL-terminated */
} qmsg_t;

struct th_client {
    uint32_t magic;
    shared_t *sh;
    void *sock; /* DEALER to the host */
    void *mon;  /* PAIR receiving the socket's events */
    th_addr_t me, system;
    size_t max_payload;
    uint64_t next_id;
    int broken;     /* 0, or the code every call now returns */
    bool connected; /* a TCP/IPC connection completed once */
    bool refused;   /* a connection attempt failed */
    int handshake;  /* 0, or the ZMQ_EVENT_HANDSHAKE_FAILED_* seen */
    int hs_value;   /* ... and its value (protocol error) */
    unsigned tells_unchecked;
    int rcvtimeo; /* ZMQ_RCVTIMEO currently set (-1: none) */
    /* queue of received messages */
    qmsg_t *qhead, *qtail;
    /* result of the request being waited for */
    uint64_t result_re;
    json_t *result;
    unsigned char *result_payload;
    size_t result_payload_len;
    /* last "msg" header seen: hosts repeat it for a stream of replies */
    char last_hdr[256];
    size_t last_hdr_len;
    char last_type[TH_NAME_MAX];
    th_addr_t last_from;
    /* last tell header built */
    th_addr_t tell_to;
    char tell_type[TH_NAME_MAX];
    char tell_hdr[160];
    size_t tell_hdr_len;
    char err[512];
};

/* ---- Small helpers ------------------------------------------------------- */

static inline int64_t
thi_client_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void
thi_client_check(const th_client_t *c)
{
    /* a programmer error: a freed or foreign pointer */
    if (c == NULL || c->magic != CLIENT_MAGIC)
        abort();
}

static inline void
thi_client_set_int(void *sock, int opt, int v)
{
    (void)zmq_setsockopt(sock, opt, &v, sizeof v);
}

/* Set c's error text (escaped: it carries the host's words) and return
 * `code`. */
int thi_client_fail(th_client_t *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- The connection's traffic (client_io.c) ------------------------------ */

/* Forget the result of the last request (and its payload). */
void thi_client_result_clear(th_client_t *c);

/* Drain the socket monitor: note connection, refusal, handshake failure,
 * and a lost connection (c->broken = TH_ECLOSED). */
void thi_client_monitor_poll(th_client_t *c);

/* Wait until a message is queued (want_re == 0) or the result of request
 * want_re arrived, for at most timeout_ms (< 0: no limit). 0, or
 * TH_ETIMEDOUT, c->broken, TH_EIO. */
int thi_client_pump(th_client_t *c, int timeout_ms, uint64_t want_re);

/* Send one frame (header hdr of hlen bytes, then the payload). 0 or an
 * error code with c's error text set. */
int thi_client_send_frame(th_client_t *c, const char *hdr, size_t hlen,
                          const void *payload, size_t plen);

/* Send a request header (reference taken; "id" is added) and wait for
 * its result (timeout_ms < 0: the context's request timeout). On success
 * *result (when not NULL) is the result header (owned) and any payload
 * is in c->result_payload. `what` names the request in errors. */
int thi_client_request(th_client_t *c, json_t *hdr, const void *payload,
                       size_t plen, int timeout_ms, json_t **result,
                       const char *what);

#endif /* TH_SDK_CLIENT_INT_H */
