#pragma once
// Model families on the command line (sweep --family) and in the store (model relations):
// which model is the teacher ("base") and which its distilled student ("distilled").

#include <string>
#include <vector>

#include "metrics/family.hpp"

namespace jb {
class Store;
}

namespace jb::cli {

inline constexpr const char* kDefaultFamily = "distill";

struct FamilySpec {
    std::string name;       // "distill" when the option gives none
    std::string base;       // path of the teacher's GGUF
    std::string distilled;  // path of the student's GGUF
};

// "NAME:base=teacher.gguf,distilled=student.gguf" or "base=teacher.gguf,distilled=student.gguf"
// (family "distill"). Throws jb::UsageError naming --family and what is wrong: an unknown role,
// a role given twice, a missing role, an empty path.
FamilySpec parse_family(const std::string& spec);
// Several --family options: also refuses two families of one name.
std::vector<FamilySpec> parse_families(const std::vector<std::string>& specs);

// The models of the families that the model list lacks (compared as files, not as spellings),
// in order, each once: the sweep measures them too.
std::vector<std::string> family_models_missing(const std::vector<FamilySpec>& families,
                                               const std::vector<std::string>& models);

// The (family, role) pairs a model path plays in, for Store::set_model_relation.
std::vector<std::pair<std::string, std::string>> family_roles_of(const std::vector<FamilySpec>& families,
                                                                 const std::string& model_path);

// The store's model relations as metrics::FamilyMember.
std::vector<metrics::FamilyMember> load_family_members(const Store& store);

}  // namespace jb::cli
