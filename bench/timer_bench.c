/*
 * bench/timer_bench.c — timers with ids at scale (issue: timers):
 *   timer_schedule_ns  mean cost of one th_timer_start while 1 M timers
 *                      are pending (100 k more scheduled on top of 1 M;
 *                      the window holds one doubling of the id map)
 *   timer_schedule_fill_ns  the same over the first 1 M (0 -> 1 M pending)
 *   timer_fire_ns      per timer, from the instant 1 M timers fall due to
 *                      the last TimerMessage handled by its actor
 * Threaded system, 2 workers; one actor schedules (the timer thread and
 * the workers do the rest). Three runs, median printed as RESULT lines.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "host/host.h"
#include "bench_util.h"

#define RUNS 3
#define PENDING 1000000
#define EXTRA 100000

static json_t *
wait_for(th_inbox_t *in, const char *type)
{
    th_inmsg_t *m;
    int rc = th_inbox_recv(in, &m, 120000);
    if (rc != 0)
        bench_die("timer_bench", type, th_strerror(rc));
    if (strcmp(m->type, type) != 0)
        bench_die("timer_bench", type, m->type);
    json_t *o = json_loadb(m->data, m->len, 0, NULL);
    th_inmsg_free(m);
    if (o == NULL || json_integer_value(json_object_get(o, "rc")) != 0)
        bench_die("timer_bench", type, "bad answer");
    return o;
}

static long long
field(json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

static void
schedule(th_inbox_t *in, const th_addr_t *a, long n, long in_ms,
         long long *ns, long long *due)
{
    char body[64];
    snprintf(body, sizeof body, "{\"n\":%ld,\"in_ms\":%ld}", n, in_ms);
    if (th_inbox_send(in, a, "Schedule", body, strlen(body)) != 0)
        bench_die("timer_bench", "send", "Schedule");
    json_t *o = wait_for(in, "Scheduled");
    *ns = field(o, "ns");
    *due = field(o, "due_ns");
    json_decref(o);
}

static void
one_run(double *fill_ns, double *sched_ns, double *fire_ns)
{
    th_system_opts_t opts = {.workers = 2};
    th_system_t *sys;
    th_diag_t d = {0};
    if (th_system_create(&sys, &opts) != 0 ||
        th_system_load_plugin(sys, TIMERBENCH_SO, &d) != 0)
        bench_die("timer_bench", "system", d.msg);
    th_inbox_t *in;
    th_addr_t a;
    if (th_inbox_create(sys, &in) != 0 ||
        th_system_create_actor(sys, &a, "timerbench.Load", NULL) != 0)
        bench_die("timer_bench", "setup", "inbox or actor");
    long long ns, due;
    /* 1 M pending an hour away, then the measured 100 k on top */
    schedule(in, &a, PENDING, 3600000, &ns, &due);
    *fill_ns = (double)ns / PENDING;
    schedule(in, &a, EXTRA, 3600000, &ns, &due);
    *sched_ns = (double)ns / EXTRA;
    th_inbox_destroy(in);
    th_system_destroy(sys);

    if (th_system_create(&sys, &opts) != 0 ||
        th_system_load_plugin(sys, TIMERBENCH_SO, &d) != 0 ||
        th_inbox_create(sys, &in) != 0 ||
        th_system_create_actor(sys, &a, "timerbench.Load", NULL) != 0)
        bench_die("timer_bench", "system", d.msg);
    /* all due at one instant, well after the scheduling is over */
    schedule(in, &a, PENDING, 3000, &ns, &due);
    json_t *o = wait_for(in, "Fired");
    *fire_ns = (double)(field(o, "at_ns") - due) / PENDING;
    json_decref(o);
    th_inbox_destroy(in);
    th_system_destroy(sys);
}

int
main(void)
{
    double fill[RUNS], s[RUNS], f[RUNS];
    for (int i = 0; i < RUNS; i++) {
        one_run(&fill[i], &s[i], &f[i]);
        fprintf(stderr, "INFO run %d: fill %.1f ns, schedule %.1f ns, "
                "fire %.1f ns\n", i, fill[i], s[i], f[i]);
    }
    printf("RESULT timer_schedule_fill_ns %.1f ns\n",
           bench_pct(fill, RUNS, 0.5));
    printf("RESULT timer_schedule_ns %.1f ns\n", bench_pct(s, RUNS, 0.5));
    printf("RESULT timer_fire_ns %.1f ns\n", bench_pct(f, RUNS, 0.5));
    return 0;
}
