/*
 * proto/probe.h — the client side's quick question "is a thespiand
 * serving this endpoint?", without opening a context: one ping, bounded.
 * thespiand asks it before it binds (Thespian's rule: a system already
 * serving the endpoint is used). Not part of the public client API.
 */
#ifndef TH_SDK_SRC_PROBE_H
#define TH_SDK_SRC_PROBE_H

#include "proto/curve.h"

/* Is a thespiand serving `endpoint` (borrowed)? Sends a ping and waits up
 * to timeout_ms (returns early when nothing accepts connections). On
 * tcp:// it connects with `key` (borrowed; the host's own key pair, which
 * its ZAP handler accepts; NULL: no CurveZMQ). Returns 0 with the pid of
 * the answering host in *pid (may be NULL), TH_ECLOSED when nothing
 * accepts connections, TH_EPERM when the CurveZMQ handshake failed (a
 * host with other keys), TH_ETIMEDOUT when something accepted but did
 * not answer as a thespiand, TH_EIO. Blocking; thread-safe (a ZeroMQ
 * context of its own per call). */
int thi_probe_thespiand(const char *endpoint, const thi_curve_key_t *key,
                        int timeout_ms, long *pid);

#endif /* TH_SDK_SRC_PROBE_H */
