// dmWait: waits for a device event on a thread of its own. A wait can last hours, so it must
// not occupy a libuv pool thread; and it must be cancellable, which a blocking DEV_WAIT is not.
// So the thread never blocks in DEV_WAIT: it arms the control fd, reads the event number, and
// sleeps in poll() on the control fd (readable once any dm event happened) and an eventfd
// (written by cancel()). DEV_WAIT is issued only once the event number already differs, so it
// returns at once with the status lines.
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <memory>
#include <thread>

#include "addon.h"
#include "dm_js.h"
#include "errno_error.h"

namespace dm {

namespace {

struct WaitState {
  explicit WaitState(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
  ~WaitState() {
    if (ctl >= 0) close(ctl);
    if (efd >= 0) close(efd);
    if (opt.secure) {
      req.Wipe();
      reply.Wipe();
    }
  }
  Request req;
  IoctlOptions opt;
  std::string label;
  int ctl = -1;
  int efd = -1;
  std::thread thread;
  Napi::ThreadSafeFunction tsfn;
  Napi::Promise::Deferred deferred;  // touched on the JS thread only
  Reply reply;
  Outcome outcome;
  unsigned failedCmd = DM_DEV_WAIT_CMD;
};

bool Step(WaitState* s, unsigned cmd, const Request& req, const IoctlOptions& opt, Reply* r) {
  s->outcome = RunCaught(s->ctl, cmd, req, opt, r);
  s->failedCmd = cmd;
  return s->outcome.ok();
}

void Loop(WaitState* s) {
  const Request arm;  // DEV_ARM_POLL addresses no device
  Request status;
  status.name = s->req.name;
  status.uuid = s->req.uuid;
  status.hasDev = s->req.hasDev;
  status.major = s->req.major;
  status.minor = s->req.minor;
  const IoctlOptions small;
  for (;;) {
    Reply r;
    // Arm before reading the event number, so an event between the two still wakes poll().
    if (!Step(s, DM_DEV_ARM_POLL_CMD, arm, small, &r)) return;
    if (!Step(s, DM_DEV_STATUS_CMD, status, small, &r)) return;
    if (r.eventNr != s->req.eventNr) {
      Step(s, DM_DEV_WAIT_CMD, s->req, s->opt, &s->reply);
      return;
    }
    s->failedCmd = DM_DEV_WAIT_CMD;
    struct pollfd fds[2] = {{s->ctl, POLLIN, 0}, {s->efd, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      s->outcome.err = errno;
      s->outcome.syscall = "poll";
      return;
    }
    if (fds[1].revents) {
      s->outcome.err = ECANCELED;
      return;
    }
    if (fds[0].revents & (POLLERR | POLLNVAL)) {
      s->outcome.err = EIO;
      s->outcome.syscall = "poll";
      return;
    }
  }
}

void Settle(Napi::Env env, WaitState* s) {
  if (s->outcome.ok())
    s->deferred.Resolve(ReplyToJs(env, s->reply));
  else
    s->deferred.Reject(OutcomeError(env, s->outcome, s->failedCmd, s->label).Value());
}

Napi::Value DmWait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto s = std::make_shared<WaitState>(env);
  ParseRequest(info[0], &s->req, &s->opt);
  s->label = DeviceLabel(s->req);

  Napi::Object handle = Napi::Object::New(env);
  handle.Set("promise", s->deferred.Promise());
  // cancel() holds the state, so the eventfd stays open for as long as anyone can call it.
  handle.Set("cancel", Napi::Function::New(env, [s](const Napi::CallbackInfo&) {
               if (s->efd >= 0) {
                 uint64_t one = 1;
                 ssize_t n = write(s->efd, &one, sizeof one);
                 (void)n;  // EAGAIN: already signalled
               }
             }));

  if (int err = OpenControl(&s->ctl)) {
    s->deferred.Reject(ErrnoError(env, err, "open", "DEV_WAIT", "/dev/mapper/control").Value());
    return handle;
  }
  s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (s->efd < 0) {
    s->deferred.Reject(ErrnoError(env, errno, "eventfd", "DEV_WAIT", s->label).Value());
    return handle;
  }

  // The finalizer runs on the JS thread once the waiter released the function, or when the
  // environment shuts down under a wait that never ended (a worker terminated): then the
  // eventfd wakes the waiter, whose BlockingCall returns napi_closing, so the join cannot hang.
  auto* keep = new std::shared_ptr<WaitState>(s);
  s->tsfn = Napi::ThreadSafeFunction::New(env, Napi::Function(), "dmWait", 0, 1, keep,
                                          [](Napi::Env, std::shared_ptr<WaitState>* k) {
                                            uint64_t one = 1;
                                            ssize_t n = write((*k)->efd, &one, sizeof one);
                                            (void)n;
                                            if ((*k)->thread.joinable()) (*k)->thread.join();
                                            delete k;
                                          });
  WaitState* raw = s.get();
  try {
    s->thread = std::thread([raw] {
      Loop(raw);
      raw->tsfn.BlockingCall([raw](Napi::Env env, Napi::Function) { Settle(env, raw); });
      raw->tsfn.Release();
    });
  } catch (const std::system_error& e) {
    s->tsfn.Release();
    s->deferred.Reject(ErrnoError(env, e.code().value(), "pthread_create", "DEV_WAIT", s->label).Value());
  }
  return handle;
}

}  // namespace

}  // namespace dm

void InitDmWait(Napi::Env env, Napi::Object exports) {
  exports.Set("dmWait", Napi::Function::New(env, dm::DmWait, "dmWait"));
}
