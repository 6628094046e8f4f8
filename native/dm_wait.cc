// dmWait: waits for device events. A wait can last hours, so it must not hold a pool thread, and
// a thread per wait does not scale to thousands of waits. So one waiter thread serves every wait
// of the process: it arms its control fd (DEV_ARM_POLL), reads each waited device's event number,
// and sleeps in poll() on the control fd (readable once any dm event happened) and an eventfd
// (written when a wait is added or cancelled). DEV_WAIT is issued only once a device's event
// number already differs, so it returns at once with the status lines and never blocks the others.
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "addon.h"
#include "dm_js.h"
#include "errno_error.h"
#include "threads.h"

namespace dm {

namespace {

struct Wait {
  ~Wait() {
    if (opt.secure) {
      req.Wipe();
      reply.Wipe();
    }
  }
  Request req;
  IoctlOptions opt;
  std::string label;
  std::shared_ptr<threads::Completion> completion;
  std::atomic<bool> cancelled{false};
  Reply reply;
  Outcome outcome;
  unsigned failedCmd = DM_DEV_WAIT_CMD;
};

struct Waiter {
  std::mutex mu;
  std::vector<std::shared_ptr<Wait>> added;
  int ctl = -1;
  int efd = -1;
  bool started = false;
  std::atomic<int> waits{0};
};

// Never destroyed: its detached thread uses it until the process exits.
Waiter& TheWaiter() {
  static Waiter* w = new Waiter;
  return *w;
}

void Wake(Waiter& w) {
  uint64_t one = 1;
  ssize_t n = write(w.efd, &one, sizeof one);
  (void)n;  // EAGAIN: already signalled
}

void Finish(Waiter& w, const std::shared_ptr<Wait>& s) {
  w.waits--;
  // The wait lets go of its completion, whose callback holds the wait: no cycle is left.
  std::shared_ptr<threads::Completion> c = std::move(s->completion);
  c->Deliver();
}

// One pass over the waits: those whose device had an event (or failed, or were cancelled) finish.
void Pass(Waiter& w, std::vector<std::shared_ptr<Wait>>* waits) {
  std::vector<std::shared_ptr<Wait>> keep;
  const IoctlOptions small;
  for (auto& s : *waits) {
    if (s->cancelled || s->completion->Gone()) {
      s->outcome.err = ECANCELED;
      Finish(w, s);
      continue;
    }
    Request status;
    status.name = s->req.name;
    status.uuid = s->req.uuid;
    status.hasDev = s->req.hasDev;
    status.major = s->req.major;
    status.minor = s->req.minor;
    Reply r;
    s->outcome = RunCaught(w.ctl, DM_DEV_STATUS_CMD, status, small, &r);
    if (!s->outcome.ok()) {
      s->failedCmd = DM_DEV_STATUS_CMD;
      Finish(w, s);
    } else if (r.eventNr != s->req.eventNr) {
      s->outcome = RunCaught(w.ctl, DM_DEV_WAIT_CMD, s->req, s->opt, &s->reply);
      Finish(w, s);
    } else {
      keep.push_back(s);
    }
  }
  waits->swap(keep);
}

void FailAll(Waiter& w, std::vector<std::shared_ptr<Wait>>* waits, const Outcome& o, unsigned cmd) {
  for (auto& s : *waits) {
    s->outcome = o;
    s->failedCmd = cmd;
    Finish(w, s);
  }
  waits->clear();
}

void Loop() {
  pthread_setname_np(pthread_self(), "devmapper-wait");
  Waiter& w = TheWaiter();
  std::vector<std::shared_ptr<Wait>> waits;
  const Request arm;  // DEV_ARM_POLL addresses no device
  const IoctlOptions small;
  for (;;) {
    // Drained before the new waits are taken, so a wait added after this still wakes poll().
    uint64_t drained;
    ssize_t n = read(w.efd, &drained, sizeof drained);
    (void)n;
    {
      std::lock_guard<std::mutex> lock(w.mu);
      for (auto& s : w.added) waits.push_back(std::move(s));
      w.added.clear();
    }
    if (!waits.empty()) {
      Reply r;
      // Arm before reading the event numbers, so an event between the two still wakes poll().
      Outcome armed = RunCaught(w.ctl, DM_DEV_ARM_POLL_CMD, arm, small, &r);
      if (!armed.ok())
        FailAll(w, &waits, armed, DM_DEV_ARM_POLL_CMD);
      else
        Pass(w, &waits);
    }
    struct pollfd fds[2] = {{w.efd, POLLIN, 0}, {w.ctl, POLLIN, 0}};
    // With nothing to wait for, only the eventfd matters (the control fd stays readable).
    int rc = poll(fds, waits.empty() ? 1 : 2, -1);
    if (rc < 0 && errno != EINTR) {
      Outcome o;
      o.err = errno;
      o.syscall = "poll";
      FailAll(w, &waits, o, DM_DEV_WAIT_CMD);
    } else if (rc > 0 && !waits.empty() && (fds[1].revents & (POLLERR | POLLNVAL))) {
      Outcome o;
      o.err = EIO;
      o.syscall = "poll";
      FailAll(w, &waits, o, DM_DEV_WAIT_CMD);
    }
  }
}

// Opens the waiter's descriptors and starts its thread once; 0 or the errno, with the syscall.
int Start(Waiter& w, const char** syscall) {
  if (w.started) return 0;
  *syscall = "open";
  if (int err = OpenControl(&w.ctl)) return err;
  *syscall = "eventfd";
  w.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (w.efd < 0) {
    int err = errno;
    close(w.ctl);
    w.ctl = -1;
    return err;
  }
  *syscall = "pthread_create";
  try {
    std::thread(Loop).detach();
  } catch (const std::system_error& e) {
    close(w.ctl);
    close(w.efd);
    w.ctl = w.efd = -1;
    return e.code().value();
  }
  w.started = true;
  return 0;
}

Napi::Value DmWait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto s = std::make_shared<Wait>();
  ParseRequest(info[0], &s->req, &s->opt);
  s->label = DeviceLabel(s->req);
  auto deferred = Napi::Promise::Deferred::New(env);

  Waiter& w = TheWaiter();
  Napi::Object handle = Napi::Object::New(env);
  handle.Set("promise", deferred.Promise());
  std::lock_guard<std::mutex> lock(w.mu);
  const char* syscall = "";
  if (int err = Start(w, &syscall)) {
    deferred.Reject(ErrnoError(env, err, syscall, "DEV_WAIT", s->label).Value());
    return handle;
  }
  std::weak_ptr<Wait> weak = s;
  s->completion = threads::Completion::New(env, "dmWait", [s, deferred](Napi::Env env) {
    if (s->outcome.ok())
      deferred.Resolve(ReplyToJs(env, s->reply));
    else
      deferred.Reject(OutcomeError(env, s->outcome, s->failedCmd, s->label).Value());
  });
  // A cancel after the wait settled (and was freed) does nothing.
  handle.Set("cancel", Napi::Function::New(env, [weak](const Napi::CallbackInfo&) {
               if (auto w = weak.lock()) {
                 w->cancelled = true;
                 Wake(TheWaiter());
               }
             }));
  w.added.push_back(std::move(s));
  w.waits++;
  Wake(w);
  return handle;
}

Napi::Value WaitStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  threads::Stats p = threads::PoolStats();
  Waiter& w = TheWaiter();
  Napi::Object o = Napi::Object::New(env);
  o.Set("poolThreads", p.threads);
  o.Set("poolBusy", p.busy);
  o.Set("poolQueued", p.queued);
  {
    std::lock_guard<std::mutex> lock(w.mu);
    o.Set("waiterThreads", w.started ? 1 : 0);
  }
  o.Set("waits", w.waits.load());
  return o;
}

}  // namespace

}  // namespace dm

void InitDmWait(Napi::Env env, Napi::Object exports) {
  exports.Set("dmWait", Napi::Function::New(env, dm::DmWait, "dmWait"));
  exports.Set("threadStats", Napi::Function::New(env, dm::WaitStats, "threadStats"));
}
