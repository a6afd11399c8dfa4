#include "results/family.hpp"

#include "joulebench/store.hpp"

namespace jb::results {

std::vector<metrics::FamilyMember> load_family_members(const Store& store) {
    std::vector<metrics::FamilyMember> out;
    for (const auto& r : store.model_relations()) out.push_back({r.family, r.role, r.model_hash});
    return out;
}

}  // namespace jb::results
