#pragma once
// Which model's measured sensitivity a `dynamic` scheme follows (docs/quantization.md, "dynamic
// on synthetic models").

#include <string>

namespace jb {

// `dynamic_from` when given; else, for a synthetic model (random weights: its own sensitivity is
// noise), the shipped stories260K, with `*note` saying so; else "" (measure the model itself).
// A `dynamic_from` that does not exist throws jb::InputError naming it.
std::string dynamic_plan_source(const std::string & model, const std::string & dynamic_from, std::string * note = nullptr);

}  // namespace jb
