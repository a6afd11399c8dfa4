#include "engine/lm.hpp"

namespace jb {

const char * phase_name(Phase p) {
    switch (p) {
        case Phase::idle: return "idle";
        case Phase::load: return "load";
        case Phase::prefill: return "prefill";
        case Phase::decode: return "decode";
    }
    return "?";
}

}  // namespace jb
