// RunInParallel: fn(0..n-1) on up to `threads` threads, for work split by
// table. Internal to the diff library.

#ifndef KUZUSYNC_DIFF_PARALLEL_H_
#define KUZUSYNC_DIFF_PARALLEL_H_

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "snapshot/status.h"

namespace kuzusync {

// `threads`, or every core when it is 0 or less (what options mean by 0).
inline int ThreadsOrCores(int threads) {
  return threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// The indexes of `sizes`, largest first (ties in index order): work taken
// in that order leaves no large piece for last, while the other threads
// idle.
inline std::vector<size_t> LargestFirst(const std::vector<uint64_t>& sizes) {
  std::vector<size_t> order(sizes.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return sizes[x] > sizes[y]; });
  return order;
}

// Runs fn(i) for every i < n; returns the error of the lowest failing i, so
// that which error is reported does not depend on timing.
template <typename Fn>
Status RunInParallel(size_t n, int threads, Fn&& fn) {
  std::vector<Status> status(n);
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;) status[i] = fn(i);
  };
  threads = ThreadsOrCores(threads);
  std::vector<std::thread> pool;
  for (int t = 1; t < std::min<int>(threads, static_cast<int>(n)); ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  for (const Status& s : status) KS_RETURN_IF_ERROR(s);
  return Status::Ok();
}

}  // namespace kuzusync

#endif  // KUZUSYNC_DIFF_PARALLEL_H_
