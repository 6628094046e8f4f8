#pragma once
// devmapper's own threads. Calls that can block in the kernel (a suspend with flush behind slow
// I/O, a loop ioctl retrying for a second, BLKFLSBUF writing back a cache) run here: never on the
// JS thread, and never on libuv's shared pool, where fs, DNS and crypto would queue behind them.
#include <napi.h>

#include <functional>
#include <memory>
#include <mutex>

namespace threads {

// A result delivered once from any thread to the JS thread of one environment. Safe when that
// environment goes away first (a worker terminated): then nothing is delivered, and the thread
// never touches the freed thread-safe function.
class Completion {
 public:
  using Done = std::function<void(Napi::Env)>;
  static std::shared_ptr<Completion> New(Napi::Env env, const char* name, Done done);
  // Runs done on the JS thread, unless the environment is gone. Call once.
  void Deliver();
  bool Gone();

 private:
  std::mutex mu_;
  bool gone_ = false;
  Napi::ThreadSafeFunction tsfn_;
  Done done_;
};

// Runs work on a pool thread (made on demand, kept, at most kMaxThreads), then done on the JS
// thread. Throws a Napi::Error when no thread can be made at all.
void Run(Napi::Env env, const char* name, std::function<void()> work, Completion::Done done);

struct Stats {
  int threads = 0;
  int busy = 0;
  int queued = 0;
};
Stats PoolStats();

}  // namespace threads

#include "errno_error.h"
#include "posix.h"

namespace threads {

// A syscall's failure, learned on a pool thread, thrown on the JS thread as an ErrnoError.
struct Failure {
  int err = 0;
  const char* syscall = "";
  std::string op;
  std::string target;
  // Records errno (read first, before anything can change it); returns false for `return Fail(...)`.
  bool Set(const char* sys, const std::string& what, const std::string& on) {
    err = errno;
    syscall = sys;
    op = what;
    target = on;
    return false;
  }
};

// OpenOrThrow's twin for pool threads: the failure is recorded, the descriptor is -1.
inline UniqueFd OpenRecorded(Failure* f, const std::string& path, int flags, const std::string& op) {
  int fd = OpenCloexec(path, flags);
  if (fd < 0) f->Set("open", op, path);
  return UniqueFd(fd);
}

// A Promise for work(failure) run on a pool thread: rejected with the failure's ErrnoError when
// work set one, else resolved with toJs(env, value).
template <typename T>
Napi::Value Promise(Napi::Env env, const char* name, std::function<T(Failure*)> work,
                    std::function<Napi::Value(Napi::Env, const T&)> toJs) {
  struct State {
    Failure failure;
    T value{};
  };
  auto st = std::make_shared<State>();
  auto deferred = Napi::Promise::Deferred::New(env);
  Run(
      env, name, [st, work] { st->value = work(&st->failure); },
      [st, deferred, toJs](Napi::Env env) {
        const Failure& f = st->failure;
        if (f.err)
          deferred.Reject(ErrnoError(env, f.err, f.syscall, f.op, f.target).Value());
        else
          deferred.Resolve(toJs(env, st->value));
      });
  return deferred.Promise();
}

}  // namespace threads
