/*
 * proto/zmsg.c — ZeroMQ calls retried when a signal handler cuts them
 * short (zmsg.h). A blocking call that a storm of signals keeps cutting
 * short starts its own timeout again each time; the callers that wait
 * block in slices with their own deadline.
 */
#include <errno.h>

#include "proto/zmsg.h"

int
thi_zmsg_recv(zmq_msg_t *m, void *sock, int flags)
{
    int rc;
    while ((rc = zmq_msg_recv(m, sock, flags)) < 0 && zmq_errno() == EINTR)
        ;
    return rc;
}

int
thi_zmq_recv(void *sock, void *buf, size_t len, int flags)
{
    int rc;
    while ((rc = zmq_recv(sock, buf, len, flags)) < 0 && zmq_errno() == EINTR)
        ;
    return rc;
}

int
thi_zmsg_send(zmq_msg_t *m, void *sock, int flags)
{
    int rc;
    while ((rc = zmq_msg_send(m, sock, flags)) < 0 && zmq_errno() == EINTR)
        ;
    return rc;
}

int
thi_zmq_send(void *sock, const void *buf, size_t len, int flags)
{
    int rc;
    while ((rc = zmq_send(sock, buf, len, flags)) < 0 && zmq_errno() == EINTR)
        ;
    return rc;
}
