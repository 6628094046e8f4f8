// flock(2), which node:fs lacks. Only the non-blocking form: a waiter polls from JavaScript with a
// backoff, so no thread (of the libuv pool or the main one) ever sleeps in the kernel on a lock.
#include <sys/file.h>

#include "addon.h"
#include "posix.h"

namespace {

// flockTry(fd, exclusive) -> 0 when taken, else the errno (EWOULDBLOCK: someone else holds it).
Napi::Value FlockTry(const Napi::CallbackInfo& info) {
  int fd = static_cast<int>(IntArg(info, 0, 0, 0x7fffffff, "fd"));
  bool exclusive = info.Length() < 2 || info[1].ToBoolean().Value();
  int r;
  do r = flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB);
  while (r < 0 && errno == EINTR);
  return Napi::Number::New(info.Env(), r < 0 ? errno : 0);
}

}  // namespace

void InitLock(Napi::Env env, Napi::Object exports) {
  exports.Set("flockTry", Napi::Function::New(env, FlockTry, "flockTry"));
}
