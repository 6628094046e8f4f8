#pragma once
#include <napi.h>
#include <string>

// Native code reports only facts (errno, syscall, what was attempted); the TypeScript layer
// turns them into the public error class with a message and the caller's stack.
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& op,
                       const std::string& target);
