#include "services/peer/transfer_service.h"

#include <condition_variable>
#include <future>
#include <mutex>
#include <memory>

#include "common/limits.h"
#include "common/log.h"
#include "common/sockets.h"
#include "services/peer/service_thread.h"
#include "services/peer/transfer_worker.h"

namespace p2p::peer {

namespace {

// Messages moved per socket per poll round: keeps either direction from
// starving the other under load.
constexpr int kProxyBatch = 64;
// How long start() waits for the proxy thread to bind.
constexpr std::chrono::seconds kBindTimeout{5};

// Counts workers that have connected their socket; start() waits on it.
class WorkersReady {
 public:
  void one_more() {
    {
      std::lock_guard lock(mu_);
      ++count_;
    }
    cv_.notify_all();
  }
  bool wait_for(unsigned n, std::chrono::seconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return count_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  unsigned count_ = 0;
};

// Each service in a process needs its own inproc name (tests run several).
std::string unique_backend_endpoint() {
  static std::atomic<int> counter{0};
  return "inproc://p2p-transfer-workers-" + std::to_string(++counter);
}

}  // namespace

TransferService::TransferService(zmq::context_t& ctx, ChunkStore& store, TransferOptions options)
    : ctx_(ctx), store_(store), options_(std::move(options)), backend_endpoint_(unique_backend_endpoint()) {}

TransferService::~TransferService() {
  stop();
  join();
}

Result<std::string> TransferService::start() {
  // Shared: the thread may still be inside set_value() when start() returns.
  auto bound = std::make_shared<std::promise<Result<std::string>>>();
  std::future<Result<std::string>> bound_future = bound->get_future();
  proxy_ = std::thread([this, bound] {
    zmq::socket_t frontend, backend;
    try {
      frontend = make_socket(ctx_, zmq::socket_type::router, limits::kMaxDataPlaneMessage);
      frontend.bind(normalize_bind_endpoint(options_.listen));
      backend = make_socket(ctx_, zmq::socket_type::dealer, limits::kMaxDataPlaneMessage);
      backend.bind(backend_endpoint_);
      bound->set_value(bound_endpoint(frontend));
    } catch (const zmq::error_t& e) {
      bound->set_value(Status{ErrorCode::kBadRequest, "cannot listen on " + options_.listen + ": " + e.what()});
      return;
    }
    run_proxy(frontend, backend);
  });
  if (bound_future.wait_for(kBindTimeout) != std::future_status::ready) {
    stop_ = true;
    proxy_.join();
    return Status{ErrorCode::kInternal, "transfer proxy did not start"};
  }
  Result<std::string> endpoint = bound_future.get();
  if (!endpoint.ok()) {
    proxy_.join();
    return endpoint;
  }

  WorkerConfig config{backend_endpoint_, options_.link.ready.peer_id, options_.forward_timeout,
                      options_.committed_endpoint, options_.check_chunk};
  // start() returns once every worker is connected: a request that arrives
  // before any worker is would be refused as "busy".
  auto ready = std::make_shared<WorkersReady>();
  for (unsigned i = 0; i < options_.workers; ++i) {
    workers_.emplace_back([this, config, ready] {
      try {
        TransferWorker worker(ctx_, store_, config);
        ready->one_more();
        worker.run(stop_workers_);
      } catch (const std::exception& e) {
        ready->one_more();
        P2P_ERROR("transfer worker stopped: %s", e.what());
      }
    });
  }
  if (!ready->wait_for(options_.workers, kBindTimeout))
    P2P_WARN("transfer: not every worker connected within %lld s", static_cast<long long>(kBindTimeout.count()));

  std::string advertised = options_.advertise.empty() ? endpoint.value() : options_.advertise;
  ServiceLinkOptions link = options_.link;
  link.ready.service = proto::kServiceTransfer;
  link.ready.endpoint = advertised;
  control_ = std::thread([this, link] { run_control(link); });
  return advertised;
}

void TransferService::stop() { stop_ = true; }

void TransferService::join() {
  if (proxy_.joinable()) proxy_.join();
  stop_workers_ = true;
  for (auto& w : workers_) w.join();
  workers_.clear();
  if (control_.joinable()) control_.join();
}

void TransferService::run_proxy(zmq::socket_t& frontend, zmq::socket_t& backend) {
  std::uint64_t in_flight = 0;  // requests handed to workers and not yet answered
  bool draining = false;
  Clock::time_point drain_deadline{};
  auto begin_drain = [&] {
    if (!stop_ || draining) return;
    draining = true;
    drain_deadline = Clock::now() + options_.drain_timeout;
    P2P_INFO("transfer: draining %llu requests in flight", static_cast<unsigned long long>(in_flight));
  };
  for (;;) {
    try {
      begin_drain();
      if (draining && (in_flight == 0 || Clock::now() >= drain_deadline)) {
        if (in_flight > 0)
          P2P_WARN("transfer: stopping with %llu requests unanswered", static_cast<unsigned long long>(in_flight));
        return;
      }
      std::vector<zmq::pollitem_t> items{{frontend.handle(), 0, ZMQ_POLLIN, 0}, {backend.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, kStopCheckInterval);

      // Replies: worker -> client. A client that went away is dropped by the ROUTER.
      for (int i = 0; i < kProxyBatch && (items[1].revents & ZMQ_POLLIN); ++i) {
        codec::Envelope reply;
        Status s = codec::recv_envelope(backend, codec::Layout::kRouter, &reply);
        if (s.code() == ErrorCode::kTimeout) break;
        if (in_flight > 0) --in_flight;
        if (!s.ok()) {
          P2P_ERROR("transfer: malformed reply from a worker: %s", s.to_string().c_str());
          continue;
        }
        (void)codec::send_envelope(frontend, codec::Layout::kRouter, &reply.routing, reply.cmd(), reply.seq,
                                   std::move(reply.body), reply.has_data ? &reply.data : nullptr,
                                   zmq::send_flags::dontwait);
      }

      // Requests: client -> worker. Frames and version are checked here, so
      // every malformed request gets its ERROR from the proxy and workers see
      // only whole envelopes.
      for (int i = 0; i < kProxyBatch && (items[0].revents & ZMQ_POLLIN); ++i) {
        codec::Envelope request;
        Status s = codec::recv_envelope(frontend, codec::Layout::kRouter, &request);
        if (s.code() == ErrorCode::kTimeout) break;
        // Checked after each receive, not once per batch: a request sent
        // after stop() returned may be the batch's second, and must be refused.
        begin_drain();
        if (s.ok() && draining) s = {ErrorCode::kShuttingDown, "peer is shutting down"};
        if (s.ok()) {
          s = codec::send_envelope(backend, codec::Layout::kRouter, &request.routing, request.cmd(), request.seq,
                                   std::move(request.body), request.has_data ? &request.data : nullptr,
                                   zmq::send_flags::dontwait);
          if (s.ok()) {
            ++in_flight;
            continue;
          }
          s = {ErrorCode::kUnavailable, "peer is busy"};
        }
        P2P_INFO("transfer: refused request: %s", s.to_string().c_str());
        if (codec::reply_possible(request, codec::Layout::kRouter))
          (void)codec::send_error(frontend, codec::Layout::kRouter, request, s, zmq::send_flags::dontwait);
      }
    } catch (const zmq::error_t& e) {
      P2P_ERROR("transfer proxy: %s", e.what());
      if (e.num() == ETERM) return;
    } catch (const std::exception& e) {
      P2P_ERROR("transfer proxy: %s", e.what());
    }
  }
}

void TransferService::run_control(ServiceLinkOptions options) {
  try {
    ServiceLink link(ctx_, std::move(options));
    while (!stop_) {
      std::vector<zmq::pollitem_t> items{{link.socket().handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, std::min(until(link.next_deadline()), kStopCheckInterval));
      LinkEvents events = link.process(items[0].revents & ZMQ_POLLIN);
      for (const auto& cmd : events.commands)
        P2P_WARN("transfer: ignoring %s from tracker", proto::command_name(cmd.cmd()));
    }
    link.leave();
  } catch (const std::exception& e) {
    P2P_ERROR("transfer control: %s", e.what());
  }
}

}  // namespace p2p::peer
