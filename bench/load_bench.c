/*
 * bench/load_bench.c — from loading a signed bundle to the first reply of
 * an actor created from it, for bundles of 100 KiB, 1 MiB and 10 MiB
 * (hello.so plus incompressible data), through the real path: Source
 * Authority plugin, verification, unpacking, dlmopen. In the same run, the
 * floor: the same steps done directly with the same libraries, no host,
 * and the time gensrc's core takes to build a 10 MiB bundle.
 * Prints RESULT lines (median of the runs).
 */
#include <dlfcn.h>
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

/* The floor: the same work, straight through the libraries. */
static void
floor_steps(const char *dir, const char *path, double out[6])
{
    double t = bench_now_ms(), t0 = t;
    uint8_t *bytes;
    size_t len;
    th_diag_t d = {0};
    thi_read_file(&bytes, &len, path, THI_BUNDLE_MAX_BYTES, &d);
    out[0] = bench_now_ms() - t; /* read */
    t = bench_now_ms();
    uint8_t h[32];
    thi_sha256(h, bytes, len);
    out[1] = bench_now_ms() - t; /* hash */
    t = bench_now_ms();
    thi_keyring_t *kr;
    thi_keyring_load_dir(&kr, dir, NULL, &d);
    thi_verified_t v;
    if (thi_bundle_verify(&v, bytes, len, kr, path, &d))
        bench_die("load_bench", "verify", d.msg);
    out[2] = bench_now_ms() - t; /* keys read + one hash pass + RSA verify */
    t = bench_now_ms();
    thi_bundle_t *b;
    if (thi_bundle_read(&b, bytes, v.signed_len, path, &d))
        bench_die("load_bench", "read", d.msg);
    char ud[256];
    snprintf(ud, sizeof ud, "%s/unpack-XXXXXX", dir);
    mkdtemp(ud);
    char so[600];
    for (size_t i = 0; i < b->n_files; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s/%s", ud, b->files[i].path);
        thi_write_file_atomic(p, b->files[i].data, b->files[i].size, &d);
        if (!strcmp(b->files[i].kind, "plugin"))
            snprintf(so, sizeof so, "%s", p);
    }
    out[3] = bench_now_ms() - t; /* extract */
    t = bench_now_ms();
    void *hnd = dlmopen(LM_ID_NEWLM, so, RTLD_NOW | RTLD_LOCAL);
    if (hnd == NULL || dlsym(hnd, "th_plugin_v1") == NULL)
        bench_die("load_bench", "dlmopen", dlerror());
    out[4] = bench_now_ms() - t; /* dlopen */
    out[5] = bench_now_ms() - t0;
    dlclose(hnd);
    thi_bundle_free(b);
    thi_keyring_destroy(kr);
    free(bytes);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", ud);
    if (system(cmd) != 0)
        bench_die("load_bench", "cleanup", ud);
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
        double host[RUNS], steps[6][RUNS];
        for (int r = 0; r < RUNS; r++) {
            snprintf(state, sizeof state, "%s/state-%s-%d", root,
                     sizes[s].name, r);
            host[r] = through_host(state, path);
            double f[6];
            floor_steps(root, path, f);
            for (int k = 0; k < 6; k++)
                steps[k][r] = f[k];
        }
        printf("RESULT load_first_reply_ms_%s %.3f ms\n", sizes[s].name,
               bench_pct(host, RUNS, 0.5));
        static const char *const step_names[] = {"read", "hash", "verify",
                                                 "extract", "dlopen"};
        for (int k = 0; k < 5; k++)
            printf("RESULT load_step_%s_ms_%s %.3f ms\n", step_names[k],
                   sizes[s].name, bench_pct(steps[k], RUNS, 0.5));
        if (s == 2) {
            printf("RESULT load_floor_ms_10m %.3f ms\n",
                   bench_pct(steps[5], RUNS, 0.5));
            printf("RESULT gensrc_ms_10m %.3f ms\n", bench_pct(build, RUNS, 0.5));
        }
    }
    thi_key_destroy(key);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : 1;
}
