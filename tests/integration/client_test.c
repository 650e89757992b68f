/*
 * tests/integration/client_test.c — libthespian-client against real
 * thespiand processes on loopback (random free ports): create, tell, ask,
 * listen, Thespian's error names, what passes the filter, capabilities,
 * status, private contexts under load (8 threads, 10 k asks, each gets
 * only its own replies), a host killed or stopped mid-ask, shutdown, the
 * endpoint rule. Needs $THESPIAND and $HELLO_SO (meson passes them).
 */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/time.h>

#include "host_util.h"
#include "th_test.h"

static const char *
hello_so(void)
{
    const char *p = getenv("HELLO_SO");
    if (p == NULL) {
        fprintf(stderr, "# $HELLO_SO is not set\n");
        exit(1);
    }
    return p;
}

static void
start_hello(hu_host_t *h)
{
    const char *extra[] = {"--plugin", hello_so(), NULL};
    hu_start(h, extra);
}

static th_addr_t
make_greeter(th_client_t *c, const char *name)
{
    th_client_create_opts_t o = {.size = sizeof o, .global_name = name};
    th_addr_t a;
    int rc = th_client_create(c, &a, "hello.Greeter", name ? &o : NULL);
    if (rc != 0)
        fprintf(stderr, "# create: %s\n", th_client_errmsg(c));
    CHECK_RC(rc, 0);
    return a;
}

/* Ask Greet {"name": name}; returns the reply (owned). */
static th_client_msg_t *
greet(th_client_t *c, const th_addr_t *g, const char *name)
{
    char body[128];
    int n = snprintf(body, sizeof body, "{\"name\":\"%s\"}", name);
    th_client_msg_t *m = NULL;
    int rc = th_client_ask(c, &m, g, "Greet", body, (size_t)n, 10000);
    if (rc != 0)
        fprintf(stderr, "# ask: %s\n", th_client_errmsg(c));
    CHECK_RC(rc, 0);
    return m;
}

/* ---- basics -------------------------------------------------------------- */

TH_TEST(create_ask_and_global_names)
{
    hu_host_t h = {0};
    start_hello(&h);
    th_client_t *c = hu_connect(&h);
    th_addr_t g = make_greeter(c, NULL);
    th_client_msg_t *m = greet(c, &g, "bob");
    CHECK_STREQ(m->type, "Greeting");
    CHECK_CONTAINS((const char *)m->data, "Hello, bob!");
    th_addr_t from = m->sender;
    CHECK(th_addr_eq(&from, &g));
    th_client_msg_free(m);

    /* a global name gives the same actor back, and can be looked up */
    th_addr_t n1 = make_greeter(c, "greeter"), n2 = make_greeter(c, "greeter");
    CHECK(th_addr_eq(&n1, &n2));
    th_addr_t found;
    CHECK_RC(th_client_lookup(c, &found, "greeter"), 0);
    CHECK(th_addr_eq(&found, &n1));
    CHECK_RC(th_client_lookup(c, &found, "nobody"), TH_ENOENT);
    CHECK_CONTAINS(th_client_errmsg(c), "nobody");

    /* addresses print and parse */
    char text[TH_ADDR_STRLEN];
    CHECK_RC(th_client_addr_format(&g, text, sizeof text), 0);
    th_addr_t back;
    CHECK_RC(th_client_addr_parse(&back, text), 0);
    CHECK(th_addr_eq(&back, &g));
    CHECK_RC(th_client_addr_parse(&back, "th1:zz"), TH_EADDR);
    th_client_close(c);
    CHECK(hu_finish(&h));
}

TH_TEST(create_errors_use_thespian_names)
{
    hu_host_t h = {0};
    start_hello(&h);
    th_client_t *c = hu_connect(&h);
    th_addr_t a;
    CHECK_RC(th_client_create(c, &a, "hello.Nope", NULL), TH_EINVAL);
    CHECK_CONTAINS(th_client_errmsg(c), "InvalidActorSpecification");
    CHECK_CONTAINS(th_client_errmsg(c), "hello.Nope");

    th_client_create_opts_t o = {.size = sizeof o,
                                 .requirements_json = "{\"gpu\":true}"};
    CHECK_RC(th_client_create(c, &a, "hello.Greeter", &o), TH_ENOCOMPAT);
    CHECK_STREQ(th_errname(TH_ENOCOMPAT), "NoCompatibleSystemForActor");
    CHECK_CONTAINS(th_client_errmsg(c), "NoCompatibleSystemForActor");

    th_client_create_opts_t s = {.size = sizeof s, .source_hash = "abc123"};
    CHECK_RC(th_client_create(c, &a, "hello.Greeter", &s), TH_ESOURCE);
    CHECK_CONTAINS(th_client_errmsg(c), "InvalidActorSourceHash");
    CHECK_CONTAINS(th_client_errmsg(c), "abc123");

    th_client_create_opts_t bad = {.size = sizeof bad,
                                   .requirements_json = "[1]"};
    CHECK_RC(th_client_create(c, &a, "hello.Greeter", &bad), TH_EINVAL);
    CHECK_CONTAINS(th_client_errmsg(c), "requirements");

    /* the context still works after refusals */
    th_addr_t g = make_greeter(c, NULL);
    th_client_msg_free(greet(c, &g, "after"));
    th_client_close(c);
    CHECK(hu_finish(&h));
}

TH_TEST(tell_listen_and_local_errors)
{
    hu_host_t h = {0};
    start_hello(&h);
    th_client_t *c = hu_connect(&h);
    th_addr_t g = make_greeter(c, NULL);
    th_client_msg_t *m = NULL;
    CHECK_RC(th_client_listen(c, &m, 0), TH_ETIMEDOUT);
    static const char body[] = "{\"name\":\"x\"}";
    for (int i = 0; i < 3; i++)
        CHECK_RC(th_client_tell(c, &g, "Greet", body, sizeof body - 1), 0);
    for (int i = 1; i <= 3; i++) {
        CHECK_RC(th_client_listen(c, &m, 10000), 0);
        char want[32];
        snprintf(want, sizeof want, "\"count\":%d", i);
        CHECK_CONTAINS((const char *)m->data, want); /* in order */
        th_client_msg_free(m);
    }
    th_addr_t null = {{0, 0, 0}};
    CHECK_RC(th_client_tell(c, &null, "Greet", "", 0), TH_EADDR);
    CHECK_CONTAINS(th_client_errmsg(c), "InvalidActorAddress");
    CHECK_RC(th_client_tell(c, &g, "bad type!", "", 0), TH_EINVAL);
    CHECK_RC(th_client_tell(c, &g, "", "", 0), TH_EINVAL);
    CHECK_RC(th_client_tell(c, &g, TH_MSG_POISON, "", 0), TH_ERESERVED);
    CHECK_RC(th_client_tell(c, &g, TH_MSG_WAKEUP, "", 0), TH_ERESERVED);
    CHECK_RC(th_client_tell(c, &g, "Greet", NULL, 3), TH_EINVAL);
    /* a dead address is not an error for tell (Thespian: dead letter) */
    th_addr_t dead = g;
    dead.opaque[2] ^= 1;
    CHECK_RC(th_client_tell(c, &dead, "Greet", body, sizeof body - 1), 0);
    th_client_close(c);
    CHECK(hu_finish(&h));
}

TH_TEST(ask_without_reply_times_out_in_time)
{
    hu_host_t h = {0};
    start_hello(&h);
    th_client_t *c = hu_connect(&h);
    th_addr_t sys;
    th_client_system_address(c, &sys);
    th_client_msg_t *m = NULL;
    int64_t t0 = th_now_ms();
    /* the system dead-letters a type it does not handle: no reply */
    CHECK_RC(th_client_ask(c, &m, &sys, "NoSuchRequest", "", 0, 300),
             TH_ETIMEDOUT);
    int64_t dt = th_now_ms() - t0;
    CHECK(dt >= 280 && dt < 2000);
    CHECK_STREQ(th_errname(TH_ETIMEDOUT), "ActorSystemRequestTimeout");
    th_client_close(c);
    CHECK(hu_finish(&h));
}

TH_TEST(poison_and_status_pass_the_filter)
{
    hu_host_t h = {0};
    start_hello(&h);
    th_client_t *c = hu_connect(&h);
    th_addr_t g = make_greeter(c, NULL), sys;
    th_client_msg_t *m = NULL;
    CHECK_RC(th_client_ask(c, &m, &g, "Crash", "{}", 2, 10000), 0);
    CHECK_STREQ(m->type, TH_MSG_POISON);
    CHECK_CONTAINS((const char *)m->data, "\"type\":\"Crash\"");
    CHECK_CONTAINS((const char *)m->data, "asked to crash");
    th_client_msg_free(m);

    th_client_system_address(c, &sys);
    CHECK_RC(th_client_ask(c, &m, &sys, TH_MSG_STATUS_REQ, "", 0, 10000), 0);
    CHECK_STREQ(m->type, TH_MSG_SYSTEM_STATUS);
    CHECK_CONTAINS((const char *)m->data, "\"live_actors\"");
    th_client_msg_free(m);

    CHECK_RC(th_client_ask(c, &m, &g, TH_MSG_STATUS_REQ, "", 0, 10000), 0);
    CHECK_STREQ(m->type, TH_MSG_ACTOR_STATUS);
    CHECK_CONTAINS((const char *)m->data, "hello.Greeter");
    th_client_msg_free(m);

    th_client_close(c);
    CHECK(hu_finish(&h));
}

TH_TEST(other_runtime_messages_are_filtered)
{
    hu_host_t h = {0};
    const char *so = getenv("FILTERPROBE_SO");
    CHECK(so != NULL);
    const char *extra[] = {"--plugin", so, NULL};
    hu_start(&h, extra);
    th_client_t *c = hu_connect(&h);
    th_addr_t p;
    CHECK_RC(th_client_create(c, &p, "filterprobe.Sender", NULL), 0);
    /* the runtime types an actor may send anyone: sent (rc 0), but the
     * context sees only the Sent marker that follows */
    static const char *const types[] = {TH_MSG_EXIT_REQUEST, TH_MSG_STATUS_REQ,
                                        TH_MSG_VALIDATED_SOURCE};
    for (size_t i = 0; i < 3; i++) {
        char body[96];
        int n = snprintf(body, sizeof body, "{\"type\":\"%s\"}", types[i]);
        th_client_msg_t *m = NULL;
        CHECK_RC(th_client_ask(c, &m, &p, "Send", body, (size_t)n, 10000), 0);
        CHECK_STREQ(m->type, "Sent");
        CHECK_CONTAINS((const char *)m->data, types[i]);
        CHECK_CONTAINS((const char *)m->data, "\"rc\":0");
        th_client_msg_free(m);
    }
    /* a user type does arrive */
    th_client_msg_t *m = NULL;
    CHECK_RC(th_client_ask(c, &m, &p, "Send", "{\"type\":\"Mine\"}", 15, 10000),
             0);
    CHECK_STREQ(m->type, "Mine");
    th_client_msg_free(m);
    CHECK_RC(th_client_listen(c, &m, 10000), 0);
    CHECK_STREQ(m->type, "Sent");
    th_client_msg_free(m);
    CHECK_RC(th_client_listen(c, &m, 200), TH_ETIMEDOUT);
    th_client_close(c);
    CHECK_EQ(hu_stop(&h), 0);
    /* the context's tally: the runtime's inbox dropped the three before
     * the endpoint saw them (in-process inboxes filter the same way) */
    CHECK(hu_log_has(&h, "5 pushed, 0 filtered"));
    CHECK(hu_finish(&h));
}

TH_TEST(status_and_capabilities)
{
    hu_host_t h = {0};
    const char *extra[] = {"--plugin", hello_so(), "--capabilities",
                           "{\"gpu\":false,\"zone\":\"a\"}", NULL};
    hu_start(&h, extra);
    th_client_t *c = hu_connect(&h);
    char *text = NULL;
    CHECK_RC(th_client_status(c, &text), 0);
    json_t *st = json_loads(text, 0, NULL);
    CHECK(st != NULL);
    CHECK(json_is_false(
        json_object_get(json_object_get(st, "capabilities"), "gpu")));
    json_t *adm = json_object_get(st, "admin");
    CHECK_EQ(json_integer_value(json_object_get(adm, "pid")), h.pid);
    CHECK_STREQ(json_string_value(json_object_get(adm, "endpoint")),
                h.endpoint);
    CHECK(json_object_get(json_object_get(st, "system"), "actors") != NULL);
    json_decref(st);
    th_client_free(text);

    CHECK_RC(th_client_update_capability(c, "gpu", "{\"count\":2}"), 0);
    CHECK_RC(th_client_update_capability(c, "zone", NULL), 0);
    CHECK_RC(th_client_update_capability(c, "x", "not json"), TH_EINVAL);
    CHECK_RC(th_client_update_capability(c, "", "1"), TH_EINVAL);
    CHECK_RC(th_client_status(c, &text), 0);
    st = json_loads(text, 0, NULL);
    json_t *caps = json_object_get(st, "capabilities");
    CHECK_EQ(json_integer_value(
                 json_object_get(json_object_get(caps, "gpu"), "count")),
             2);
    CHECK(json_object_get(caps, "zone") == NULL);
    json_decref(st);
    th_client_free(text);
    th_client_close(c);
    CHECK(hu_finish(&h));
}

/* createActor returns once the actor is created or failed: an init that
 * refuses is reported, not hidden behind an address. */
TH_TEST(create_reports_an_init_that_fails)
{
    hu_host_t h = {0};
    const char *rt = getenv("RTACTORS_SO");
    CHECK(rt != NULL);
    const char *extra[] = {"--plugin", hello_so(), "--plugin", rt, NULL};
    hu_start(&h, extra);
    th_client_t *c = hu_connect(&h);
    th_addr_t a;
    CHECK_RC(th_client_create(c, &a, "rtactors.FailInit", NULL), TH_ESTARTUP);
    CHECK_CONTAINS(th_client_errmsg(c), "ActorSystemStartupFailure");
    CHECK_CONTAINS(th_client_errmsg(c), "rtactors.FailInit failed to start");
    CHECK_RC(th_client_create(c, &a, "hello.Greeter", NULL), 0);
    th_client_close(c);
    CHECK(hu_finish(&h));
}

TH_TEST(tell_by_name_refuses_bad_input)
{
    hu_host_t h = {0};
    start_hello(&h);
    th_client_t *c = hu_connect(&h);
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    CHECK_RC(th_client_tell_name(c, "", "Greet", "{}", 2), TH_EINVAL);
    CHECK_RC(th_client_tell_name(c, NULL, "Greet", "{}", 2), TH_EINVAL);
    CHECK_RC(th_client_tell_name(c, longname, "Greet", "{}", 2), TH_EINVAL);
    CHECK_RC(th_client_tell_name(c, "g", "PoisonMessage", "{}", 2),
             TH_ERESERVED);
    CHECK_CONTAINS(th_client_errmsg(c), "reserved");
    CHECK_RC(th_client_tell_name(c, "g", "bad type", "{}", 2), TH_EINVAL);
    /* a name nobody holds: a dead letter in the host, no answer */
    th_client_msg_t *m = NULL;
    CHECK_RC(th_client_ask_name(c, &m, "nobody", "Greet", "{}", 2, 300),
             TH_ETIMEDOUT);
    /* the host serves on, by name too */
    make_greeter(c, "g");
    CHECK_RC(th_client_ask_name(c, &m, "g", "Greet", "{\"name\":\"n\"}", 12,
                                5000),
             0);
    CHECK_CONTAINS((const char *)m->data, "Hello, n!");
    th_client_msg_free(m);
    th_client_close(c);
    CHECK(hu_finish(&h));
}

TH_TEST(load_without_trusted_keys_is_refused_clearly)
{
    hu_host_t h = {0};
    start_hello(&h);
    th_client_t *c = hu_connect(&h);
    char hash[65];
    /* a host without a director directory trusts no key: secure by
     * default, whatever the bytes are */
    CHECK_RC(th_client_load(c, hash, hello_so()), TH_EPERM);
    CHECK_CONTAINS(th_client_errmsg(c), "no trusted key");
    CHECK_RC(th_client_unload(c, "00"), TH_ESOURCE);
    CHECK_CONTAINS(th_client_errmsg(c), "no loaded source");
    CHECK_RC(th_client_load(c, hash, "/nonexistent/x.tls"), TH_EIO);
    CHECK_CONTAINS(th_client_errmsg(c), "/nonexistent/x.tls");
    CHECK_RC(th_client_load(c, hash, "/"), TH_EIO); /* not a file */
    CHECK_CONTAINS(th_client_errmsg(c), "not a regular file");
    th_client_close(c);
    CHECK(hu_finish(&h));
}

/* ---- private contexts ---------------------------------------------------- */

#define N_THREADS 8
#define N_ASKS 10000

typedef struct worker_arg {
    th_client_t *parent;
    pthread_mutex_t *lock;
    th_addr_t greeter;
    int index;
    int ok, wrong;
} worker_arg_t;

static void *
asker(void *p)
{
    worker_arg_t *w = p;
    th_client_t *c = NULL;
    pthread_mutex_lock(w->lock); /* the parent is not thread-safe */
    int rc = th_client_private(&c, w->parent);
    pthread_mutex_unlock(w->lock);
    if (rc != 0)
        return NULL;
    for (int i = 0; i < N_ASKS / N_THREADS; i++) {
        char body[64], want[64];
        int n =
            snprintf(body, sizeof body, "{\"name\":\"t%d-%d\"}", w->index, i);
        snprintf(want, sizeof want, "Hello, t%d-%d!", w->index, i);
        th_client_msg_t *m = NULL;
        if (th_client_ask(c, &m, &w->greeter, "Greet", body, (size_t)n,
                          20000) != 0)
            break;
        if (strstr((const char *)m->data, want))
            w->ok++;
        else
            w->wrong++;
        th_client_msg_free(m);
    }
    th_client_close(c);
    return NULL;
}

TH_TEST(private_contexts_get_only_their_replies)
{
    hu_host_t h = {0};
    start_hello(&h);
    th_client_t *c = hu_connect(&h);
    th_addr_t g = make_greeter(c, NULL);
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_t t[N_THREADS];
    worker_arg_t w[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        w[i] = (worker_arg_t){c, &lock, g, i, 0, 0};
        CHECK_RC(pthread_create(&t[i], NULL, asker, &w[i]), 0);
    }
    int ok = 0;
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ(w[i].wrong, 0);
        ok += w[i].ok;
    }
    CHECK_EQ(ok, N_ASKS);
    /* the parent context saw none of it */
    th_client_msg_t *m = NULL;
    CHECK_RC(th_client_listen(c, &m, 100), TH_ETIMEDOUT);
    /* two contexts, one actor: each reply goes to its asker only */
    th_client_t *p = NULL;
    CHECK_RC(th_client_private(&p, c), 0);
    th_addr_t me_c, me_p;
    th_client_my_address(c, &me_c);
    th_client_my_address(p, &me_p);
    CHECK(!th_addr_eq(&me_c, &me_p));
    th_client_msg_free(greet(p, &g, "private"));
    CHECK_RC(th_client_listen(c, &m, 100), TH_ETIMEDOUT);
    th_client_close(c); /* the parent may go first */
    th_client_msg_free(greet(p, &g, "still"));
    th_client_close(p);
    CHECK(hu_finish(&h));
}

/* ---- a host that dies or does not answer --------------------------------- */

static void *
kill_later(void *p)
{
    hu_host_t *h = p;
    hu_sleep_ms(300);
    kill(h->pid, SIGKILL);
    return NULL;
}

TH_TEST(host_killed_mid_ask_gives_an_error_in_time)
{
    hu_host_t h = {0};
    start_hello(&h);
    th_client_t *c = hu_connect(&h);
    th_addr_t sys;
    th_client_system_address(c, &sys);
    pthread_t t;
    pthread_create(&t, NULL, kill_later, &h);
    th_client_msg_t *m = NULL;
    int64_t t0 = th_now_ms();
    int rc = th_client_ask(c, &m, &sys, "NoSuchRequest", "", 0, 10000);
    int64_t dt = th_now_ms() - t0;
    pthread_join(t, NULL);
    CHECK_RC(rc, TH_ECLOSED);
    CHECK(dt < 5000); /* well within the 10 s timeout */
    CHECK_CONTAINS(th_client_errmsg(c), "lost");
    /* and everything after fails at once too */
    CHECK_RC(th_client_listen(c, &m, -1), TH_ECLOSED);
    for (int i = 0; i < 40; i++) /* MONITOR_EVERY tells at most */
        rc = th_client_tell(c, &sys, "X", "", 0);
    CHECK_RC(rc, TH_ECLOSED);
    th_client_close(c);
    CHECK_EQ(hu_wait_exit(&h, 5000), -SIGKILL);
    hu_rm_scratch(h.dir);
}

TH_TEST(stopped_host_times_out_in_time)
{
    hu_host_t h = {0};
    start_hello(&h);
    th_client_t *c = hu_connect(&h);
    th_addr_t g = make_greeter(c, NULL);
    kill(h.pid, SIGSTOP);
    th_client_msg_t *m = NULL;
    int64_t t0 = th_now_ms();
    CHECK_RC(th_client_ask(c, &m, &g, "Greet", "{\"name\":\"z\"}", 12, 500),
             TH_ETIMEDOUT);
    CHECK(th_now_ms() - t0 < 2500);
    /* a new connection: TCP completes in the kernel, nobody answers */
    th_client_opts_t o = {
        .size = sizeof o, .endpoint = h.endpoint, .connect_timeout_ms = 500};
    th_client_error_t err;
    th_client_t *c2 = NULL;
    t0 = th_now_ms();
    CHECK_RC(th_client_connect(&c2, &o, &err), TH_ETIMEDOUT);
    CHECK(th_now_ms() - t0 < 2500);
    CHECK_CONTAINS(err.message, "no thespiand answered");
    kill(h.pid, SIGCONT);
    th_client_close(c);
    CHECK(hu_finish(&h));
}

TH_TEST(connect_to_nothing_fails_fast)
{
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", hu_free_port());
    th_client_opts_t o = {
        .size = sizeof o, .endpoint = ep, .connect_timeout_ms = 1000};
    th_client_error_t err;
    th_client_t *c = NULL;
    int64_t t0 = th_now_ms();
    CHECK_RC(th_client_connect(&c, &o, &err), TH_ECLOSED);
    CHECK(th_now_ms() - t0 < 3000);
    CHECK_CONTAINS(err.message, ep);
    CHECK_EQ(err.code, TH_ECLOSED);
    o.endpoint = "http://x";
    CHECK_RC(th_client_connect(&c, &o, &err), TH_EINVAL);
    CHECK_CONTAINS(err.message, "http://x");
}

/* ---- shutdown ------------------------------------------------------------ */

TH_TEST(shutdown_by_a_client_is_orderly)
{
    hu_host_t h = {0};
    start_hello(&h);
    th_client_t *c = hu_connect(&h), *other = hu_connect(&h);
    make_greeter(c, "g");
    CHECK_RC(th_client_shutdown(c, 10000), 0);
    CHECK_EQ(hu_wait_exit(&h, 10000), 0);
    th_client_msg_t *m = NULL;
    CHECK_RC(th_client_listen(other, &m, 5000), TH_ECLOSED);
    th_addr_t a;
    CHECK_RC(th_client_create(c, &a, "hello.Greeter", NULL), TH_ECLOSED);
    th_client_close(other);
    th_client_close(c);
    CHECK(hu_log_has(&h, "shutting down (requested by context"));
    CHECK(hu_finish(&h)); /* already exited: checks the log, cleans up */
}

TH_TEST(sigterm_is_orderly)
{
    hu_host_t h = {0};
    start_hello(&h);
    th_client_t *c = hu_connect(&h);
    make_greeter(c, NULL);
    th_client_close(c);
    CHECK_EQ(hu_stop(&h), 0);
    CHECK(hu_log_has(&h, "shutting down (signal SIGTERM)"));
    CHECK(hu_finish(&h));
}

/* ---- endpoints ----------------------------------------------------------- */

/* ---- signals ------------------------------------------------------------- */

static atomic_long alarms;

static void
on_alarm(int sig)
{
    (void)sig;
    atomic_fetch_add(&alarms, 1);
}

/* A program that takes signals while it talks to the host (a timer every
 * 50 us here, and SIGUSR1 status dumps at the host) loses no request: a
 * ZeroMQ call cut short by a handler (EINTR) is retried, not taken for a
 * broken connection. */
TH_TEST(signals_cut_no_request_short)
{
    hu_host_t h = {0};
    start_hello(&h);
    th_client_t *c = hu_connect(&h);
    th_addr_t g = make_greeter(c, NULL);
    struct sigaction sa = {.sa_handler = on_alarm};
    sigemptyset(&sa.sa_mask);
    CHECK_RC(sigaction(SIGALRM, &sa, NULL), 0);
    struct itimerval it = {{0, 50}, {0, 50}};
    CHECK_RC(setitimer(ITIMER_REAL, &it, NULL), 0);
    for (int i = 0; i < 3000; i++) {
        if (i % 100 == 0)
            kill(h.pid, SIGUSR1);
        th_client_msg_t *m = greet(c, &g, "sig");
        CHECK_STREQ(m->type, "Greeting");
        th_client_msg_free(m);
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    fprintf(stderr, "# %ld timer signals during 3000 asks\n",
            atomic_load(&alarms));
    CHECK(atomic_load(&alarms) > 100);
    th_client_close(c);
    CHECK(hu_finish(&h));
}

TH_TEST(endpoint_rule)
{
    char buf[TH_CLIENT_ENDPOINT_MAX], dir[256], path[400];
    th_client_error_t err;
    unsetenv("THESPIAN_ENDPOINT");
    unsetenv("THESPIAN_DIRECTOR_DIR");
    CHECK_RC(th_client_endpoint(buf, NULL, &err), 0);
    CHECK_STREQ(buf, TH_CLIENT_DEFAULT_ENDPOINT);
    hu_scratch(dir, sizeof dir);
    setenv("THESPIAN_DIRECTOR_DIR", dir, 1);
    CHECK_RC(th_client_endpoint(buf, NULL, &err), 0); /* no file: default */
    CHECK_STREQ(buf, TH_CLIENT_DEFAULT_ENDPOINT);
    snprintf(path, sizeof path, "%s/adminendpoint.cfg", dir);
    FILE *f = fopen(path, "w");
    fputs("1234\n", f);
    fclose(f);
    CHECK_RC(th_client_endpoint(buf, NULL, &err), 0);
    CHECK_STREQ(buf, "tcp://127.0.0.1:1234");
    f = fopen(path, "w");
    fputs("\"ipc:///tmp/x.sock\"", f);
    fclose(f);
    CHECK_RC(th_client_endpoint(buf, NULL, &err), 0);
    CHECK_STREQ(buf, "ipc:///tmp/x.sock");
    setenv("THESPIAN_ENDPOINT", "tcp://127.0.0.1:4321", 1);
    CHECK_RC(th_client_endpoint(buf, NULL, &err), 0);
    CHECK_STREQ(buf, "tcp://127.0.0.1:4321");
    CHECK_RC(th_client_endpoint(buf, "tcp://127.0.0.1:99", &err), 0);
    CHECK_STREQ(buf, "tcp://127.0.0.1:99");
    /* bad settings are errors naming the setting, not skipped */
    CHECK_RC(th_client_endpoint(buf, "udp://x", &err), TH_EINVAL);
    CHECK_CONTAINS(err.message, "--endpoint");
    setenv("THESPIAN_ENDPOINT", "nonsense", 1);
    CHECK_RC(th_client_endpoint(buf, NULL, &err), TH_EINVAL);
    CHECK_CONTAINS(err.message, "$THESPIAN_ENDPOINT");
    unsetenv("THESPIAN_ENDPOINT");
    f = fopen(path, "w");
    fputs("{nope", f);
    fclose(f);
    CHECK_RC(th_client_endpoint(buf, NULL, &err), TH_EFORMAT);
    CHECK_CONTAINS(err.message, path);
    f = fopen(path, "w");
    fputs("70000", f);
    fclose(f);
    CHECK_RC(th_client_endpoint(buf, NULL, &err), TH_EINVAL);
    CHECK_CONTAINS(err.message, "adminendpoint.cfg");
    hu_rm_scratch(dir);
}

TH_TEST(ipc_endpoint_serves)
{
    hu_host_t h = {0};
    hu_scratch(h.dir, sizeof h.dir);
    char ep[400];
    snprintf(ep, sizeof ep, "ipc://%s/admin.sock", h.dir);
    snprintf(h.log, sizeof h.log, "%s/thespiand.log", h.dir);
    const char *argv[] = {hu_thespiand(), "--foreground", "--endpoint", ep,
                          "--plugin",     hello_so(),     NULL};
    fflush(NULL);
    h.pid = fork();
    if (h.pid == 0) {
        int fd = open(h.log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 2);
        dup2(fd, 1); /* its "serving" line must not enter the TAP stream */
        setenv("THESPLOG_THRESHOLD", "INFO", 0);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    snprintf(h.endpoint, sizeof h.endpoint, "%.120s", ep);
    CHECK(strlen(ep) < sizeof h.endpoint);
    CHECK(hu_wait_ready(&h, 20000));
    th_client_t *c = hu_connect(&h);
    th_addr_t g = make_greeter(c, NULL);
    th_client_msg_t *m = greet(c, &g, "ipc");
    CHECK_CONTAINS((const char *)m->data, "Hello, ipc!");
    th_client_msg_free(m);
    th_client_close(c);
    CHECK(hu_finish(&h));
}

TH_TEST_MAIN(TH_CASE(create_ask_and_global_names),
             TH_CASE(create_errors_use_thespian_names),
             TH_CASE(tell_listen_and_local_errors),
             TH_CASE(ask_without_reply_times_out_in_time),
             TH_CASE(poison_and_status_pass_the_filter),
             TH_CASE(other_runtime_messages_are_filtered),
             TH_CASE(status_and_capabilities),
             TH_CASE(load_without_trusted_keys_is_refused_clearly),
             TH_CASE(create_reports_an_init_that_fails),
             TH_CASE(tell_by_name_refuses_bad_input),
             TH_CASE(private_contexts_get_only_their_replies),
             TH_CASE(host_killed_mid_ask_gives_an_error_in_time),
             TH_CASE(stopped_host_times_out_in_time),
             TH_CASE(connect_to_nothing_fails_fast),
             TH_CASE(shutdown_by_a_client_is_orderly),
             TH_CASE(sigterm_is_orderly),
             TH_CASE(signals_cut_no_request_short), TH_CASE(endpoint_rule),
             TH_CASE(ipc_endpoint_serves))
