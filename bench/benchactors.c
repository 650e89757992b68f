/*
 * bench/benchactors.c — benchactors.so: the actor classes the runtime
 * benchmarks (runtime_bench.c) drive. Each does the least work its figure
 * needs, so the figure is the runtime's cost. Configuration arrives in the
 * Start message (bench_msgs.h); the plugin keeps no globals.
 *
 *   Producer  Start -> N items to the consumer, a chunk per call, then
 *             More to itself, so others run between chunks (threaded, the
 *             More can still come in the same turn; synchronous turns take
 *             only what was queued before them); TH_EFULL ends the chunk,
 *             retried on the next More. Then Produced.
 *   Consumer  Start -> counts items; the Nth sends Done.
 *   Pinger    Start -> N Ping/Pong round trips, one in flight; then Done.
 *   Ponger    Ping -> Pong to the sender.
 *   Spawner   Start -> N times: create Idle, ActorExitRequest it, wait for
 *             ChildActorExited; then Done.
 *   Nursery   Start -> N Idle children, each sent Hello, a chunk at a
 *             time (the next chunk once the last has answered Up);
 *             Done once all N answered (they have all started).
 *   Idle      16 bytes of state; Hello -> Up to the sender (TH_EFULL:
 *             retried next turn, and that Up has a 1-byte body).
 * A failure other than back-pressure is reported as Error and the actor
 * stops working: failing the handler would restart it with zeroed state
 * and silently restart the count.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "thespian/actor.h"
#include "bench_msgs.h"

#define PRODUCER_CHUNK_DEFAULT 256
#define NURSERY_CHUNK_DEFAULT 1024

/* Send a report; a report that cannot be delivered leaves the driver to
 * time out loudly, so logging it is all that is useful here. */
static void
report(th_ctx_t *ctx, const th_addr_t *to, const char *type, uint64_t count,
       uint64_t aux, int error)
{
    bench_report_t r = {count, aux, error};
    int rc = th_send(ctx, to, type, &r, sizeof r);
    if (rc != 0)
        th_log(ctx, TH_LOG_ERROR, "benchactors: %s not sent: %s", type,
               th_strerror(rc));
}

/* Copy a Start body of exactly `size` bytes; false (and a log line) for
 * anything else, since a wrong body means a driver bug. */
static bool
take_cfg(th_ctx_t *ctx, const th_msg_t *msg, void *cfg, size_t size)
{
    if (msg->len != size) {
        th_log(ctx, TH_LOG_ERROR, "benchactors: Start body is %zu bytes, "
               "expected %zu", msg->len, size);
        return false;
    }
    memcpy(cfg, msg->data, size);
    return true;
}

/* Ask for another turn: the message queues behind whatever is already in
 * this actor's mailbox, so the scheduler runs others in between. */
static int
send_more(th_ctx_t *ctx)
{
    th_addr_t self = th_my_address(ctx);
    return th_send(ctx, &self, BENCH_MSG_MORE, "", 0);
}

/* ---- Producer / Consumer ------------------------------------------------- */

typedef struct producer {
    bench_producer_cfg_t cfg;
    uint64_t sent;
    uint64_t retries;     /* turns cut short by TH_EFULL */
    bool stopped;         /* finished or failed: ignore further More */
} producer_t;

static int
producer_chunk(th_ctx_t *ctx, producer_t *p)
{
    if (p->stopped)
        return 0;
    for (uint32_t i = 0; i < p->cfg.chunk && p->sent < p->cfg.n; i++) {
        uint64_t seq = p->sent;
        int rc = th_send(ctx, &p->cfg.consumer, BENCH_MSG_ITEM, &seq,
                         sizeof seq);
        if (rc == TH_EFULL) {
            /* nothing was sent: the consumer is behind, try next turn */
            p->retries++;
            break;
        }
        if (rc != 0) {
            p->stopped = true;
            report(ctx, &p->cfg.report_to, BENCH_MSG_ERROR, p->sent,
                   p->retries, rc);
            return 0;
        }
        p->sent++;
    }
    if (p->sent == p->cfg.n) {
        p->stopped = true;
        report(ctx, &p->cfg.report_to, BENCH_MSG_PRODUCED, p->sent,
               p->retries, 0);
        return 0;
    }
    int rc = send_more(ctx);
    if (rc != 0) {
        p->stopped = true;
        report(ctx, &p->cfg.report_to, BENCH_MSG_ERROR, p->sent, p->retries,
               rc);
    }
    return 0;
}

static int
producer_start(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    producer_t *p = state;
    if (!take_cfg(ctx, msg, &p->cfg, sizeof p->cfg))
        return 0;
    if (p->cfg.chunk == 0)
        p->cfg.chunk = PRODUCER_CHUNK_DEFAULT;
    return producer_chunk(ctx, p);
}

static int
producer_more(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)msg;
    return producer_chunk(ctx, state);
}

static const th_dispatch_t producer_dispatch[] = {
    {BENCH_MSG_START, producer_start},
    {BENCH_MSG_MORE, producer_more},
};

static const th_class_t producer_class = {
    .size = sizeof(th_class_t),
    .name = "Producer",
    .state_size = sizeof(producer_t),
    .dispatch = producer_dispatch,
    .n_dispatch = sizeof producer_dispatch / sizeof producer_dispatch[0],
};

typedef struct consumer {
    bench_consumer_cfg_t cfg;
    uint64_t seen;
} consumer_t;

static int
consumer_start(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    consumer_t *c = state;
    take_cfg(ctx, msg, &c->cfg, sizeof c->cfg);
    return 0;
}

static int
consumer_item(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)msg;
    consumer_t *c = state;
    if (++c->seen == c->cfg.n)
        report(ctx, &c->cfg.report_to, BENCH_MSG_DONE, c->seen, 0, 0);
    return 0;
}

static const th_dispatch_t consumer_dispatch[] = {
    /* the item first: it is the message the benchmark counts */
    {BENCH_MSG_ITEM, consumer_item},
    {BENCH_MSG_START, consumer_start},
};

static const th_class_t consumer_class = {
    .size = sizeof(th_class_t),
    .name = "Consumer",
    .state_size = sizeof(consumer_t),
    .dispatch = consumer_dispatch,
    .n_dispatch = sizeof consumer_dispatch / sizeof consumer_dispatch[0],
};

/* ---- Pinger / Ponger ----------------------------------------------------- */

typedef struct pinger {
    bench_pinger_cfg_t cfg;
    uint64_t done;        /* completed round trips */
} pinger_t;

static void
pinger_ping(th_ctx_t *ctx, pinger_t *p)
{
    int rc = th_send(ctx, &p->cfg.ponger, BENCH_MSG_PING, "", 0);
    if (rc != 0)
        report(ctx, &p->cfg.report_to, BENCH_MSG_ERROR, p->done, 0, rc);
}

static int
pinger_start(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    pinger_t *p = state;
    if (take_cfg(ctx, msg, &p->cfg, sizeof p->cfg) && p->cfg.n > 0)
        pinger_ping(ctx, p);
    return 0;
}

static int
pinger_pong(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)msg;
    pinger_t *p = state;
    if (++p->done < p->cfg.n)
        pinger_ping(ctx, p);
    else
        report(ctx, &p->cfg.report_to, BENCH_MSG_DONE, p->done, 0, 0);
    return 0;
}

static const th_dispatch_t pinger_dispatch[] = {
    {BENCH_MSG_PONG, pinger_pong},
    {BENCH_MSG_START, pinger_start},
};

static const th_class_t pinger_class = {
    .size = sizeof(th_class_t),
    .name = "Pinger",
    .state_size = sizeof(pinger_t),
    .dispatch = pinger_dispatch,
    .n_dispatch = sizeof pinger_dispatch / sizeof pinger_dispatch[0],
};

static int
ponger_ping(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)state;
    int rc = th_reply(ctx, msg, BENCH_MSG_PONG, "", 0);
    if (rc != 0)
        th_log(ctx, TH_LOG_ERROR, "benchactors: Pong not sent: %s",
               th_strerror(rc));
    return 0;
}

static const th_dispatch_t ponger_dispatch[] = {
    {BENCH_MSG_PING, ponger_ping},
};

static const th_class_t ponger_class = {
    .size = sizeof(th_class_t),
    .name = "Ponger",
    .dispatch = ponger_dispatch,
    .n_dispatch = sizeof ponger_dispatch / sizeof ponger_dispatch[0],
};

/* ---- Spawner ------------------------------------------------------------- */

typedef struct spawner {
    bench_spawner_cfg_t cfg;
    uint64_t done;        /* children that have exited */
} spawner_t;

static void
spawner_spawn(th_ctx_t *ctx, spawner_t *s)
{
    th_addr_t child;
    int rc = th_create(ctx, &child, BENCH_IDLE, NULL);
    if (rc == 0)
        rc = th_exit_request(ctx, &child, true);
    if (rc != 0)
        report(ctx, &s->cfg.report_to, BENCH_MSG_ERROR, s->done, 0, rc);
}

static int
spawner_start(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    spawner_t *s = state;
    if (take_cfg(ctx, msg, &s->cfg, sizeof s->cfg) && s->cfg.n > 0)
        spawner_spawn(ctx, s);
    return 0;
}

static int
spawner_child_exited(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)msg;
    spawner_t *s = state;
    if (++s->done < s->cfg.n)
        spawner_spawn(ctx, s);
    else
        report(ctx, &s->cfg.report_to, BENCH_MSG_DONE, s->done, 0, 0);
    return 0;
}

static const th_dispatch_t spawner_dispatch[] = {
    {TH_MSG_CHILD_EXITED, spawner_child_exited},
    {BENCH_MSG_START, spawner_start},
};

static const th_class_t spawner_class = {
    .size = sizeof(th_class_t),
    .name = "Spawner",
    .state_size = sizeof(spawner_t),
    .dispatch = spawner_dispatch,
    .n_dispatch = sizeof spawner_dispatch / sizeof spawner_dispatch[0],
};

/* ---- Nursery / Idle ------------------------------------------------------ */

typedef struct nursery {
    bench_nursery_cfg_t cfg;
    uint64_t created;
    uint64_t up;          /* children that answered Hello */
    uint64_t retried;     /* of those, answers that met TH_EFULL first */
    bool stopped;
} nursery_t;

/* Create the next chunk once the previous one has answered: at most one
 * chunk of Up replies is ever queued here, so the nursery's own mailbox
 * limit can never refuse a child's reply. */
static int
nursery_chunk(th_ctx_t *ctx, nursery_t *s)
{
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < s->cfg.chunk && s->created < s->cfg.n;
         i++) {
        th_addr_t child;
        rc = th_create(ctx, &child, BENCH_IDLE, NULL);
        if (rc == 0)
            rc = th_send(ctx, &child, BENCH_MSG_HELLO, "", 0);
        if (rc == 0)
            s->created++;
    }
    if (rc != 0) {
        s->stopped = true;
        report(ctx, &s->cfg.report_to, BENCH_MSG_ERROR, s->created, s->up,
               rc);
    }
    return 0;
}

static int
nursery_start(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    nursery_t *s = state;
    if (!take_cfg(ctx, msg, &s->cfg, sizeof s->cfg))
        return 0;
    if (s->cfg.chunk == 0)
        s->cfg.chunk = NURSERY_CHUNK_DEFAULT;
    return nursery_chunk(ctx, s);
}

static int
nursery_up(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    nursery_t *s = state;
    if (s->stopped)
        return 0;
    s->retried += msg->len != 0;
    if (++s->up == s->cfg.n)
        report(ctx, &s->cfg.report_to, BENCH_MSG_DONE, s->up, s->retried, 0);
    else if (s->up == s->created)
        return nursery_chunk(ctx, s);
    return 0;
}

static const th_dispatch_t nursery_dispatch[] = {
    {BENCH_MSG_UP, nursery_up},
    {BENCH_MSG_START, nursery_start},
};

static const th_class_t nursery_class = {
    .size = sizeof(th_class_t),
    .name = "Nursery",
    .state_size = sizeof(nursery_t),
    .dispatch = nursery_dispatch,
    .n_dispatch = sizeof nursery_dispatch / sizeof nursery_dispatch[0],
};

typedef struct idle {
    unsigned char bytes[BENCH_IDLE_STATE_SIZE]; /* stands in for real state */
} idle_t;

/* Answer Up to `to`. TH_EFULL is retried on a later turn (UpRetry to
 * itself, carrying `to`): the runtime can report a full mailbox that is
 * not full when several actors send to one at once (see RESULTS.md), and
 * a lost Up would stall the Nursery. A retried Up carries one byte so the
 * Nursery can count how often that happened. */
static int
idle_answer(th_ctx_t *ctx, const th_addr_t *to, bool retried)
{
    int rc = th_send(ctx, to, BENCH_MSG_UP, "r", retried ? 1 : 0);
    if (rc == TH_EFULL) {
        th_addr_t self = th_my_address(ctx);
        rc = th_send(ctx, &self, BENCH_MSG_UP_RETRY, to, sizeof *to);
    }
    if (rc != 0)
        th_log(ctx, TH_LOG_ERROR, "benchactors: Up not sent: %s",
               th_strerror(rc));
    return 0;
}

static int
idle_hello(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)state;
    return idle_answer(ctx, &msg->sender, false);
}

static int
idle_up_retry(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)state;
    th_addr_t to;
    if (msg->len != sizeof to)
        return 0;
    memcpy(&to, msg->data, sizeof to);
    return idle_answer(ctx, &to, true);
}

static const th_dispatch_t idle_dispatch[] = {
    {BENCH_MSG_HELLO, idle_hello},
    {BENCH_MSG_UP_RETRY, idle_up_retry},
};

static const th_class_t idle_class = {
    .size = sizeof(th_class_t),
    .name = "Idle",
    .state_size = sizeof(idle_t),
    .dispatch = idle_dispatch,
    .n_dispatch = sizeof idle_dispatch / sizeof idle_dispatch[0],
};

TH_PLUGIN_DEFINE(benchactors, &producer_class, &consumer_class, &pinger_class,
                 &ponger_class, &spawner_class, &nursery_class, &idle_class);
