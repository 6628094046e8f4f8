#pragma once
// The one place a dm ioctl is issued: encode, call, grow the buffer while the kernel says
// DM_BUFFER_FULL_FLAG, decode. Shared by the request/reply binding and the event waiter, each of
// which passes its own control fd. No N-API here: this runs on worker threads.
#include <errno.h>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstddef>
#include <exception>
#include <string>

#include "dm_codec.h"

namespace dm {

constexpr size_t kDefaultInitialBuffer = 16 * 1024;
constexpr size_t kDefaultMaxBuffer = 256 * 1024 * 1024;

struct IoctlOptions {
  size_t initialBufferSize = kDefaultInitialBuffer;
  size_t maxBufferSize = kDefaultMaxBuffer;
  bool secure = false;
};

// Returns 0 and fills *out, or a positive errno. Throws EncodeError/DecodeError.
inline int RunIoctl(int fd, unsigned cmd, const Request& req, const IoctlOptions& opt, Reply* out) {
  Request sent = req;
  if (opt.secure) sent.flags |= DM_SECURE_DATA_FLAG;
  size_t area = opt.initialBufferSize < opt.maxBufferSize ? opt.initialBufferSize : opt.maxBufferSize;
  uint32_t retries = 0;
  int err = 0;
  for (;;) {
    std::vector<uint8_t> buf = Encode(cmd, sent, area);
    int rc;
    do rc = ioctl(fd, _IOWR(DM_IOCTL, cmd, struct dm_ioctl), buf.data());
    while (rc < 0 && errno == EINTR);
    if (rc < 0) {
      err = errno;
    } else if (PeekFlags(buf) & DM_BUFFER_FULL_FLAG) {
      if (area >= opt.maxBufferSize) {
        err = ENOBUFS;
      } else {
        area = area > opt.maxBufferSize / 2 ? opt.maxBufferSize : area * 2;
        retries++;
        if (opt.secure) Wipe(buf);
        continue;
      }
    } else {
      try {
        *out = Decode(cmd, buf.data(), buf.size());
      } catch (...) {
        if (opt.secure) {
          Wipe(buf);
          sent.Wipe();
        }
        throw;
      }
      out->retries = retries;
    }
    if (opt.secure) {
      Wipe(buf);
      sent.Wipe();
    }
    return err;
  }
}

// What a call on a worker thread ended with, kept as plain data until JS values can be built.
struct Outcome {
  int err = 0;                   // errno, when the syscall failed
  const char* syscall = "ioctl";
  std::string message;           // codec error, when the request or the reply was malformed
  bool typeError = false;        // the request was malformed (EncodeError)
  bool ok() const { return err == 0 && message.empty(); }
};

inline Outcome RunCaught(int fd, unsigned cmd, const Request& req, const IoctlOptions& opt, Reply* out) {
  Outcome o;
  try {
    o.err = RunIoctl(fd, cmd, req, opt, out);
  } catch (const EncodeError& e) {
    o.message = e.what();
    o.typeError = true;
  } catch (const std::exception& e) {
    o.message = e.what();
  }
  return o;
}

inline int OpenControl(int* fd) {
  int f = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
  if (f < 0) return errno;
  *fd = f;
  return 0;
}

}  // namespace dm
