#pragma once
// Crash-safe file writes: the bytes go to a temporary file next to the target (same file system), which is
// fsync'ed, then renamed over the target, and the directory is fsync'ed. A writer killed halfway leaves the
// old file intact (and at worst a "<name>.tmp-<random>" file beside it).
#include "opstudio/util/error.h"

#include <string>
#include <string_view>

namespace opstudio::util {

/// Writes `bytes` to `path` atomically (see above). Errors name the path.
Status writeFileAtomically(const std::string& path, std::string_view bytes);

/// fsync of the directory holding `path`, so that a rename into it survives a power cut.
void syncParentDirectory(const std::string& path);

} // namespace opstudio::util
