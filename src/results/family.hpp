#pragma once
// The store's model relations (sweep --family) as metrics::FamilyMember, for report and recommend.

#include <vector>

#include "metrics/family.hpp"

namespace jb {
class Store;
}

namespace jb::results {

std::vector<metrics::FamilyMember> load_family_members(const Store & store);

}  // namespace jb::results
