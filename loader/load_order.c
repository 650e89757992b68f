/* loader/load_order.c — libraries mapped in dependency order (see
 * load_order.h). */
#include "loader/load_order.h"

#include "thespian/error.h"

int
thi_map_in_order(size_t n, bool *pending, thi_map_fn map, void *ctx,
                 th_diag_t *last)
{
    th_diag_t local;
    if (last == NULL)
        last = &local;
    thi_diag_clear(last);
    bool progress = true;
    while (progress) {
        progress = false;
        for (size_t i = 0; i < n; i++) {
            if (!pending[i])
                continue;
            th_diag_t d = {0};
            int rc = map(ctx, i, &d);
            if (rc == 0) {
                pending[i] = false;
                progress = true;
                continue;
            }
            thi_diag_clear(last);
            thi_diag_set(last, rc, "%s", d.msg);
            if (rc == TH_ELIMIT)
                return TH_ELIMIT;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (pending[i])
            return TH_EABI;
    return 0;
}
