/*
 * tests/rt_util.h — helpers for tests that drive the runtime through real
 * plugins: make a system with the test plugins loaded, ask an actor and
 * wait for a reply of a given type, read JSON fields. Plugin paths come from
 * the environment (set by meson): TH_PLUGIN_<NAME> = path to NAME.so.
 */
#ifndef TH_TESTS_RT_UTIL_H
#define TH_TESTS_RT_UTIL_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host/host.h"
#include "th_test.h"

static inline const char *
rt_plugin_path(const char *name)
{
    char var[64];
    snprintf(var, sizeof var, "TH_PLUGIN_%s", name);
    const char *p = getenv(var);
    if (p == NULL)
        TH_FAIL_AT_("environment variable %s is not set", var);
    return p;
}

static inline th_system_t *
rt_system(const th_system_opts_t *opts, const char *const *plugins)
{
    th_system_t *sys = NULL;
    CHECK_RC(th_system_create(&sys, opts), 0);
    for (; plugins && *plugins; plugins++) {
        th_diag_t d = {0};
        int rc = th_system_load_plugin(sys, rt_plugin_path(*plugins), &d);
        if (rc != 0)
            TH_FAIL_AT_("loading %s: %s", *plugins, d.msg);
    }
    return sys;
}

static const char *const rt_all_plugins[] = {"testactors", "rtactors", "hello",
                                             NULL};

static inline th_addr_t
rt_create(th_system_t *sys, const char *cls)
{
    th_addr_t a;
    int rc = th_system_create_actor(sys, &a, cls, NULL);
    if (rc != 0)
        TH_FAIL_AT_("create %s: %s", cls, th_strerror(rc));
    return a;
}

/* Wait for the next message; fail the test unless its type is `type`.
 * Returns the parsed JSON body (new reference; NULL if not JSON). */
static inline json_t *
rt_expect(th_inbox_t *in, const char *type, int timeout_ms)
{
    th_inmsg_t *m = NULL;
    int rc = th_inbox_recv(in, &m, timeout_ms);
    if (rc != 0)
        TH_FAIL_AT_("waiting for %s: %s", type, th_strerror(rc));
    if (strcmp(m->type, type) != 0)
        TH_FAIL_AT_("expected %s, got %s: %.*s", type, m->type, (int)m->len,
                    (const char *)m->data);
    json_t *o = json_loadb(m->data, m->len, JSON_DECODE_ANY, NULL);
    th_inmsg_free(m);
    return o;
}

static inline json_t *
rt_ask(th_inbox_t *in, const th_addr_t *to, const char *type,
       const char *body, const char *reply_type)
{
    CHECK_RC(th_inbox_send(in, to, type, body, body ? strlen(body) : 0), 0);
    return rt_expect(in, reply_type, 5000);
}

static inline void
rt_expect_nothing(th_inbox_t *in, int timeout_ms)
{
    th_inmsg_t *m = NULL;
    int rc = th_inbox_recv(in, &m, timeout_ms);
    if (rc == 0)
        TH_FAIL_AT_("expected no message, got %s: %.*s", m->type, (int)m->len,
                    (const char *)m->data);
}

static inline long long
rt_int(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        TH_FAIL_AT_("field %s missing or not an integer", key);
    return (long long)json_integer_value(v);
}

static inline const char *
rt_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (s == NULL)
        TH_FAIL_AT_("field %s missing or not a string", key);
    return s;
}

/* Wait (up to 5 s) until sends to `a` report the actor gone: its exit
 * completes just after its teardown reports. */
static inline void
rt_wait_dead(th_system_t *sys, const th_addr_t *a)
{
    for (int i = 0; i < 1000; i++) {
        if (th_system_tell(sys, a, "Probe", "", 0) == TH_EDEAD)
            return;
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    TH_FAIL_AT_("actor still accepts messages 5 s after its exit");
}

static inline void
rt_addr_str(const th_addr_t *a, char buf[TH_ADDR_STRLEN])
{
    CHECK_RC(th_addr_to_string(a, buf, TH_ADDR_STRLEN), 0);
}

#endif /* TH_TESTS_RT_UTIL_H */
