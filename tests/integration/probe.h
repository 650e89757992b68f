/*
 * tests/integration/probe.h — invariant I3 of HOSTILE.md in one call: after
 * a hostile case, a host started with hello.so still serves a normal
 * client.
 */
#ifndef TH_TESTS_INTEGRATION_PROBE_H
#define TH_TESTS_INTEGRATION_PROBE_H

#include "host_util.h"
#include "th_test.h"

/* I3: a host started with hello.so still serves a normal client: a new
 * Greeter answers a Greet. */
static inline void
hu_probe_greeter(const hu_host_t *h)
{
    th_client_t *c = hu_connect(h);
    th_addr_t g;
    CHECK_RC(th_client_create(c, &g, "hello.Greeter", NULL), 0);
    th_client_msg_t *m = NULL;
    CHECK_RC(th_client_ask(c, &m, &g, "Greet", "{\"name\":\"p\"}", 12, 10000),
             0);
    CHECK_STREQ(m->type, "Greeting");
    th_client_msg_free(m);
    th_client_close(c);
}

#endif /* TH_TESTS_INTEGRATION_PROBE_H */
