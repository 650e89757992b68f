/*
 * loader/bundle.h — the loader's bundle interface in one include: the
 * format (format.h), verifying the trailer (verify.h), the manifest schema
 * (manifest.h), reading (zip_read.h) and building (zip_write.h), with the
 * file and version helpers they use (base/file.h, base/version.h). Include
 * a single one of these when only that concept is needed.
 */
#ifndef TH_LOADER_BUNDLE_H
#define TH_LOADER_BUNDLE_H

#include "base/diag.h"
#include "base/file.h"
#include "base/version.h"
#include "loader/crypto.h"
#include "loader/format.h"
#include "loader/keyring.h"
#include "loader/manifest.h"
#include "loader/verify.h"
#include "loader/zip_read.h"
#include "loader/zip_write.h"

#endif /* TH_LOADER_BUNDLE_H */
