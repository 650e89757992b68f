/* base/array.c — the growable-array helper (see array.h). */
#include "base/array.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "thespian/error.h"

int
thi_reserve(void *arrp, size_t *cap, size_t need, size_t elem, size_t first)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap > SIZE_MAX / 2 ? SIZE_MAX : *cap * 2;
    if (ncap < first)
        ncap = first;
    if (ncap < need)
        ncap = need;
    if (elem != 0 && ncap > SIZE_MAX / elem)
        return TH_ENOMEM;
    /* The caller's variable is some T *: copy the pointer's bytes rather
     * than access it as a void *, which would break the aliasing rule. */
    void *old;
    memcpy(&old, arrp, sizeof old);
    void *p = realloc(old, ncap * elem > 0 ? ncap * elem : 1);
    if (p == NULL)
        return TH_ENOMEM;
    memcpy(arrp, &p, sizeof p);
    *cap = ncap;
    return 0;
}
