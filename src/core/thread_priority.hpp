#pragma once
// Scheduling weight of CPU-bound threads relative to the network threads.

namespace imagecpp {

// Lowers the calling thread's priority (nice) by `steps`, once per thread; later calls on the
// same thread do nothing. Threads it then creates (libvips' workers, spawned on demand by the
// thread that runs a pipeline) inherit the lower priority. Best effort: a failure is ignored.
void lower_thread_priority_once(int steps) noexcept;

}  // namespace imagecpp
