/*
 * bench/bench_msgs.h — the binary message bodies shared by the benchmark
 * plugin (benchactors.c) and the benchmark driver (runtime_bench.c). Both
 * sides are built from this tree at once, so a fixed struct is enough; JSON
 * would put a parser into the figures being measured.
 */
#ifndef TH_BENCH_BENCH_MSGS_H
#define TH_BENCH_BENCH_MSGS_H

#include <stdint.h>

#include "thespian/actor.h"

/* Qualified class names: the plugin is named after its module. */
#define BENCH_PRODUCER "benchactors.Producer"
#define BENCH_CONSUMER "benchactors.Consumer"
#define BENCH_PINGER "benchactors.Pinger"
#define BENCH_PONGER "benchactors.Ponger"
#define BENCH_SPAWNER "benchactors.Spawner"
#define BENCH_NURSERY "benchactors.Nursery"
#define BENCH_IDLE "benchactors.Idle"

/* Message types. Start carries one of the *_cfg structs below, chosen by
 * the receiving class; every report (Done, Produced, Error) carries a
 * bench_report_t. */
#define BENCH_MSG_START "Start"
#define BENCH_MSG_MORE "More"       /* Producer to self: next chunk */
#define BENCH_MSG_ITEM "Msg"        /* the small message being counted */
#define BENCH_MSG_PING "Ping"
#define BENCH_MSG_PONG "Pong"
#define BENCH_MSG_HELLO "Hello"     /* to an Idle actor ... */
#define BENCH_MSG_UP "Up"           /* ... which answers: it has started */
#define BENCH_MSG_UP_RETRY "UpRetry" /* Idle to self: Up met TH_EFULL */
#define BENCH_MSG_DONE "Done"
#define BENCH_MSG_PRODUCED "Produced"
#define BENCH_MSG_ERROR "Error"

/* Consumer: count N items, then Done {count = N} to report_to. */
typedef struct bench_consumer_cfg {
    th_addr_t report_to;
    uint64_t n;
} bench_consumer_cfg_t;

/* Producer: send N items to consumer, `chunk` per turn; then Produced
 * {count = N, aux = TH_EFULL retries} to report_to. */
typedef struct bench_producer_cfg {
    th_addr_t consumer;
    th_addr_t report_to;
    uint64_t n;
    uint32_t chunk;
    uint32_t reserved0;
} bench_producer_cfg_t;

/* Pinger: N Ping/Pong round trips with ponger, one in flight; then Done. */
typedef struct bench_pinger_cfg {
    th_addr_t ponger;
    th_addr_t report_to;
    uint64_t n;
} bench_pinger_cfg_t;

/* Spawner: N times create an Idle child, ask it to exit, wait for its
 * ChildActorExited; then Done. */
typedef struct bench_spawner_cfg {
    th_addr_t report_to;
    uint64_t n;
} bench_spawner_cfg_t;

/* Nursery: create N Idle children, `chunk` at a time, send each Hello and
 * count their Up answers; Done when all N have answered (so all started). */
typedef struct bench_nursery_cfg {
    th_addr_t report_to;
    uint64_t n;
    uint32_t chunk;
    uint32_t reserved0;
} bench_nursery_cfg_t;

/* Body of Done, Produced and Error. */
typedef struct bench_report {
    uint64_t count;   /* items, round trips, cycles or children done */
    uint64_t aux;     /* TH_EFULL retries: Producer's turns cut short,
                         Nursery's children whose Up was retried */
    int64_t error;    /* Error: the TH_E* code that stopped the actor */
} bench_report_t;

/* State the Idle class declares: the memory benchmark subtracts it to get
 * the runtime's own overhead per actor. */
#define BENCH_IDLE_STATE_SIZE 16

#endif /* TH_BENCH_BENCH_MSGS_H */
