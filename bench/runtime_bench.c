/*
 * bench/runtime_bench.c — the runtime benchmarks: one program, one
 * subcommand per figure, each printing `RESULT <metric> <value> <unit>` on
 * stdout and diagnostics (`INFO ...`) on stderr. It embeds the host and
 * drives the classes of benchactors.so; bench/run repeats it and takes
 * medians. Every wait has a deadline and a watchdog ends a wedged run.
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "host/host.h"
#include "bench_msgs.h"

#ifndef BENCH_PLUGIN
#error "BENCH_PLUGIN (path of benchactors.so) must be defined by the build"
#endif

#define WAIT_MS 120000   /* longest any single benchmark may wait */

/* Knobs from the command line; zero means the benchmark's definition. The
 * published figures use the defaults; the knobs exist for analysis runs
 * (a smaller -n under valgrind, one worker, another chunk size). */
typedef struct bench_args {
    const char *plugin;
    uint64_t n;
    uint32_t chunk;
    uint32_t workers;
    uint32_t batch;
    uint64_t mailbox;
} bench_args_t;

typedef struct bench {
    const char *name;
    const char *unit;
    uint64_t default_n;
    const char *n_means;
    double (*run)(const bench_args_t *a, uint64_t n);
} bench_t;

static const char *current = "runtime_bench";

/* ---- Failing loudly ------------------------------------------------------ */

static void
die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "FAIL %s: ", current);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void
check(int rc, const char *what)
{
    if (rc != 0)
        die("%s: %s (%s)", what, th_strerror(rc), th_errname(rc));
}

/* The watchdog covers what no timeout can: th_system_run and the orderly
 * shutdown in th_system_destroy have no deadline of their own. */
static void
on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "FAIL runtime_bench: watchdog expired\n";
    ssize_t rc = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)rc;
    _exit(2);
}

/* ---- Measuring ----------------------------------------------------------- */

static int64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Process CPU time (all threads), ns. */
static int64_t
cpu_ns(struct rusage *ru)
{
    getrusage(RUSAGE_SELF, ru);
    return ((int64_t)ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1000000000 +
           ((int64_t)ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) * 1000;
}

/* Resident set size from /proc/self/statm (second field, in pages). */
static long
rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        die("open /proc/self/statm: %s", strerror(errno));
    long size = 0, resident = 0;
    int got = fscanf(f, "%ld %ld", &size, &resident);
    fclose(f);
    if (got != 2)
        die("cannot parse /proc/self/statm");
    return resident * sysconf(_SC_PAGESIZE);
}

static void
sleep_ms(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t end = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + ms * 1000000;
    ts.tv_sec = end / 1000000000;
    ts.tv_nsec = end % 1000000000;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* ---- Driving a system ---------------------------------------------------- */

static th_system_t *
system_open(const bench_args_t *a, bool synchronous)
{
    th_system_opts_t opts = {0};
    opts.synchronous = synchronous;
    opts.workers = a->workers;
    opts.batch = a->batch;
    opts.mailbox_limit = a->mailbox;
    opts.name = "bench";
    th_system_t *sys = NULL;
    check(th_system_create(&sys, &opts), "th_system_create");
    th_diag_t d = {0};
    int rc = th_system_load_plugin(sys, a->plugin, &d);
    if (rc != 0)
        die("load %s: %s", a->plugin, d.msg[0] ? d.msg : th_strerror(rc));
    return sys;
}

static th_addr_t
spawn(th_system_t *sys, const char *cls)
{
    th_addr_t addr;
    check(th_system_create_actor(sys, &addr, cls, NULL), cls);
    return addr;
}

static void
tell(th_system_t *sys, const th_addr_t *to, const char *type,
     const void *data, size_t len)
{
    check(th_system_tell(sys, to, type, data, len), type);
}

static th_addr_t
inbox_addr(th_inbox_t *in)
{
    th_addr_t a;
    th_inbox_address(in, &a);
    return a;
}

/* Wait until one message of each of the n `types` has arrived (in any
 * order), within timeout_ms overall. reports[i] gets the body and stamp[i]
 * the arrival time of types[i]. An Error report or a stray type fails. */
static void
await_reports(th_inbox_t *in, size_t n, const char *const types[],
              bench_report_t reports[], int64_t stamp[], int timeout_ms)
{
    int64_t deadline = now_ns() + (int64_t)timeout_ms * 1000000;
    bool seen[8] = {false};
    if (n > sizeof seen / sizeof seen[0])
        die("await_reports: too many types");
    for (size_t got = 0; got < n;) {
        int64_t left_ms = (deadline - now_ns()) / 1000000;
        th_inmsg_t *m = NULL;
        int rc = th_inbox_recv(in, &m, left_ms > 0 ? (int)left_ms : 0);
        if (rc == TH_ETIMEDOUT)
            die("no %s within %d ms", types[got], timeout_ms);
        check(rc, "th_inbox_recv");
        int64_t t = now_ns();
        bench_report_t r = {0};
        if (m->len == sizeof r)
            memcpy(&r, m->data, sizeof r);
        if (strcmp(m->type, BENCH_MSG_ERROR) == 0)
            die("an actor reported %s after %" PRIu64 " items",
                th_errname((int)r.error), r.count);
        size_t i = 0;
        while (i < n && (seen[i] || strcmp(m->type, types[i]) != 0))
            i++;
        if (i == n)
            die("unexpected message %s", m->type);
        /* Up's body is a flag, not a report */
        if (m->len != sizeof r && strcmp(m->type, BENCH_MSG_UP) != 0)
            die("%s body is %zu bytes", m->type, m->len);
        seen[i] = true;
        reports[i] = r;
        if (stamp)
            stamp[i] = t;
        got++;
        th_inmsg_free(m);
    }
}

static void
await_one(th_inbox_t *in, const char *type, bench_report_t *r,
          int64_t *stamp, int timeout_ms)
{
    const char *types[1] = {type};
    await_reports(in, 1, types, r, stamp, timeout_ms);
}

static void
info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
info(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "INFO %s ", current);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Destroy the system and say how long its orderly shutdown took. */
static void
system_close(th_system_t *sys)
{
    int64_t t0 = now_ns();
    th_system_destroy(sys);
    info("shutdown_ms %.1f", (double)(now_ns() - t0) / 1e6);
}

/* ---- One producer, one consumer (threaded or synchronous) ---------------- */

static double
oneway(const bench_args_t *a, uint64_t n, bool synchronous)
{
    th_system_t *sys = system_open(a, synchronous);
    th_inbox_t *in;
    check(th_inbox_create(sys, &in), "th_inbox_create");
    th_addr_t consumer = spawn(sys, BENCH_CONSUMER);
    th_addr_t producer = spawn(sys, BENCH_PRODUCER);
    bench_consumer_cfg_t ccfg = {inbox_addr(in), n};
    bench_producer_cfg_t pcfg = {consumer, inbox_addr(in), n, a->chunk, 0};
    /* the consumer's Start is queued before any item can be */
    tell(sys, &consumer, BENCH_MSG_START, &ccfg, sizeof ccfg);

    struct rusage ru0, ru1;
    int64_t c0 = cpu_ns(&ru0), t0 = now_ns(), t1 = 0;
    tell(sys, &producer, BENCH_MSG_START, &pcfg, sizeof pcfg);
    if (synchronous) {
        long ran = th_system_run(sys, 0);
        t1 = now_ns();
        if (ran < 0)
            check((int)ran, "th_system_run");
    }
    const char *types[2] = {BENCH_MSG_DONE, BENCH_MSG_PRODUCED};
    bench_report_t r[2];
    int64_t stamp[2];
    await_reports(in, 2, types, r, stamp, synchronous ? 0 : WAIT_MS);
    if (!synchronous)
        t1 = stamp[0];
    int64_t c1 = cpu_ns(&ru1);
    if (r[0].count != n || r[1].count != n)
        die("consumer saw %" PRIu64 ", producer sent %" PRIu64
            ", expected %" PRIu64, r[0].count, r[1].count, n);
    double secs = (double)(t1 - t0) / 1e9;
    info("elapsed_s %.3f efull_retries %" PRIu64 " cpu_cores %.2f "
         "ctx_switches %ld", secs, r[1].aux,
         (double)(c1 - c0) / (double)(t1 - t0),
         (ru1.ru_nvcsw + ru1.ru_nivcsw) - (ru0.ru_nvcsw + ru0.ru_nivcsw));
    th_inbox_destroy(in);
    system_close(sys);
    return (double)n / secs;
}

static double
bench_local_oneway(const bench_args_t *a, uint64_t n)
{
    return oneway(a, n, false);
}

static double
bench_sync(const bench_args_t *a, uint64_t n)
{
    return oneway(a, n, true);
}

/* ---- Ping-pong ----------------------------------------------------------- */

static double
bench_pingpong(const bench_args_t *a, uint64_t n)
{
    th_system_t *sys = system_open(a, false);
    th_inbox_t *in;
    check(th_inbox_create(sys, &in), "th_inbox_create");
    th_addr_t ponger = spawn(sys, BENCH_PONGER);
    th_addr_t pinger = spawn(sys, BENCH_PINGER);
    bench_pinger_cfg_t cfg = {ponger, inbox_addr(in), n};
    struct rusage ru0, ru1;
    int64_t c0 = cpu_ns(&ru0), t0 = now_ns(), t1;
    tell(sys, &pinger, BENCH_MSG_START, &cfg, sizeof cfg);
    bench_report_t r;
    await_one(in, BENCH_MSG_DONE, &r, &t1, WAIT_MS);
    int64_t c1 = cpu_ns(&ru1);
    if (r.count != n)
        die("%" PRIu64 " round trips, expected %" PRIu64, r.count, n);
    double secs = (double)(t1 - t0) / 1e9;
    info("elapsed_s %.3f cpu_cores %.2f ctx_switches %ld", secs,
         (double)(c1 - c0) / (double)(t1 - t0),
         (ru1.ru_nvcsw + ru1.ru_nivcsw) - (ru0.ru_nvcsw + ru0.ru_nivcsw));
    th_inbox_destroy(in);
    system_close(sys);
    return (double)n / secs;
}

/* ---- Create + exit ------------------------------------------------------- */

static double
bench_create_exit(const bench_args_t *a, uint64_t n)
{
    th_system_t *sys = system_open(a, false);
    th_inbox_t *in;
    check(th_inbox_create(sys, &in), "th_inbox_create");
    th_addr_t spawner = spawn(sys, BENCH_SPAWNER);
    bench_spawner_cfg_t cfg = {inbox_addr(in), n};
    struct rusage ru0, ru1;
    int64_t c0 = cpu_ns(&ru0), t0 = now_ns(), t1;
    tell(sys, &spawner, BENCH_MSG_START, &cfg, sizeof cfg);
    bench_report_t r;
    await_one(in, BENCH_MSG_DONE, &r, &t1, WAIT_MS);
    int64_t c1 = cpu_ns(&ru1);
    if (r.count != n)
        die("%" PRIu64 " cycles, expected %" PRIu64, r.count, n);
    th_system_stats_t st;
    th_system_stats(sys, &st);
    info("elapsed_s %.3f cpu_cores %.2f ctx_switches %ld live_actors_after %"
         PRIu64 " dead_letters %" PRIu64, (double)(t1 - t0) / 1e9,
         (double)(c1 - c0) / (double)(t1 - t0),
         (ru1.ru_nvcsw + ru1.ru_nivcsw) - (ru0.ru_nvcsw + ru0.ru_nivcsw),
         st.live_actors, st.dead_letters);
    th_inbox_destroy(in);
    system_close(sys);
    return (double)(t1 - t0) / (double)n;
}

/* ---- Memory per idle actor ----------------------------------------------- */

static double
bench_idle_bytes(const bench_args_t *a, uint64_t n)
{
    th_system_t *sys = system_open(a, false);
    th_inbox_t *in;
    check(th_inbox_create(sys, &in), "th_inbox_create");
    /* Warm up first, so the baseline already holds what any system with
     * one actor holds: worker stacks, first slot chunk, message pools. */
    th_addr_t nursery = spawn(sys, BENCH_NURSERY);
    th_addr_t warm = spawn(sys, BENCH_IDLE);
    check(th_inbox_send(in, &warm, BENCH_MSG_HELLO, "", 0), "Hello");
    bench_report_t r;
    await_one(in, BENCH_MSG_UP, &r, NULL, WAIT_MS);
    sleep_ms(50);

    long rss0 = rss_bytes();
    struct mallinfo2 mi0 = mallinfo2();
    bench_nursery_cfg_t cfg = {inbox_addr(in), n, a->chunk, 0};
    int64_t t0 = now_ns(), t1;
    tell(sys, &nursery, BENCH_MSG_START, &cfg, sizeof cfg);
    await_one(in, BENCH_MSG_DONE, &r, &t1, WAIT_MS);
    if (r.count != n)
        die("%" PRIu64 " children up, expected %" PRIu64, r.count, n);
    sleep_ms(50); /* let the last turns return their envelopes */
    long rss1 = rss_bytes();
    struct mallinfo2 mi1 = mallinfo2();
    th_system_stats_t st;
    th_system_stats(sys, &st);
    double per = (double)(rss1 - rss0) / (double)n;
    /* mallinfo2 sees the main arena only when workers allocate in their
     * own arenas, so it is a hint, not the figure */
    info("rss_before_mb %.1f rss_after_mb %.1f rss_per_actor %.1f "
         "malloc_main_arena_per_actor %.1f mmap_per_actor %.1f "
         "create_rate_per_s %.0f live_actors %" PRIu64
         " spurious_efull_retries %" PRIu64,
         rss0 / 1048576.0, rss1 / 1048576.0, per,
         ((double)mi1.uordblks - (double)mi0.uordblks) / (double)n,
         ((double)mi1.hblkhd - (double)mi0.hblkhd) / (double)n,
         (double)n / ((double)(t1 - t0) / 1e9), st.live_actors, r.aux);
    th_inbox_destroy(in);
    system_close(sys);
    return per - BENCH_IDLE_STATE_SIZE;
}

/* ---- CPU used by an idle system ------------------------------------------ */

static double
bench_idle_cpu(const bench_args_t *a, uint64_t ms)
{
    enum { N_IDLE = 4 };
    th_system_t *sys = system_open(a, false);
    th_inbox_t *in;
    check(th_inbox_create(sys, &in), "th_inbox_create");
    for (int i = 0; i < N_IDLE; i++) {
        th_addr_t idle = spawn(sys, BENCH_IDLE);
        check(th_inbox_send(in, &idle, BENCH_MSG_HELLO, "", 0), "Hello");
    }
    for (int i = 0; i < N_IDLE; i++) {
        bench_report_t r;
        await_one(in, BENCH_MSG_UP, &r, NULL, WAIT_MS);
    }
    sleep_ms(100); /* workers finish their last turn and park */
    struct rusage ru0, ru1;
    int64_t c0 = cpu_ns(&ru0), t0 = now_ns();
    sleep_ms((int64_t)ms);
    int64_t c1 = cpu_ns(&ru1), t1 = now_ns();
    info("cpu_ms %.3f ctx_switches %ld over %.3f s",
         (double)(c1 - c0) / 1e6,
         (ru1.ru_nvcsw + ru1.ru_nivcsw) - (ru0.ru_nvcsw + ru0.ru_nivcsw),
         (double)(t1 - t0) / 1e9);
    th_inbox_destroy(in);
    system_close(sys);
    return 100.0 * (double)(c1 - c0) / (double)(t1 - t0);
}

/* ---- Command line -------------------------------------------------------- */

static const bench_t benches[] = {
    {"local_oneway_msgs_per_s", "msgs/s", 10000000, "messages",
     bench_local_oneway},
    {"local_pingpong_rt_per_s", "rt/s", 1000000, "round trips",
     bench_pingpong},
    {"local_create_exit_ns", "ns", 200000, "cycles", bench_create_exit},
    {"idle_actor_bytes", "bytes", 1000000, "actors", bench_idle_bytes},
    {"sync_msgs_per_s", "msgs/s", 10000000, "messages", bench_sync},
    {"idle_cpu_percent", "%", 5000, "idle milliseconds", bench_idle_cpu},
};
#define N_BENCHES (sizeof benches / sizeof benches[0])

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: runtime_bench [options] NAME...|all|list\n"
            "  --plugin PATH   benchactors.so (default: the built one)\n"
            "  -n N            count instead of the benchmark's own\n"
            "  --chunk C       Producer items per call,\n"
            "                  Nursery children per round\n"
            "  --workers W     worker threads (default: one per CPU)\n"
            "  --batch B       messages per actor turn (default: 64)\n"
            "  --mailbox M     mailbox limit (default: 1,000,000)\n"
            "benchmarks (default count):\n");
    for (size_t i = 0; i < N_BENCHES; i++)
        fprintf(f, "  %-26s %" PRIu64 " %s\n", benches[i].name,
                benches[i].default_n, benches[i].n_means);
}

static uint64_t
parse_count(const char *opt, const char *text)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v == 0)
        die("%s needs a positive integer, not \"%s\"", opt, text);
    return v;
}

static void
run_one(const bench_t *b, const bench_args_t *a)
{
    current = b->name;
    uint64_t n = a->n ? a->n : b->default_n;
    alarm(300);
    double v = b->run(a, n);
    alarm(0);
    /* whole numbers for rates, two decimals for small figures */
    if (v >= 1000.0)
        printf("RESULT %s %.0f %s\n", b->name, v, b->unit);
    else
        printf("RESULT %s %.2f %s\n", b->name, v, b->unit);
    fflush(stdout);
}

int
main(int argc, char **argv)
{
    bench_args_t a = {.plugin = BENCH_PLUGIN};
    signal(SIGALRM, on_alarm);
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "-h") == 0 || strcmp(opt, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc)
            die("%s needs a value", opt);
        const char *val = argv[++i];
        if (strcmp(opt, "--plugin") == 0)
            a.plugin = val;
        else if (strcmp(opt, "-n") == 0)
            a.n = parse_count(opt, val);
        else if (strcmp(opt, "--chunk") == 0)
            a.chunk = (uint32_t)parse_count(opt, val);
        else if (strcmp(opt, "--workers") == 0)
            a.workers = (uint32_t)parse_count(opt, val);
        else if (strcmp(opt, "--batch") == 0)
            a.batch = (uint32_t)parse_count(opt, val);
        else if (strcmp(opt, "--mailbox") == 0)
            a.mailbox = parse_count(opt, val);
        else
            die("unknown option %s", opt);
    }
    if (i == argc) {
        usage(stderr);
        return 2;
    }
    for (; i < argc; i++) {
        if (strcmp(argv[i], "list") == 0) {
            for (size_t k = 0; k < N_BENCHES; k++)
                printf("%s\n", benches[k].name);
            continue;
        }
        bool all = strcmp(argv[i], "all") == 0, found = false;
        for (size_t k = 0; k < N_BENCHES; k++)
            if (all || strcmp(argv[i], benches[k].name) == 0) {
                run_one(&benches[k], &a);
                found = true;
            }
        if (!found)
            die("no benchmark named %s (try list)", argv[i]);
    }
    return 0;
}
