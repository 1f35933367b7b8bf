// Loopback ports for the processes a test starts (metrics endpoints, brokers, proxies).
//
// free_port() picks a port BELOW the kernel's ephemeral range (net.ipv4.ip_local_port_range): a port
// chosen there and handed to a child that binds it moments later cannot meanwhile be taken as the local
// port of some outgoing connection (every client socket of every test gets an ephemeral port), which is
// what made ports picked with bind(0) occasionally "already in use". The port is checked free with
// bind(), and reserved for the life of the test process with an flock on
// $TMPDIR/orderflow-test-ports/<port>, so two tests running in parallel never pick the same one.
// ORDERFLOW_TEST_PORTS=LO-HI sets the range (default 20000 up to the ephemeral range's start).
#pragma once

#include <utility>

namespace orderflow::testing {

// A free, reserved 127.0.0.1 TCP port; throws std::runtime_error when none is found.
int free_port();

// The range free_port() draws from: [first, second).
std::pair<int, int> test_port_range();

}  // namespace orderflow::testing
