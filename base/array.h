/*
 * base/array.h — the one growable-array helper: make room in a malloc'd
 * array by doubling its capacity. Use it as
 *     if (THI_RESERVE(v->items, v->cap, v->n + 1, 8) != 0) return TH_ENOMEM;
 *     v->items[v->n++] = x;
 * where `items` is any object pointer (NULL when empty) and `cap` a size_t
 * counting elements. No shared state: thread-safe as long as the caller
 * owns the array.
 */
#ifndef TH_BASE_ARRAY_H
#define TH_BASE_ARRAY_H

#include <stddef.h>

/* Ensure the array at *arrp (a pointer to any object-pointer variable)
 * holds at least `need` elements of `elem` bytes: when need > *cap, the
 * array is reallocated to the largest of `first`, twice *cap and `need`,
 * and *cap updated. Returns 0, or TH_ENOMEM (out of memory, or a size that
 * would overflow) with the array and *cap untouched and still owned by the
 * caller. */
int thi_reserve(void *arrp, size_t *cap, size_t need, size_t elem,
                size_t first);

/* Typed form: `arr` an lvalue of pointer type, `cap` a size_t lvalue. */
#define THI_RESERVE(arr, cap, need, first) \
    thi_reserve(&(arr), &(cap), (need), sizeof *(arr), (first))

#endif /* TH_BASE_ARRAY_H */
