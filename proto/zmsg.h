/*
 * proto/zmsg.h — ZeroMQ receives and sends that a signal handler cannot
 * cut short. A handler run in the calling thread makes a ZeroMQ call fail
 * with EINTR, even one that would not wait (ZMQ_DONTWAIT: the library
 * polls its command pipe first). Dropping the call there loses a reply or
 * splits a multipart message, so these retry it. Thread-safety: that of
 * the socket (one thread at a time).
 */
#ifndef TH_PROTO_ZMSG_H
#define TH_PROTO_ZMSG_H

#include <zmq.h>

/* zmq_msg_recv(m, sock, flags), again while it fails with EINTR. */
int thi_zmsg_recv(zmq_msg_t *m, void *sock, int flags);

/* zmq_recv(sock, buf, len, flags), again while it fails with EINTR. */
int thi_zmq_recv(void *sock, void *buf, size_t len, int flags);

/* zmq_msg_send(m, sock, flags), again while it fails with EINTR. */
int thi_zmsg_send(zmq_msg_t *m, void *sock, int flags);

/* zmq_send(sock, buf, len, flags), again while it fails with EINTR. */
int thi_zmq_send(void *sock, const void *buf, size_t len, int flags);

#endif /* TH_PROTO_ZMSG_H */
