#pragma once
// `joulebench hardware list`'s printer: the catalogue's GPUs as a table, this host's own marked.

#include <string>
#include <vector>

#include "hardware/catalogue.hpp"
#include "joulebench/table.hpp"

namespace jb::hardware {

// `host_names`: this host's NVML device names, matched to entries by Catalogue::match_device (a
// "*" in the host column; notes name the match and any name no entry matches). `with_sources`: also
// the idle figure's source, the datasheet sources and notes (the CSV and JSON printers).
Table catalogue_table(const Catalogue & cat, const std::vector<std::string> & host_names, bool with_sources);

}  // namespace jb::hardware
