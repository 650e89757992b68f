/*
 * host/features/features.c — the registration table: every feature the
 * runtime has, in the order of enum thi_feature_id. A new feature adds
 * its id there, its entry here, and nothing in host/core.
 */
#include "host/features/features.h"

const thi_feature_t *const thi_features[] = {
    [THI_FEAT_CAPS] = &thi_feature_caps,
    [THI_FEAT_TIMER] = &thi_feature_timer,
    [THI_FEAT_WATCH] = &thi_feature_watch,
    [THI_FEAT_TROUPE] = &thi_feature_troupe,
    [THI_FEAT_SUP] = &thi_feature_sup,
};
const unsigned thi_n_features = THI_FEAT_COUNT;
