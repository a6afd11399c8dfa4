#include "energy/clock.hpp"

#include <chrono>
#include <thread>

namespace jb::energy {

double SteadyClock::now_s() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double SteadyClock::wall_s() const {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void SteadyClock::sleep_until(double t_s) {
    // Sleeping to an absolute steady-clock deadline (not for a duration) keeps the sampling
    // period from drifting by the poll's own cost.
    auto deadline = std::chrono::steady_clock::time_point(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(t_s)));
    std::this_thread::sleep_until(deadline);
}

std::shared_ptr<Clock> steady_clock() {
    static std::shared_ptr<Clock> clock = std::make_shared<SteadyClock>();
    return clock;
}

}  // namespace jb::energy
