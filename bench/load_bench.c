/*
 * bench/load_bench.c — from loading a signed bundle to the first reply of
 * an actor created from it, for bundles of 100 KiB, 1 MiB and 10 MiB
 * (hello.so plus incompressible data), through the real path: Source
 * Authority plugin, verification, reading the archive, the ELF policy,
 * sealed memfds, dlopen. In the same run, the physical floor of one load
 * (one SHA-256 pass, one RSA verify, writing the payload once, one
 * dlopen: each part printed, load_floor_ms_SIZE their sum), the time
 * gensrc's core takes to build a 10 MiB bundle, and 1,000 load/unload
 * cycles in one system (cycles per second, RSS growth from cycle 10).
 * Prints RESULT lines (median of the runs).
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench_util.h"
#include "host/host.h"
#include "loader/bundle.h"

#define RUNS 7





/* A bundle of hello.so plus `extra` random bytes; written to `path`. */
static uint8_t *
make_bundle(thi_key_t *key, size_t extra, const char *path, size_t *len,
            double *build_ms)
{
    uint8_t *so;
    size_t so_len;
    th_diag_t d = {0};
    if (thi_read_file(&so, &so_len, HELLO_SO, 64 << 20, &d))
        bench_die("load_bench", "hello.so", d.msg);
    uint8_t *data = malloc(extra ? extra : 1);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < extra; i++) { /* xorshift: incompressible */
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data[i] = (uint8_t)x;
    }
    thi_bundle_input_t in[2] = {
        {"hello.so", "plugin", so, so_len, "hello",
         (const char *[]){"Greeter", "Toggler", NULL}},
        {"data.bin", "data", data, extra, NULL, NULL}};
    uint8_t *b = NULL;
    double t0 = bench_now_ms();
    if (thi_bundle_build(&b, len, "bench", "1.0", "bench", NULL, in, 2, key,
                         &d))
        bench_die("load_bench", "build", d.msg);
    if (build_ms)
        *build_ms = bench_now_ms() - t0;
    if (thi_write_file_atomic(path, b, *len, &d))
        bench_die("load_bench", path, d.msg);
    free(so);
    free(data);
    return b;
}

/* One full load through a fresh system: ms from the load call to the
 * first reply of an actor created from the source. */
static double
through_host(const char *state, const char *path)
{
    th_system_opts_t o = {.state_dir = state};
    th_system_t *sys;
    th_diag_t d = {0};
    if (th_system_create(&sys, &o) ||
        th_system_load_plugin(sys, AUTHORITY_SO, &d))
        bench_die("load_bench", "system", d.msg);
    th_addr_t auth;
    th_inbox_t *in;
    th_inmsg_t *m;
    th_system_create_actor(sys, &auth, "director.SourceAuthority", NULL);
    th_inbox_create(sys, &in);
    th_inbox_send(in, &auth, "Status", "", 0); /* its init has registered */
    if (th_inbox_recv(in, &m, 5000))
        bench_die("load_bench", "authority", "no answer");
    th_inmsg_free(m);

    double t0 = bench_now_ms();
    uint8_t *bytes;
    size_t len;
    if (thi_read_file(&bytes, &len, path, THI_BUNDLE_MAX_BYTES, &d))
        bench_die("load_bench", path, d.msg);
    char hash[65];
    if (th_system_load_source(sys, bytes, len, path, false, hash, &d))
        bench_die("load_bench", "load", d.msg);
    th_create_opts_t co = {.size = sizeof co, .source_hash = hash};
    th_addr_t g;
    if (th_system_create_actor(sys, &g, "hello.Greeter", &co))
        bench_die("load_bench", "create", "failed");
    th_inbox_send(in, &g, "Greet", "{\"name\":\"b\"}", 12);
    if (th_inbox_recv(in, &m, 5000))
        bench_die("load_bench", "greet", "no reply");
    double ms = bench_now_ms() - t0;
    th_inmsg_free(m);
    free(bytes);
    th_inbox_destroy(in);
    th_system_destroy(sys);
    return ms;
}

/* The physical floor of one load, measured in the same run: one SHA-256
 * pass over the bundle file, one RSA verify of that digest, writing the
 * payload (every file's bytes) once, one dlopen of the plugin from a
 * sealed memfd. Nothing a host could skip is left out, nothing it adds
 * (reading the archive, the ELF policy, messages) is in. */
static void
floor_steps(const uint8_t *bytes, size_t len, const thi_key_t *key,
            const uint8_t *so, size_t so_len, size_t extra, double out[5])
{
    th_diag_t d = {0};
    const uint8_t *sig = bytes + len - 4 - thi_key_sig_len(key);
    double t = bench_now_ms(), t0 = t;
    uint8_t h[32];
    thi_sha256(h, bytes, len - (48 + thi_key_sig_len(key) + 4));
    out[0] = bench_now_ms() - t; /* hash */
    t = bench_now_ms();
    if (thi_verify(key, h, sig, thi_key_sig_len(key), &d))
        bench_die("load_bench", "verify", d.msg);
    out[1] = bench_now_ms() - t; /* RSA verify */
    t = bench_now_ms();
    int fd = memfd_create("floor", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    uint8_t *data = malloc(extra ? extra : 1);
    memset(data, 1, extra);
    if (fd < 0 || write(fd, so, so_len) != (ssize_t)so_len ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW) != 0)
        bench_die("load_bench", "memfd", "failed");
    int dfd = memfd_create("floor-data", MFD_CLOEXEC);
    if (dfd < 0 || write(dfd, data, extra) != (ssize_t)extra)
        bench_die("load_bench", "memfd", "failed");
    out[2] = bench_now_ms() - t; /* write the payload once */
    t = bench_now_ms();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    void *hnd = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (hnd == NULL || dlsym(hnd, "th_plugin_v1") == NULL)
        bench_die("load_bench", "dlopen", dlerror());
    out[3] = bench_now_ms() - t; /* dlopen */
    out[4] = bench_now_ms() - t0;
    dlclose(hnd);
    close(fd);
    close(dfd);
    free(data);
}

static long
rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

/* CYCLES load / create / ask / exit / unload cycles of distinct versions
 * in one system: cycles per second, and RSS after all of them against
 * RSS after the tenth. */
#define CYCLES 1000
static void
cycles(thi_key_t *key, const char *state, double *per_s, double *growth)
{
    th_system_opts_t o = {.state_dir = state};
    th_system_t *sys;
    th_diag_t d = {0};
    if (th_system_create(&sys, &o))
        bench_die("load_bench", "system", "create");
    th_inbox_t *in;
    th_inbox_create(sys, &in);
    uint8_t *so;
    size_t so_len;
    if (thi_read_file(&so, &so_len, HELLO_SO, 64 << 20, &d))
        bench_die("load_bench", "hello.so", d.msg);
    /* signed first: the cycles time loading, not signing */
    static uint8_t *bundles[CYCLES];
    static size_t lens[CYCLES];
    for (int i = 0; i < CYCLES; i++) {
        char version[32];
        snprintf(version, sizeof version, "1.%d", i);
        thi_bundle_input_t fin = {"hello.so", "plugin", so, so_len, "hello",
                                  (const char *[]){"Greeter", "Toggler",
                                                   NULL}};
        if (thi_bundle_build(&bundles[i], &lens[i], "cycles", version, "c",
                             NULL, &fin, 1, key, &d))
            bench_die("load_bench", "build", d.msg);
    }
    long rss10 = 0;
    double t0 = 0;
    for (int i = 0; i < CYCLES; i++) {
        char hash[65];
        uint8_t *b = bundles[i];
        size_t blen = lens[i];
        if (i == 10)
            t0 = bench_now_ms();
        if (th_system_load_source(sys, b, blen, "cycle", false, hash, &d))
            bench_die("load_bench", "load", d.msg);
        th_create_opts_t co = {.size = sizeof co, .source_hash = hash};
        th_addr_t g;
        if (th_system_create_actor(sys, &g, "hello.Greeter", &co))
            bench_die("load_bench", "create", "failed");
        th_inmsg_t *m;
        th_inbox_send(in, &g, "Greet", "{\"name\":\"b\"}", 12);
        if (th_inbox_recv(in, &m, 5000))
            bench_die("load_bench", "greet", "no reply");
        th_inmsg_free(m);
        th_inbox_send(in, &g, "ActorExitRequest", "{}", 2);
        char h2[65];
        if (th_system_unload_source(sys, hash, h2, &d))
            bench_die("load_bench", "unload", d.msg);
        /* gone from the list once unmapped */
        for (int k = 0; k < 5000; k++) {
            char *text = NULL;
            th_system_sources_json(sys, &text);
            bool listed = text && strstr(text, hash);
            free(text);
            if (!listed)
                break;
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
        }
        if (i == 9)
            rss10 = rss_kb();
    }
    *per_s = (CYCLES - 10) / ((bench_now_ms() - t0) / 1000.0);
    *growth = 100.0 * (double)(rss_kb() - rss10) / (double)rss10;
    for (int i = 0; i < CYCLES; i++) /* kept until measured: RSS is flat */
        free(bundles[i]);
    free(so);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

int
main(void)
{
    char root[] = "/tmp/th-loadbench-XXXXXX";
    if (mkdtemp(root) == NULL)
        bench_die("load_bench", "mkdtemp", "failed");
    thi_key_t *key;
    th_diag_t d = {0};
    if (thi_key_generate(&key, 3072, &d))
        bench_die("load_bench", "keygen", d.msg);
    char *pem;
    thi_key_write_public_pem(key, &pem, &d);
    char p[512];
    snprintf(p, sizeof p, "%s/bench_tls.key", root);
    thi_write_file_atomic(p, (uint8_t *)pem, strlen(pem), &d);
    free(pem);
    setenv("THESPIAN_DIRECTOR_DIR", root, 1);

    static const struct { const char *name; size_t extra; } sizes[] = {
        {"100k", 100 << 10}, {"1m", 1 << 20}, {"10m", 10 << 20}};
    for (size_t s = 0; s < 3; s++) {
        char path[512], state[512];
        snprintf(path, sizeof path, "%s/bench-%s.tls", root, sizes[s].name);
        size_t len;
        double build[RUNS];
        uint8_t *b = NULL;
        for (int r = 0; r < (s == 2 ? RUNS : 1); r++) {
            free(b);
            b = make_bundle(key, sizes[s].extra, path, &len, &build[r]);
        }
        free(b);
        uint8_t *bytes, *so;
        size_t blen2, so_len;
        if (thi_read_file(&bytes, &blen2, path, THI_BUNDLE_MAX_BYTES, &d) ||
            thi_read_file(&so, &so_len, HELLO_SO, 64 << 20, &d))
            bench_die("load_bench", path, d.msg);
        double host[RUNS], steps[5][RUNS];
        for (int r = 0; r < RUNS; r++) {
            snprintf(state, sizeof state, "%s/state-%s-%d", root,
                     sizes[s].name, r);
            host[r] = through_host(state, path);
            double f[5];
            floor_steps(bytes, blen2, key, so, so_len, sizes[s].extra, f);
            for (int k = 0; k < 5; k++)
                steps[k][r] = f[k];
        }
        free(bytes);
        free(so);
        printf("RESULT load_first_reply_ms_%s %.3f ms\n", sizes[s].name,
               bench_pct(host, RUNS, 0.5));
        static const char *const step_names[] = {"hash", "verify", "write",
                                                 "dlopen", "floor"};
        for (int k = 0; k < 5; k++)
            printf("RESULT load_%s_ms_%s %.3f ms\n", step_names[k],
                   sizes[s].name, bench_pct(steps[k], RUNS, 0.5));
        if (s == 2)
            printf("RESULT gensrc_ms_10m %.3f ms\n", bench_pct(build, RUNS, 0.5));
    }
    char state[512];
    snprintf(state, sizeof state, "%s/state-cycles", root);
    double per_s, growth;
    cycles(key, state, &per_s, &growth);
    printf("RESULT load_unload_cycles_per_s %.1f /s\n", per_s);
    printf("RESULT load_cycle_rss_growth_pct %.2f %%\n", growth);
    thi_key_destroy(key);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : 1;
}
