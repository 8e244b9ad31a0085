#include "core/thread_priority.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>

namespace imagecpp {

void lower_thread_priority_once(int steps) noexcept {
  thread_local bool lowered = false;
  if (lowered) return;
  lowered = true;
  // On Linux, PRIO_PROCESS with a thread id sets that thread's nice value alone.
  const auto tid = static_cast<id_t>(gettid());
  errno = 0;
  const int current = getpriority(PRIO_PROCESS, tid);
  if (errno == 0) setpriority(PRIO_PROCESS, tid, current + steps);
}

}  // namespace imagecpp
