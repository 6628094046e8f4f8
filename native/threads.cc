#include "threads.h"

#include <pthread.h>

#include <condition_variable>
#include <deque>
#include <thread>

namespace threads {

namespace {

// Enough for every blocked suspend of a large transaction to have a thread, so a resume queued
// behind them cannot deadlock; few enough to stay visible.
constexpr int kMaxThreads = 16;

struct Job {
  std::function<void()> work;
  std::shared_ptr<Completion> completion;
};

struct Pool {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Job> queue;
  int threads = 0;
  int idle = 0;
};

// Never destroyed: its detached threads wait on it until the process exits.
Pool& ThePool() {
  static Pool* p = new Pool;
  return *p;
}

void Worker() {
  pthread_setname_np(pthread_self(), "devmapper-io");
  Pool& p = ThePool();
  std::unique_lock<std::mutex> lock(p.mu);
  for (;;) {
    p.cv.wait(lock, [&] { return !p.queue.empty(); });
    Job job = std::move(p.queue.front());
    p.queue.pop_front();
    p.idle--;
    lock.unlock();
    job.work();
    // Idle before the result reaches JS: whoever sees the result finds this thread counted idle
    // (it only hands the result over and drops the job before it waits again).
    lock.lock();
    p.idle++;
    lock.unlock();
    job.completion->Deliver();
    job = Job();
    lock.lock();
  }
}

}  // namespace

std::shared_ptr<Completion> Completion::New(Napi::Env env, const char* name, Done done) {
  auto c = std::make_shared<Completion>();
  c->done_ = std::move(done);
  // The finalizer runs on the JS thread after Deliver released the function, or at environment
  // teardown before it: the lock makes Deliver see `gone_` instead of a freed function.
  auto* keep = new std::shared_ptr<Completion>(c);
  c->tsfn_ = Napi::ThreadSafeFunction::New(env, Napi::Function(), name, 0, 1, keep,
                                           [](Napi::Env, std::shared_ptr<Completion>* k) {
                                             {
                                               std::lock_guard<std::mutex> lock((*k)->mu_);
                                               (*k)->gone_ = true;
                                               (*k)->done_ = nullptr;
                                             }
                                             delete k;
                                           });
  return c;
}

void Completion::Deliver() {
  std::lock_guard<std::mutex> lock(mu_);
  if (gone_) return;
  Done* done = &done_;
  // Unlimited queue: never waits for the JS thread; napi_closing during teardown is fine to drop.
  // done is dropped once run, so what it holds (a wait holds its completion) is freed with it.
  tsfn_.BlockingCall([done](Napi::Env env, Napi::Function) {
    try {
      (*done)(env);
    } catch (const Napi::Error& e) {
      // A C++ exception must not leave this C callback. Either JS cannot run any more (a worker
      // being terminated: nothing awaits the result) or a JS exception is pending: hand it to
      // the process's uncaught-exception handling, when it can still be thrown.
      try {
        e.ThrowAsJavaScriptException();
      } catch (const Napi::Error&) {
      }
    }
    *done = nullptr;
  });
  tsfn_.Release();
}

bool Completion::Gone() {
  std::lock_guard<std::mutex> lock(mu_);
  return gone_;
}

void Run(Napi::Env env, const char* name, std::function<void()> work, Completion::Done done) {
  Pool& p = ThePool();
  std::lock_guard<std::mutex> lock(p.mu);
  if (static_cast<int>(p.queue.size()) >= p.idle && p.threads < kMaxThreads) {
    try {
      std::thread(Worker).detach();
      p.threads++;
      p.idle++;
    } catch (const std::system_error&) {
      if (p.threads == 0) throw Napi::Error::New(env, std::string(name) + ": cannot start a thread");
    }
  }
  p.queue.push_back(Job{std::move(work), Completion::New(env, name, std::move(done))});
  p.cv.notify_one();
}

Stats PoolStats() {
  Pool& p = ThePool();
  std::lock_guard<std::mutex> lock(p.mu);
  Stats s;
  s.threads = p.threads;
  s.busy = p.threads - p.idle;
  s.queued = static_cast<int>(p.queue.size());
  return s;
}

}  // namespace threads
