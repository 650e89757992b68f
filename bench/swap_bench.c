/*
 * bench/swap_bench.c — a hot swap under load through the real path: the
 * Source Authority and the Director in an embedded system, the example
 * greeter signed as v1 and v2, and client threads asking the global name
 * one request at a time. Measures requests lost (must be 0), the p99
 * latency during the swap against the steady-state p99, and the time from
 * loading v2 to the first reply from v2. Prints RESULT lines (median of
 * RUNS runs).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench_util.h"
#include "host/host.h"
#include "loader/bundle.h"

#define RUNS 5
#define CLIENTS 2
#define MAX_SAMPLES 400000

typedef struct sample {
    double start, rtt;
    int version;
} sample_t;

typedef struct client {
    th_system_t *sys;
    atomic_bool *stop;
    sample_t *s;
    size_t n;
    long lost;
} client_t;

static void *
client_main(void *arg)
{
    client_t *c = arg;
    th_inbox_t *in;
    th_inbox_create(c->sys, &in);
    while (!atomic_load(c->stop) && c->n < MAX_SAMPLES) {
        double t0 = bench_now_ms();
        th_inbox_send_name(in, "greeter", "Greet", "{\"name\":\"b\"}", 12);
        th_inmsg_t *m;
        if (th_inbox_recv(in, &m, 5000) != 0) {
            c->lost++;
            continue;
        }
        const char *v = strstr((const char *)m->data, "\"version\":");
        c->s[c->n++] = (sample_t){t0, bench_now_ms() - t0, v ? v[10] - '0' : 0};
        th_inmsg_free(m);
    }
    th_inbox_destroy(in);
    return NULL;
}

static uint8_t *
sign(thi_key_t *key, const char *so, const char *version, size_t *len)
{
    uint8_t *data;
    size_t dl;
    th_diag_t d = {0};
    if (thi_read_file(&data, &dl, so, 64 << 20, &d))
        bench_die("swap_bench", so, d.msg);
    json_t *tli = json_pack("{s:{s:{s:s, s:s}}, s:b}", "Actors",
                            "hello.Greeter", "Role", "greeter", "GlobalName",
                            "greeter", "AutoUnload", 1);
    thi_bundle_input_t in = {"hello.so", "plugin", data, dl, "hello",
                             (const char *[]){"Greeter", "Toggler", NULL}};
    uint8_t *b = NULL;
    if (thi_bundle_build(&b, len, "hello", version, "bench", tli, &in, 1, key,
                         &d))
        bench_die("swap_bench", "sign", d.msg);
    json_decref(tli);
    free(data);
    return b;
}

static void
one_run(const char *root, int run, thi_key_t *key, double out[3])
{
    char state[512];
    snprintf(state, sizeof state, "%s/state-%d", root, run);
    th_system_opts_t o = {.state_dir = state};
    th_system_t *sys;
    th_diag_t d = {0};
    if (th_system_create(&sys, &o) ||
        th_system_load_plugin(sys, AUTHORITY_SO, &d))
        bench_die("swap_bench", "system", d.msg);
    th_addr_t a, dir;
    th_create_opts_t co = {.size = sizeof co, .global_name = "Director"};
    th_system_create_actor(sys, &a, "director.SourceAuthority", NULL);
    th_system_create_actor(sys, &dir, "director.Director", &co);
    usleep(50000);
    size_t l1, l2;
    uint8_t *b1 = sign(key, HELLO_SO, "1.0", &l1);
    uint8_t *b2 = sign(key, HELLO_V2_SO, "2.0", &l2);
    char hash[65];
    if (th_system_load_source(sys, b1, l1, "v1", false, hash, &d))
        bench_die("swap_bench", "load v1", d.msg);
    th_addr_t g;
    for (int i = 0; i < 500 && th_system_lookup_name(sys, "greeter", &g); i++)
        usleep(2000);

    atomic_bool stop = false;
    client_t c[CLIENTS];
    pthread_t t[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        c[i] = (client_t){sys, &stop, calloc(MAX_SAMPLES, sizeof(sample_t)),
                          0, 0};
        pthread_create(&t[i], NULL, client_main, &c[i]);
    }
    usleep(500000); /* steady state */
    double t_load = bench_now_ms();
    if (th_system_load_source(sys, b2, l2, "v2", false, hash, &d))
        bench_die("swap_bench", "load v2", d.msg);
    usleep(500000);
    atomic_store(&stop, true);
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(t[i], NULL);

    /* steady: requests started before the load; swap: from the load to
     * 100 ms after the first v2 reply */
    double first_v2 = 1e18;
    for (int i = 0; i < CLIENTS; i++)
        for (size_t k = 0; k < c[i].n; k++)
            if (c[i].s[k].version == 2 &&
                c[i].s[k].start + c[i].s[k].rtt < first_v2)
                first_v2 = c[i].s[k].start + c[i].s[k].rtt;
    double *steady = malloc(sizeof(double) * MAX_SAMPLES * CLIENTS);
    double *swap = malloc(sizeof(double) * MAX_SAMPLES * CLIENTS);
    size_t ns = 0, nw = 0;
    long lost = 0;
    for (int i = 0; i < CLIENTS; i++) {
        lost += c[i].lost;
        for (size_t k = 0; k < c[i].n; k++) {
            sample_t *s = &c[i].s[k];
            if (s->start < t_load)
                steady[ns++] = s->rtt;
            else if (s->start < first_v2 + 100)
                swap[nw++] = s->rtt;
        }
        free(c[i].s);
    }
    double p99s = bench_pct(steady, ns, 0.99), p99w = bench_pct(swap, nw, 0.99);
    out[0] = (double)lost;
    out[1] = p99s > 0 ? p99w / p99s : 0;
    out[2] = first_v2 - t_load;
    fprintf(stderr,
            "run %d: %zu steady (p99 %.3f ms), %zu in the swap (p99 %.3f "
            "ms), lost %ld\n",
            run, ns, p99s, nw, p99w, lost);
    free(steady);
    free(swap);
    free(b1);
    free(b2);
    th_system_destroy(sys);
}

int
main(void)
{
    char root[] = "/tmp/th-swapbench-XXXXXX";
    if (mkdtemp(root) == NULL)
        bench_die("swap_bench", "mkdtemp", "failed");
    thi_key_t *key;
    th_diag_t d = {0};
    if (thi_key_generate(&key, 2048, &d))
        bench_die("swap_bench", "keygen", d.msg);
    char *pem, p[600];
    thi_key_write_public_pem(key, &pem, &d);
    snprintf(p, sizeof p, "%s/bench_tls.key", root);
    thi_write_file_atomic(p, (uint8_t *)pem, strlen(pem), &d);
    free(pem);
    setenv("THESPIAN_DIRECTOR_DIR", root, 1);
    double lost[RUNS], ratio[RUNS], first[RUNS];
    for (int r = 0; r < RUNS; r++) {
        double o[3];
        one_run(root, r, key, o);
        lost[r] = o[0];
        ratio[r] = o[1];
        first[r] = o[2];
    }
    double total_lost = 0;
    for (int r = 0; r < RUNS; r++)
        total_lost += lost[r];
    printf("RESULT swap_lost_requests %.0f requests\n", total_lost);
    printf("RESULT swap_p99_ratio %.2f x\n", bench_pct(ratio, RUNS, 0.5));
    printf("RESULT swap_first_v2_reply_ms %.3f ms\n", bench_pct(first, RUNS, 0.5));
    thi_key_destroy(key);
    snprintf(p, sizeof p, "rm -rf '%s'", root);
    return system(p) == 0 ? 0 : 1;
}
