/*
 * tests/integration/curve_util.h — raw ZeroMQ sockets in tests that speak
 * to a host as an authenticated client: CurveZMQ with the test process's
 * operator key and the host's public key (host_util.h's hu_keys). Needs
 * curve_dep (proto/curve.c) and zmq_dep.
 */
#ifndef TH_TESTS_INTEGRATION_CURVE_UTIL_H
#define TH_TESTS_INTEGRATION_CURVE_UTIL_H

#include <stdio.h>
#include <stdlib.h>

#include "proto/curve.h"

/* Make `sock` (not yet connected) a CurveZMQ client of the hosts this
 * test starts; exits the test when the keys cannot be read. */
static inline void
hu_curve_client(void *sock)
{
    thi_curve_key_t k;
    char server[THI_CURVE_Z85], why[THI_CURVE_WHY];
    if (thi_curve_client_keys(&k, server, NULL, NULL, why) != 0 ||
        thi_curve_client(sock, &k, server, why) != 0) {
        fprintf(stderr, "# admin keys: %s\n", why);
        exit(1);
    }
}

#endif /* TH_TESTS_INTEGRATION_CURVE_UTIL_H */
