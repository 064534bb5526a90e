// obs: whole-buffer writes to a file descriptor. Depends on nothing.
//
// Both log writers emit only whole lines per call, so lines from the logger
// and the access log never interleave mid-line on a shared stdout.
#pragma once

#include <string_view>

namespace shopd::obs {

// Writes all of `data` to `fd`, retrying on EINTR and short writes and waiting
// for POLLOUT if the fd is non-blocking. Returns false on any other error
// (e.g. EPIPE, EBADF); the rest of the data is then lost.
bool WriteAll(int fd, std::string_view data);

}  // namespace shopd::obs
