#pragma once
// quantize's printers: the scheme presets, and a quantized file (its size, bits per weight and
// tensor types) as tables or JSON; synth's: its shapes and a written model.

#include <vector>

#include <nlohmann/json.hpp>

#include "joulebench/table.hpp"
#include "quant/quantize.hpp"
#include "quant/synth.hpp"

namespace jb {

Table schemes_table();
// The file's summary, then its types (counts per type, or every tensor with `tensors`).
std::vector<Table> quantized_model_tables(const SchemeResult & r, bool synthetic, bool tensors);
nlohmann::json quantized_model_json(const SchemeResult & r, bool synthetic);

// synth's: the shapes it copies (--list), and a model it wrote.
Table synth_shapes_table();
Table synth_result_table(const SynthResult & r, const std::string & shape_name, const SynthOptions & o);

}  // namespace jb
