// BlockingPool: a fixed set of OS threads for work that may block (synced store writes, agent
// runs), so that no CAF scheduler thread ever waits on I/O. Actors post closures here and get
// the outcome back as a message (caf::anon_send from the pool thread).
// Thread-safe. stop() runs what is already queued, then joins; later posts are refused.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mbx {

class BlockingPool {
public:
  BlockingPool(std::string name, std::size_t threads);
  ~BlockingPool();
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  // Queues `job`; false (and `job` dropped) once stop() has begun.
  bool post(std::function<void()> job);
  // Runs the jobs already queued, then joins the threads. Idempotent.
  void stop();
  [[nodiscard]] std::size_t queued() const;
  [[nodiscard]] const std::string& name() const { return name_; }

private:
  void loop();

  std::string name_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;  // Guarded by mu_.
  bool stopping_ = false;                   // Guarded by mu_.
  std::vector<std::thread> threads_;
};

}  // namespace mbx
