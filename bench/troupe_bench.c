/*
 * bench/troupe_bench.c — what a troupe buys on a CPU-bound handler: the
 * same messages (a fixed number of xorshift rounds each, troupeactors.so
 * "Work") sent at once to one ordinary actor and to a troupe of two
 * members, on a system of two workers. Prints RESULT lines, each the
 * median of RUNS runs:
 *   troupe_single_msgs_per_s   one actor
 *   troupe_pair_msgs_per_s     troupe (Crew: max 2) on 2 workers
 *   troupe_speedup             the second over the first (ideal: 2)
 *   troupe_ceiling             the same work on two bare threads over one:
 *                              what this box gives right now (2 when two
 *                              cores are free), the bound for the speedup
 *   troupe_concurrency         members busy at once (sum of the handlers'
 *                              wall-clock intervals over their union) for
 *                              a stream of 10 ms "Burn" messages: what the
 *                              runtime dispatches in parallel, whatever
 *                              CPU the box has to spare (ideal: 2)
 * Usage: troupe_bench [MESSAGES] [ITERS]
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bench/bench_util.h"
#include "host/host.h"

#ifndef TROUPE_SO
#error "TROUPE_SO (path of troupeactors.so) must be defined by the build"
#endif

#define RUNS 3
#define BENCH "troupe_bench"

/* The plugin's Work loop, without the runtime. */
typedef struct bare {
    long msgs, iters;
    uint64_t sink;
} bare_t;

static void *
bare_run(void *arg)
{
    bare_t *b = arg;
    for (long m = 0; m < b->msgs; m++) {
        uint64_t x = 88172645463325252ull + (uint64_t)m;
        for (long i = 0; i < b->iters; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        b->sink += x;
    }
    return NULL;
}

/* Messages per second of `threads` bare threads sharing msgs. */
static double
bare_throughput(int threads, long msgs, long iters)
{
    pthread_t t[2];
    bare_t b[2];
    double t0 = bench_now_ms();
    for (int i = 0; i < threads; i++) {
        b[i] = (bare_t){msgs / threads, iters, 0};
        if (pthread_create(&t[i], NULL, bare_run, &b[i]) != 0)
            bench_die(BENCH, "bare", "pthread_create");
    }
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    return (double)msgs * 1000.0 / (bench_now_ms() - t0);
}

/* Messages per second through `cls`: all sent at once, timed from the
 * first send to the last reply. */
static double
throughput(th_system_t *sys, const char *cls, long msgs, long iters)
{
    th_inbox_t *in;
    th_addr_t a;
    if (th_inbox_create(sys, &in) != 0)
        bench_die(BENCH, "inbox", "cannot create");
    int rc = th_system_create_actor(sys, &a, cls, NULL);
    if (rc != 0)
        bench_die(BENCH, cls, th_strerror(rc));
    char body[96];
    /* warm-up: the members exist, the code is paged in */
    for (int i = 0; i < 4; i++) {
        int n = snprintf(body, sizeof body, "{\"iters\": %ld, \"id\": %d}",
                         iters, i);
        th_inbox_send(in, &a, "Work", body, (size_t)n);
    }
    for (int i = 0; i < 4; i++) {
        th_inmsg_t *m;
        if (th_inbox_recv(in, &m, 60000) != 0)
            bench_die(BENCH, cls, "no reply to the warm-up");
        th_inmsg_free(m);
    }
    double t0 = bench_now_ms();
    for (long i = 0; i < msgs; i++) {
        int n = snprintf(body, sizeof body, "{\"iters\": %ld, \"id\": %ld}",
                         iters, i);
        rc = th_inbox_send(in, &a, "Work", body, (size_t)n);
        if (rc != 0)
            bench_die(BENCH, "send", th_strerror(rc));
    }
    for (long i = 0; i < msgs; i++) {
        th_inmsg_t *m;
        if (th_inbox_recv(in, &m, 120000) != 0)
            bench_die(BENCH, cls, "reply missing after 120 s");
        if (strcmp(m->type, "Worked") != 0)
            bench_die(BENCH, cls, m->type);
        th_inmsg_free(m);
    }
    double ms = bench_now_ms() - t0;
    th_system_tell(sys, &a, "ActorExitRequest", "", 0);
    th_inbox_destroy(in);
    return (double)msgs * 1000.0 / ms;
}

static double
concurrency(th_system_t *sys, long msgs)
{
    th_inbox_t *in;
    th_addr_t a;
    if (th_inbox_create(sys, &in) != 0 ||
        th_system_create_actor(sys, &a, "troupeactors.Crew", NULL) != 0)
        bench_die(BENCH, "concurrency", "cannot create");
    char body[64];
    for (long i = 0; i < msgs; i++) {
        int n = snprintf(body, sizeof body, "{\"ms\": 10, \"id\": %ld}", i);
        if (th_inbox_send(in, &a, "Burn", body, (size_t)n) != 0)
            bench_die(BENCH, "concurrency", "send");
    }
    long long lo = -1, hi = 0, busy = 0;
    for (long i = 0; i < msgs; i++) {
        th_inmsg_t *m;
        if (th_inbox_recv(in, &m, 120000) != 0)
            bench_die(BENCH, "concurrency", "reply missing after 120 s");
        json_t *j = json_loadb(m->data, m->len, 0, NULL);
        long long s = json_integer_value(json_object_get(j, "start_us"));
        long long e = json_integer_value(json_object_get(j, "end_us"));
        json_decref(j);
        th_inmsg_free(m);
        busy += e - s;
        lo = lo < 0 || s < lo ? s : lo;
        hi = e > hi ? e : hi;
    }
    th_system_tell(sys, &a, "ActorExitRequest", "", 0);
    th_inbox_destroy(in);
    return hi > lo ? (double)busy / (double)(hi - lo) : 0;
}

int
main(int argc, char **argv)
{
    long msgs = argc > 1 ? atol(argv[1]) : 400;
    long iters = argc > 2 ? atol(argv[2]) : 2000000;
    if (msgs <= 0 || iters <= 0)
        bench_die(BENCH, "usage", "troupe_bench [MESSAGES] [ITERS]");
    double single[RUNS], pair[RUNS], ratio[RUNS], ceiling[RUNS], conc[RUNS];
    for (int r = 0; r < RUNS; r++) {
        th_system_opts_t o = {.workers = 2};
        th_system_t *sys = NULL;
        th_diag_t d = {0};
        if (th_system_create(&sys, &o) != 0 ||
            th_system_load_plugin(sys, TROUPE_SO, &d) != 0)
            bench_die(BENCH, TROUPE_SO, d.msg[0] ? d.msg : "system");
        single[r] = throughput(sys, "troupeactors.Plain", msgs, iters);
        pair[r] = throughput(sys, "troupeactors.Crew", msgs, iters);
        ratio[r] = pair[r] / single[r];
        ceiling[r] = bare_throughput(2, msgs, iters) /
                     bare_throughput(1, msgs, iters);
        conc[r] = concurrency(sys, 100);
        fprintf(stderr,
                "INFO run %d: single %.1f/s, troupe %.1f/s, x%.2f "
                "(bare threads x%.2f), concurrency %.2f\n",
                r + 1, single[r], pair[r], ratio[r], ceiling[r], conc[r]);
        th_system_destroy(sys);
    }
    printf("RESULT troupe_single_msgs_per_s %.1f msgs/s\n",
           bench_pct(single, RUNS, 0.5));
    printf("RESULT troupe_pair_msgs_per_s %.1f msgs/s\n",
           bench_pct(pair, RUNS, 0.5));
    printf("RESULT troupe_speedup %.2f x\n", bench_pct(ratio, RUNS, 0.5));
    printf("RESULT troupe_ceiling %.2f x\n", bench_pct(ceiling, RUNS, 0.5));
    printf("RESULT troupe_concurrency %.2f members\n",
           bench_pct(conc, RUNS, 0.5));
    return 0;
}
