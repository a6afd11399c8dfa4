#pragma once
// Importance-matrix files as llama-imatrix writes them (GGUF: "<tensor>.in_sum2" and
// "<tensor>.counts" pairs; or the legacy binary format), normalised as llama-quantize does:
// mean squared activation per input column (per expert for 3-D tensors).

#include <map>
#include <string>
#include <vector>

namespace jb {

struct Imatrix {
    std::map<std::string, std::vector<float>> entries;  // tensor name -> values (ne[0] * n_expert)
    std::vector<std::string> datasets;                  // calibration text files it was computed on
    int chunk_count = 0;
};

// Throws jb::InputError naming the file and the entry for a malformed file.
Imatrix load_imatrix(const std::string & path);

// Writes entries in the GGUF format (counts = 1), e.g. for tests or a synthetic calibration.
void save_imatrix_gguf(const Imatrix & im, const std::string & path);

}  // namespace jb
