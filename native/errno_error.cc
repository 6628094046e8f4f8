#include "errno_error.h"

#include <cstring>

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& op,
                       const std::string& target) {
  std::string msg = op + " " + target + ": " + std::strerror(err);
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  e.Set("op", Napi::String::New(env, op));
  e.Set("target", Napi::String::New(env, target));
  return e;
}
