/*
 * host/rt.h — compatibility only: host/admin.c and host/thespiand.c still
 * include it until they move to host/admin/ and host/daemon/ and use
 * host/host.h alone. The runtime's own files include the headers below
 * directly; add nothing here.
 */
#ifndef TH_HOST_RT_H
#define TH_HOST_RT_H

#include "host/core/runtime.h"
#include "host/log.h"
#include "host/sources/sources.h"

#endif /* TH_HOST_RT_H */
