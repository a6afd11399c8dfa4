#pragma once
// The one place where the store's cells become metrics::Row: recommend and report both read
// results through it, so a column means the same in every output.

#include <vector>

#include "metrics/metrics.hpp"
#include "store/store.hpp"

namespace jb::cli {

// Every cell of the store (failed ones too, with ok = false), joined with its host (display name,
// device: the GPUs' names, else the CPU model), model (synthetic flag) and scheme (bits per
// weight, file size). A model's file size under a scheme is the scheme's recorded file size when
// only that model used the scheme, else parameters x bits per weight / 8 (docs/metrics.md).
std::vector<metrics::Row> load_rows(const Store & store);

// "NVIDIA H100 80GB HBM3", "2x NVIDIA H100 80GB HBM3", or the CPU model when there is no GPU.
std::string host_device(const HostRecord & host);

}  // namespace jb::cli
