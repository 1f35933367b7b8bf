#include "orderflow/runtime/shutdown.h"

#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdlib>
#include <thread>
#include <utility>

#include <boost/asio.hpp>

namespace orderflow::runtime {

struct ShutdownSignal::Impl {
  boost::asio::io_context io{1};
  boost::asio::signal_set signals{io, SIGINT, SIGTERM};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread;
};

ShutdownSignal::ShutdownSignal() : impl_(std::make_unique<Impl>()) {
  impl_->signals.async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {} received: stopping (send it again to exit at once)", sig);
    stop_ = true;
    impl_->signals.async_wait([](const boost::system::error_code& ec2, int sig2) {
      if (ec2) return;
      spdlog::warn("second signal {}: exiting immediately", sig2);
      std::_Exit(130);
    });
  });
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

ShutdownSignal::~ShutdownSignal() {
  impl_->work.reset();
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace orderflow::runtime
