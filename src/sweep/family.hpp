#pragma once
// What a sweep does with model families (FamilySpec, joulebench/sweep.hpp): the models they add to
// the grid, and the (family, role) pairs recorded for each model in the store.

#include <string>
#include <utility>
#include <vector>

#include "joulebench/sweep.hpp"

namespace jb {

// The models of the families that the model list lacks (compared as files, not as spellings),
// in order, each once: the sweep measures them too.
std::vector<std::string> family_models_missing(const std::vector<FamilySpec> & families,
                                               const std::vector<std::string> & models);

// The (family, role) pairs a model path plays in, for Store::set_model_relation.
std::vector<std::pair<std::string, std::string>> family_roles_of(const std::vector<FamilySpec> & families,
                                                                 const std::string & model_path);

}  // namespace jb
