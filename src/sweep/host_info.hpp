#pragma once
// What a result row says about the machine it was measured on: CPU, memory, OS, GPUs and
// their driver (from the NVML sensors' provenance), llama.cpp commit, joulebench version.

#include <string>
#include <vector>

#include "energy/sensor.hpp"
#include "joulebench/store.hpp"

namespace jb::sweep {

HostRecord describe_host(const energy::Discovery & found);

// This host's GPU names as NVML gives them ("NVIDIA H100 80GB HBM3"); none without NVML.
std::vector<std::string> host_gpu_names();

}  // namespace jb::sweep
