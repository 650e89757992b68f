/*
 * loader/load_order.h — the one loop that maps a bundle's private
 * libraries in an order that satisfies their own dependencies: a library
 * maps once every library it needs is mapped, and the manifest does not
 * say which needs which, so each pass tries all that are left until a pass
 * maps none. Used where a bundle is mapped to read its descriptors
 * (describe.c, gensrc) and, as the host's sources move onto it, where a
 * host maps a source. How one file is mapped (dlmopen of a staged file,
 * dlopen of a sealed memfd) is the caller's.
 */
#ifndef TH_LOADER_LOAD_ORDER_H
#define TH_LOADER_LOAD_ORDER_H

#include <stdbool.h>
#include <stddef.h>

#include "base/diag.h"

/* Map entry i. Returns 0 when mapped; TH_ELIMIT when the process ran out
 * of something no other order provides (the loop stops); any other TH_E*
 * code means "not now" (perhaps a library it needs is not mapped yet).
 * Fills d with the reason. */
typedef int (*thi_map_fn)(void *ctx, size_t i, th_diag_t *d);

/* Try map(ctx, i) for every i < n with pending[i] set, pass after pass,
 * until a pass maps none; pending[i] is cleared for each one mapped.
 * Returns 0 when none is left pending; TH_ELIMIT at once when map says so;
 * else TH_EABI (some could not be mapped in any order). *last (may be
 * NULL) holds the diag of the last failed attempt. Not thread-safe on
 * `pending`; map's own rules otherwise. */
int thi_map_in_order(size_t n, bool *pending, thi_map_fn map, void *ctx,
                     th_diag_t *last);

#endif /* TH_LOADER_LOAD_ORDER_H */
