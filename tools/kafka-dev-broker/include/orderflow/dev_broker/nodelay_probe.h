// Checks, from inside the process that hosts a mock cluster, whether the sockets the mock accepts
// have TCP_NODELAY (i.e. whether the accept() interposer is linked in and active): connects to the
// broker's port and inspects the accepted end through /proc/self/fd. Thread-safe; returns nullopt
// when it cannot tell within `timeout` (nothing is thrown).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace orderflow::dev_broker {

std::optional<bool> mock_sockets_have_nodelay(std::uint16_t broker_port, std::chrono::milliseconds timeout);

}  // namespace orderflow::dev_broker
