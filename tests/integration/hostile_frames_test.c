/*
 * tests/integration/hostile_frames_test.c — raw ZeroMQ peers sending a
 * thespiand what no client library would: garbage, unknown versions,
 * truncated and oversized frames, malformed headers, multipart messages,
 * floods, a context that never reads. Each is dropped with a log line
 * (HOSTILE.md I4), and after each the host still answers a normal client
 * (I3). Needs $THESPIAND and $HELLO_SO.
 */
#include <jansson.h>
#include <pthread.h>
#include <zmq.h>

#include "curve_util.h"
#include "host_util.h"
#include "probe.h"
#include "th_test.h"

#define MAX_PAYLOAD 65536

static void
start(hu_host_t *h)
{
    const char *so = getenv("HELLO_SO");
    CHECK(so != NULL);
    char max[32];
    snprintf(max, sizeof max, "%d", MAX_PAYLOAD);
    const char *extra[] = {"--plugin", so, "--max-payload", max, NULL};
    hu_start(h, extra);
}

/* A raw DEALER to the host. */
static void *
raw_open(void *zctx, const hu_host_t *h)
{
    void *s = zmq_socket(zctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    hu_curve_client(s);
    CHECK_RC(zmq_connect(s, h->endpoint), 0);
    return s;
}

/* Build a protocol frame: prefix (version, flags), header, payload. */
static size_t
frame(unsigned char *buf, size_t cap, unsigned version, unsigned flags,
      const char *hdr, const void *payload, size_t plen)
{
    size_t hlen = strlen(hdr);
    CHECK(8 + hlen + plen <= cap);
    buf[0] = 'T';
    buf[1] = 'H';
    buf[2] = (unsigned char)version;
    buf[3] = (unsigned char)flags;
    buf[4] = (unsigned char)(hlen >> 24);
    buf[5] = (unsigned char)(hlen >> 16);
    buf[6] = (unsigned char)(hlen >> 8);
    buf[7] = (unsigned char)hlen;
    memcpy(buf + 8, hdr, hlen);
    if (plen)
        memcpy(buf + 8 + hlen, payload, plen);
    return 8 + hlen + plen;
}

static void
raw_send(void *s, const void *data, size_t len)
{
    CHECK((size_t)zmq_send(s, data, len, 0) == len);
}

static void
raw_send_hdr(void *s, const char *hdr)
{
    unsigned char buf[4096];
    raw_send(s, buf, frame(buf, sizeof buf, 1, 0, hdr, NULL, 0));
}

/* Receive one frame's header as JSON (NULL on timeout). */
static json_t *
raw_recv_hdr(void *s, int timeout_ms)
{
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) <= 0)
        return NULL;
    zmq_msg_t m;
    zmq_msg_init(&m);
    CHECK(zmq_msg_recv(&m, s, 0) >= 8);
    const unsigned char *p = zmq_msg_data(&m);
    size_t hlen =
        (size_t)p[4] << 24 | (size_t)p[5] << 16 | (size_t)p[6] << 8 | p[7];
    json_t *h = json_loadb((const char *)p + 8, hlen, 0, NULL);
    zmq_msg_close(&m);
    return h;
}

static json_int_t
contexts(const hu_host_t *h)
{
    th_client_t *c = hu_connect(h);
    char *text = NULL;
    CHECK_RC(th_client_status(c, &text), 0);
    json_t *st = json_loads(text, 0, NULL);
    json_int_t n = json_integer_value(
        json_object_get(json_object_get(st, "admin"), "contexts"));
    json_decref(st);
    th_client_free(text);
    th_client_close(c);
    return n - 1; /* not counting the context that asked */
}

/* Wait until the log has `needle` (the host writes it asynchronously). */
static bool
log_soon(const hu_host_t *h, const char *needle)
{
    for (int i = 0; i < 200; i++) {
        if (hu_log_has(h, needle))
            return true;
        hu_sleep_ms(20);
    }
    fprintf(stderr, "# log %s lacks \"%s\"\n", h->log, needle);
    return false;
}

TH_TEST(malformed_frames_are_dropped_with_a_log_line)
{
    hu_host_t h = {0};
    start(&h);
    void *zctx = zmq_ctx_new();
    void *s = raw_open(zctx, &h);
    unsigned char buf[8192];

    raw_send(s, "", 0);      /* empty */
    raw_send(s, "hello", 5); /* garbage */
    for (size_t i = 0; i < 1000; i++)
        buf[i] = (unsigned char)(i * 7 + 3);
    raw_send(s, buf, 1000); /* random */
    raw_send(s, buf,
             frame(buf, sizeof buf, 2, 0, "{\"op\":\"ping\",\"id\":1}", NULL,
                   0)); /* version 2 */
    raw_send(s, buf,
             frame(buf, sizeof buf, 1, 1, "{\"op\":\"ping\",\"id\":1}", NULL,
                   0));                                   /* flags */
    raw_send(s, "TH\x01\x00\x00\x00\x00\x00", 8);         /* header 0 */
    raw_send(s, "TH\x01\x00\x00\x02\x00\x00{}", 10);      /* header 128 K */
    raw_send(s, "TH\x01\x00\x00\x00\x00\x64{\"op\"", 13); /* truncated */
    raw_send(s, "TH\x01", 3);                             /* short prefix */
    raw_send_hdr(s, "{oops");                             /* not JSON */
    raw_send_hdr(s, "[1,2]");                             /* not an object */
    raw_send_hdr(s, "{\"x\":1}");                         /* no op */
    raw_send_hdr(s, "{\"op\":5}");                        /* op not a string */
    raw_send_hdr(s, "{\"op\":\"ping\",\"id\":-4}");       /* bad id */
    raw_send_hdr(s, "{\"op\":\"hello\"}");                /* hello, no id */
    raw_send_hdr(s, "{\"op\":\"ping\",\"op\":\"ping\",\"id\":1}"); /* dup key */
    raw_send_hdr(s, "{\"op\":\"p\xff\xfeng\",\"id\":1}"); /* bad UTF-8 */
    char deep[3000];
    memset(deep, '[', sizeof deep - 1);
    deep[sizeof deep - 1] = '\0';
    raw_send_hdr(s, deep); /* deep nesting */
    /* none of these got an answer */
    json_t *r = raw_recv_hdr(s, 300);
    CHECK(r == NULL);
    /* the host logs at most 20 warnings about bad input a second: let the
     * window pass so that every line below is written */
    hu_sleep_ms(1100);

    /* requests without a context are refused with an answer */
    raw_send_hdr(s, "{\"op\":\"create\",\"id\":7,\"class\":\"hello.Greeter\"}");
    r = raw_recv_hdr(s, 5000);
    CHECK(r != NULL);
    CHECK_EQ(json_integer_value(json_object_get(r, "re")), 7);
    CHECK_EQ(json_integer_value(json_object_get(r, "code")), TH_ECLOSED);
    json_decref(r);

    /* with a context: unknown ops and bad fields are answered errors */
    raw_send_hdr(s, "{\"op\":\"hello\",\"id\":1}");
    r = raw_recv_hdr(s, 5000);
    CHECK(r != NULL);
    CHECK_EQ(json_integer_value(json_object_get(r, "code")), 0);
    json_decref(r);
    raw_send_hdr(s, "{\"op\":\"frobnicate\",\"id\":2}");
    r = raw_recv_hdr(s, 5000);
    CHECK_EQ(json_integer_value(json_object_get(r, "code")), TH_EINVAL);
    CHECK_CONTAINS(json_string_value(json_object_get(r, "message")),
                   "frobnicate");
    json_decref(r);
    /* a NUL inside a string: the JSON parser refuses the whole header */
    raw_send_hdr(
        s, "{\"op\":\"create\",\"id\":3,\"class\":\"hello.Gr\\u0000eeter\"}");
    CHECK(raw_recv_hdr(s, 300) == NULL);
    CHECK(log_soon(&h, "\\u0000"));
    raw_send_hdr(s, "{\"op\":\"create\",\"id\":4,\"class\":[1]}");
    r = raw_recv_hdr(s, 5000);
    CHECK_EQ(json_integer_value(json_object_get(r, "code")), TH_EINVAL);
    json_decref(r);
    raw_send_hdr(s, "{\"op\":\"create\",\"id\":5,\"class\":\"hello.Greeter\","
                    "\"requirements\":7}");
    r = raw_recv_hdr(s, 5000);
    CHECK_EQ(json_integer_value(json_object_get(r, "code")), TH_EINVAL);
    json_decref(r);
    /* update_capability: bad shapes and read-only names are refused with
     * their reason, and the capabilities stay as they were */
    static const struct {
        const char *hdr;
        int code;
        const char *why;
    } caps[] = {
        {"{\"op\":\"update_capability\",\"id\":6,\"value\":1}", TH_EINVAL,
         "wants \"name\""},
        {"{\"op\":\"update_capability\",\"id\":7,\"name\":[\"x\"],"
         "\"value\":1}",
         TH_EINVAL, "name"},
        {"{\"op\":\"update_capability\",\"id\":8,\"name\":\"x\"}", TH_EINVAL,
         "\"value\""},
        {"{\"op\":\"update_capability\",\"id\":9,\"name\":\"\","
         "\"value\":1}",
         TH_EINVAL, "1..255"},
        {"{\"op\":\"update_capability\",\"id\":10,"
         "\"name\":\"Thespian Watch Supported\",\"value\":\"no\"}",
         TH_EPERM, "read-only"},
    };
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        raw_send_hdr(s, caps[i].hdr);
        r = raw_recv_hdr(s, 5000);
        CHECK(r != NULL);
        CHECK_EQ(json_integer_value(json_object_get(r, "code")), caps[i].code);
        CHECK_CONTAINS(json_string_value(json_object_get(r, "message")),
                       caps[i].why);
        json_decref(r);
    }
    {
        th_client_t *c = hu_connect(&h);
        char *text = NULL;
        CHECK_RC(th_client_status(c, &text), 0);
        json_t *st = json_loads(text, 0, NULL);
        json_t *cp = json_object_get(st, "capabilities");
        CHECK(json_object_get(cp, "x") == NULL);
        CHECK(json_is_true(json_object_get(cp, "Thespian Watch Supported")));
        json_decref(st);
        th_client_free(text);
        th_client_close(c);
    }
    /* tells are never answered: bad ones are logged */
    raw_send_hdr(s, "{\"op\":\"tell\",\"to\":\"th1:nope\",\"type\":\"Greet\"}");
    raw_send_hdr(s, "{\"op\":\"tell\",\"to\":\"th1:0000000000000001:1:"
                    "0000000000000001\",\"type\":\"PoisonMessage\"}");
    raw_send_hdr(s, "{\"op\":\"tell\",\"to\":\"th1:0000000000000001:1:"
                    "0000000000000001\",\"type\":\"bad type\"}");

    CHECK(log_soon(&h, "not a thespian frame (bad magic)"));
    CHECK(log_soon(&h, "unknown protocol version 2"));
    CHECK(log_soon(&h, "undefined flags set"));
    CHECK(log_soon(&h, "header length out of range"));
    CHECK(log_soon(&h, "truncated frame"));
    CHECK(log_soon(&h, "header is not JSON"));
    CHECK(log_soon(&h, "header is not a JSON object"));
    CHECK(log_soon(&h, "header has no \"op\" string"));
    CHECK(log_soon(&h, "\"id\" must be a positive integer"));
    CHECK(log_soon(&h, "hello without an \"id\""));
    CHECK(log_soon(&h, "tell: \"to\" is not an actor address"));
    CHECK(log_soon(&h, "tell: type PoisonMessage is reserved"));
    CHECK(log_soon(&h, "tell: \"type\" is not a message type name"));
    hu_probe_greeter(&h);
    zmq_close(s);
    zmq_ctx_term(zctx);
    CHECK(hu_finish(&h));
}

TH_TEST(multipart_messages_are_dropped)
{
    hu_host_t h = {0};
    start(&h);
    void *zctx = zmq_ctx_new();
    void *s = raw_open(zctx, &h);
    unsigned char buf[256];
    size_t n =
        frame(buf, sizeof buf, 1, 0, "{\"op\":\"ping\",\"id\":1}", NULL, 0);
    zmq_send(s, buf, n, ZMQ_SNDMORE);
    zmq_send(s, buf, n, ZMQ_SNDMORE);
    zmq_send(s, buf, n, 0);
    CHECK(raw_recv_hdr(s, 300) == NULL);
    CHECK(log_soon(&h, "multipart message of 3 parts"));
    /* the same connection is still served */
    zmq_send(s, buf, n, 0);
    json_t *r = raw_recv_hdr(s, 5000);
    CHECK(r != NULL);
    CHECK(json_is_true(json_object_get(r, "thespiand")));
    json_decref(r);
    hu_probe_greeter(&h);
    zmq_close(s);
    zmq_ctx_term(zctx);
    CHECK(hu_finish(&h));
}

TH_TEST(oversized_frame_drops_only_its_connection)
{
    hu_host_t h = {0};
    start(&h);
    th_client_t *c = hu_connect(&h); /* a bystander, open throughout */
    th_addr_t g;
    CHECK_RC(th_client_create(c, &g, "hello.Greeter", NULL), 0);
    void *zctx = zmq_ctx_new();
    void *s = raw_open(zctx, &h);
    raw_send_hdr(s, "{\"op\":\"hello\",\"id\":1}");
    json_t *r = raw_recv_hdr(s, 5000);
    CHECK(r != NULL);
    json_decref(r);
    /* over ZMQ_MAXMSGSIZE: ZeroMQ refuses it from the length on the wire,
     * before allocating, and drops that connection */
    size_t big = 8 + 65536 + MAX_PAYLOAD + 4096;
    unsigned char *buf = calloc(1, big);
    raw_send(s, buf, big);
    free(buf);
    CHECK(log_soon(&h, "dropped without a goodbye"));
    CHECK(log_soon(&h, "limit"));
    /* a body over the payload limit that fits the frame limit is refused
     * by the runtime, logged, and nothing else happens */
    th_addr_t me;
    th_client_my_address(c, &me);
    void *s2 = raw_open(zctx, &h);
    raw_send_hdr(s2, "{\"op\":\"hello\",\"id\":1}");
    r = raw_recv_hdr(s2, 5000);
    json_decref(r);
    char hdr[256], addr[TH_ADDR_STRLEN];
    th_client_addr_format(&g, addr, sizeof addr);
    snprintf(hdr, sizeof hdr,
             "{\"op\":\"tell\",\"to\":\"%s\",\"type\":\"Greet\"}", addr);
    size_t plen = MAX_PAYLOAD + 10;
    unsigned char *pay = calloc(1, plen), *fr = malloc(plen + 512);
    raw_send(s2, fr, frame(fr, plen + 512, 1, 0, hdr, pay, plen));
    free(pay);
    free(fr);
    CHECK(log_soon(&h, "TooBig"));
    /* the bystander never noticed */
    th_client_msg_t *m = NULL;
    CHECK_RC(th_client_ask(c, &m, &g, "Greet", "{\"name\":\"b\"}", 12, 10000),
             0);
    CHECK_STREQ(m->type, "Greeting");
    th_client_msg_free(m);
    th_client_close(c);
    zmq_close(s);
    zmq_close(s2);
    zmq_ctx_term(zctx);
    hu_probe_greeter(&h);
    CHECK(hu_finish(&h));
}

typedef struct flood_arg {
    const hu_host_t *h;
    int sent;
} flood_arg_t;

static void *
flood(void *p)
{
    flood_arg_t *f = p;
    void *zctx = zmq_ctx_new();
    void *s = raw_open(zctx, f->h);
    unsigned char junk[64];
    memset(junk, 0xAB, sizeof junk);
    for (int i = 0; i < 20000; i++)
        if (zmq_send(s, junk, sizeof junk, 0) == (int)sizeof junk)
            f->sent++;
    hu_sleep_ms(200);
    zmq_close(s);
    zmq_ctx_term(zctx);
    return NULL;
}

TH_TEST(garbage_flood_does_not_starve_others)
{
    hu_host_t h = {0};
    start(&h);
    th_client_t *c = hu_connect(&h);
    th_addr_t g;
    CHECK_RC(th_client_create(c, &g, "hello.Greeter", NULL), 0);
    flood_arg_t f = {&h, 0};
    pthread_t t;
    pthread_create(&t, NULL, flood, &f);
    for (int i = 0; i < 200; i++) {
        th_client_msg_t *m = NULL;
        CHECK_RC(
            th_client_ask(c, &m, &g, "Greet", "{\"name\":\"q\"}", 12, 10000),
            0);
        th_client_msg_free(m);
    }
    pthread_join(t, NULL);
    CHECK_EQ(f.sent, 20000);
    th_client_close(c);
    CHECK_EQ(hu_stop(&h), 0);
    /* rate-limited: a flood of garbage is not a flood of log lines */
    FILE *lf = fopen(h.log, "r");
    char line[2048];
    int dropped = 0;
    while (fgets(line, sizeof line, lf))
        dropped += strstr(line, "bad magic") != NULL;
    fclose(lf);
    CHECK(dropped > 0 && dropped < 2000);
    CHECK(hu_log_has(&h, "more warnings about bad input were not logged"));
    CHECK(hu_finish(&h));
}

TH_TEST(context_that_never_reads_does_not_block_others)
{
    hu_host_t h = {0};
    start(&h);
    th_client_t *c = hu_connect(&h);
    th_addr_t g;
    CHECK_RC(th_client_create(c, &g, "hello.Greeter", NULL), 0);
    void *zctx = zmq_ctx_new();
    void *s = zmq_socket(zctx, ZMQ_DEALER);
    int hwm = 10, linger = 0;
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    int rcvbuf = 4096;
    zmq_setsockopt(s, ZMQ_RCVBUF, &rcvbuf, sizeof rcvbuf);
    hu_curve_client(s);
    CHECK_RC(zmq_connect(s, h.endpoint), 0);
    raw_send_hdr(s, "{\"op\":\"hello\",\"id\":1}");
    json_t *r = raw_recv_hdr(s, 5000);
    CHECK(r != NULL);
    json_decref(r);
    /* ask for 150 k replies and never read them */
    char hdr[256], addr[TH_ADDR_STRLEN];
    th_client_addr_format(&g, addr, sizeof addr);
    snprintf(hdr, sizeof hdr,
             "{\"op\":\"tell\",\"to\":\"%s\",\"type\":\"Greet\"}", addr);
    unsigned char buf[512];
    size_t n = frame(buf, sizeof buf, 1, 0, hdr, "{\"name\":\"n\"}", 12);
    int64_t flood = th_now_ms();
    for (int i = 0; i < 150000; i++)
        raw_send(s, buf, n);
    /* the others are served meanwhile (by an actor of their own: the
     * flood's greeter has a long queue to work through, which is not what
     * this case is about) */
    th_addr_t g2;
    CHECK_RC(th_client_create(c, &g2, "hello.Greeter", NULL), 0);
    for (int i = 0; i < 50; i++) {
        th_client_msg_t *m = NULL;
        CHECK_RC(
            th_client_ask(c, &m, &g2, "Greet", "{\"name\":\"o\"}", 12, 10000),
            0);
        th_client_msg_free(m);
    }
    /* A peer that reads nothing answers no heartbeat either, so the host
     * may drop it once the heartbeat times out (5 s); before that it must
     * still be there: a full pipe alone never drops a context. */
    json_int_t now_contexts = contexts(&h);
    if (th_now_ms() - flood < 4000)
        CHECK_EQ(now_contexts, 2);
    else
        CHECK(now_contexts == 1 || now_contexts == 2);
    /* gone without goodbye: reaped by the liveness probe */
    zmq_close(s);
    zmq_ctx_term(zctx);
    int64_t end = th_now_ms() + 15000;
    while (contexts(&h) != 1 && th_now_ms() < end)
        hu_sleep_ms(100);
    CHECK_EQ(contexts(&h), 1);
    th_client_close(c);
    CHECK(hu_finish(&h));
}

TH_TEST_MAIN(TH_CASE(malformed_frames_are_dropped_with_a_log_line),
             TH_CASE(multipart_messages_are_dropped),
             TH_CASE(oversized_frame_drops_only_its_connection),
             TH_CASE(garbage_flood_does_not_starve_others),
             TH_CASE(context_that_never_reads_does_not_block_others))
