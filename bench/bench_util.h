/*
 * bench/bench_util.h — what the load and swap benchmarks share: a
 * monotonic clock in ms, a percentile over a sample (sorts it), and a
 * fatal error that names the benchmark.
 */
#ifndef TH_BENCH_BENCH_UTIL_H
#define TH_BENCH_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double
bench_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static inline int
bench_cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The p-quantile (0..1) of v[0..n); sorts v. 0 for an empty sample. */
static inline double
bench_pct(double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, bench_cmp_d);
    return v[(size_t)(p * (double)(n - 1))];
}

static inline void
bench_die(const char *bench, const char *what, const char *why)
{
    fprintf(stderr, "%s: %s: %s\n", bench, what, why);
    exit(1);
}

#endif /* TH_BENCH_BENCH_UTIL_H */
