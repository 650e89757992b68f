/*
 * bench/client_bench.c — outside programs talking to a real thespiand:
 * the ask round trip through libthespian-client to an Echo actor
 * (client_ask_rtt_us median, client_ask_rtt_p99_us), one client's tell
 * throughput to a Counter actor counted until processed
 * (client_tell_msgs_per_s), and, in the same run, the floor: a raw ZeroMQ
 * DEALER/ROUTER round trip over the same transport to an echo process
 * (zmq_rtt_us, same frame size), and the same with CurveZMQ on both ends
 * (zmq_curve_rtt_us), the floor of the authenticated admin endpoint the
 * client talks to (docs/security.md). Prints "RESULT NAME VALUE UNIT"
 * lines (the format bench/run collects).
 *
 * usage: client_bench THESPIAND TESTACTORS_SO [ASKS] [TELLS]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "proto/curve.h"
#include "tests/integration/host_util.h"

static int64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double
pct_us(int64_t *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, cmp_i64);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return (double)v[i] / 1000.0;
}

/* The floor: an echo process with a ROUTER, as thespiand has one; a
 * CurveZMQ server with key pair `key` when it is not NULL. */
static pid_t
zmq_echo_server(int port, const thi_curve_key_t *key)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_ROUTER);
    if (key && thi_curve_server(s, key, NULL) != 0)
        _exit(1);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    if (zmq_bind(s, ep) != 0)
        _exit(1);
    for (;;) {
        zmq_msg_t rid, body;
        zmq_msg_init(&rid);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&rid, s, 0) < 0 || zmq_msg_recv(&body, s, 0) < 0)
            _exit(0);
        zmq_msg_send(&rid, s, ZMQ_SNDMORE);
        zmq_msg_send(&body, s, 0);
    }
}

/* A raw DEALER to the echo process: one round trip per call. */
typedef struct raw {
    void *ctx, *sock;
    char *out, *in;
    size_t frame;
} raw_t;

static void
raw_open(raw_t *r, int port, size_t frame, const char *server_pub)
{
    r->ctx = zmq_ctx_new();
    r->sock = zmq_socket(r->ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(r->sock, ZMQ_LINGER, &linger, sizeof linger);
    thi_curve_key_t mine;
    if (server_pub && (thi_curve_keygen(&mine, NULL) != 0 ||
                       thi_curve_client(r->sock, &mine, server_pub, NULL) != 0))
        exit(1);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    zmq_connect(r->sock, ep);
    r->frame = frame;
    r->out = calloc(1, frame);
    r->in = malloc(frame + 16);
}

static int64_t
raw_rtt(raw_t *r)
{
    int64_t t0 = now_ns();
    zmq_send(r->sock, r->out, r->frame, 0);
    zmq_recv(r->sock, r->in, r->frame + 16, 0);
    return now_ns() - t0;
}

static void
raw_close(raw_t *r)
{
    free(r->out);
    free(r->in);
    zmq_close(r->sock);
    zmq_ctx_term(r->ctx);
}

int
main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: client_bench THESPIAND TESTACTORS_SO "
                        "[ASKS] [TELLS]\n");
        return 2;
    }
    setenv("THESPIAND", argv[1], 1);
    int asks = argc > 3 ? atoi(argv[3]) : 20000;
    int tells = argc > 4 ? atoi(argv[4]) : 1000000;
    hu_host_t h = {0};
    const char *extra[] = {"--plugin", argv[2], NULL};
    hu_start(&h, extra);

    th_client_t *c = hu_connect(&h);
    th_addr_t echo, counter;
    if (th_client_create(c, &echo, "testactors.Echo", NULL) != 0 ||
        th_client_create(c, &counter, "testactors.Counter", NULL) != 0) {
        fprintf(stderr, "create: %s\n", th_client_errmsg(c));
        return 1;
    }
    static const char body[] = "{\"n\":12345}";
    /* The floor: same transport, same frame size as an ask (8-byte prefix
     * + header + body). The two are measured in alternating rounds, so a
     * noisy neighbour on the machine weighs on both alike. */
    int zport = hu_free_port();
    pid_t zpid = zmq_echo_server(zport, NULL);
    raw_t raw;
    raw_open(&raw, zport, 8 + 80 + sizeof body - 1, NULL);
    thi_curve_key_t ckey;
    if (thi_curve_keygen(&ckey, NULL) != 0)
        return 1;
    int cport = hu_free_port();
    pid_t cpid = zmq_echo_server(cport, &ckey);
    raw_t craw;
    raw_open(&craw, cport, 8 + 80 + sizeof body - 1, ckey.pub);
    int64_t *lat = malloc(sizeof *lat * (size_t)asks);
    int64_t *zlat = malloc(sizeof *zlat * (size_t)asks);
    int64_t *clat = malloc(sizeof *clat * (size_t)asks);
    int done = 0, round = 500;
    for (int i = 0; i < 1000; i++) { /* warm-up */
        th_client_msg_t *m = NULL;
        if (th_client_ask(c, &m, &echo, "Ping", body, sizeof body - 1, 5000) !=
            0) {
            fprintf(stderr, "ask: %s\n", th_client_errmsg(c));
            return 1;
        }
        th_client_msg_free(m);
        raw_rtt(&raw);
        raw_rtt(&craw);
    }
    while (done < asks) {
        int n = asks - done < round ? asks - done : round;
        for (int i = 0; i < n; i++) {
            th_client_msg_t *m = NULL;
            int64_t t0 = now_ns();
            int rc = th_client_ask(c, &m, &echo, "Ping", body, sizeof body - 1,
                                   5000);
            lat[done + i] = now_ns() - t0;
            if (rc != 0) {
                fprintf(stderr, "ask: %s\n", th_client_errmsg(c));
                return 1;
            }
            th_client_msg_free(m);
        }
        for (int i = 0; i < n; i++)
            zlat[done + i] = raw_rtt(&raw);
        for (int i = 0; i < n; i++)
            clat[done + i] = raw_rtt(&craw);
        done += n;
    }
    raw_close(&raw);
    raw_close(&craw);
    kill(zpid, SIGKILL);
    waitpid(zpid, NULL, 0);
    kill(cpid, SIGKILL);
    waitpid(cpid, NULL, 0);
    double crtt = pct_us(clat, (size_t)asks, 0.5);
    double p50 = pct_us(lat, (size_t)asks, 0.5);
    double p99 = pct_us(lat, (size_t)asks, 0.99);
    double zrtt = pct_us(zlat, (size_t)asks, 0.5);

    /* tells: sent, then counted by the actor; Get is behind them all */
    int64_t t0 = now_ns();
    for (int i = 0; i < tells; i++)
        if (th_client_tell(c, &counter, "Bump", body, sizeof body - 1) != 0) {
            fprintf(stderr, "tell: %s\n", th_client_errmsg(c));
            return 1;
        }
    th_client_msg_t *m = NULL;
    if (th_client_ask(c, &m, &counter, "Get", "", 0, 60000) != 0) {
        fprintf(stderr, "Get: %s\n", th_client_errmsg(c));
        return 1;
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    char want[64];
    snprintf(want, sizeof want, "\"count\":%d", tells);
    if (strstr(m->data, want) == NULL) {
        fprintf(stderr, "Counter saw %s, want %d\n", (const char *)m->data,
                tells);
        return 1;
    }
    th_client_msg_free(m);
    th_client_close(c);

    if (!hu_finish(&h)) /* stops it, checks its log, removes its files */
        return 1;

    /* the "RESULT name value unit" lines bench/run collects */
    printf("RESULT client_ask_rtt_us %.1f us\n", p50);
    printf("RESULT client_ask_rtt_p99_us %.1f us\n", p99);
    printf("RESULT client_tell_msgs_per_s %.0f msgs/s\n", (double)tells / secs);
    printf("RESULT zmq_rtt_us %.1f us\n", zrtt);
    printf("RESULT zmq_curve_rtt_us %.1f us\n", crtt);
    printf("# ask/zmq %.2f, ask/zmq_curve %.2f (target <= 1.5), p99/median "
           "%.2f (target <= 3)\n",
           p50 / zrtt, p50 / crtt, p99 / p50);
    free(lat);
    free(zlat);
    free(clat);
    return 0;
}
