#pragma once
#include <fcntl.h>
#include <napi.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <string>

#include "errno_error.h"

// Owns one descriptor so that every exit path, a thrown Napi::Error included, closes it.
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  ~UniqueFd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// open(2) with O_CLOEXEC, retried on EINTR; -1 with errno set.
inline int OpenCloexec(const std::string& path, int flags) {
  int fd;
  do fd = open(path.c_str(), flags | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  return fd;
}

// `op` names what the open was for (e.g. "LOOP_CONFIGURE"), so TypeScript can report the command.
inline UniqueFd OpenOrThrow(Napi::Env env, const std::string& path, int flags, const std::string& op) {
  int fd = OpenCloexec(path, flags);
  if (fd < 0) throw ErrnoError(env, errno, "open", op, path);
  return UniqueFd(fd);
}

// Backstop only: TypeScript validates first.
inline std::string PathArg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsString()) throw Napi::TypeError::New(info.Env(), "path must be a string");
  std::string path = info[i].As<Napi::String>().Utf8Value();
  if (path.empty() || path.find('\0') != std::string::npos)
    throw Napi::TypeError::New(info.Env(), "path must be non-empty and free of NUL bytes");
  return path;
}

inline int64_t IntArg(const Napi::CallbackInfo& info, size_t i, int64_t min, int64_t max, const char* what) {
  if (info.Length() <= i || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v) || v != std::trunc(v) || v < static_cast<double>(min) || v > static_cast<double>(max))
    throw Napi::TypeError::New(info.Env(), std::string(what) + " is out of range");
  return static_cast<int64_t>(v);
}
