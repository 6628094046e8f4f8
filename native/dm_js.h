#pragma once
// Conversions between the JS request/reply objects of src/native.ts and the codec's structs,
// shared by the ioctl binding and the event waiter (defined in dm_binding.cc).
#include <napi.h>

#include <string>

#include "dm_codec.h"
#include "dm_ioctl.h"

namespace dm {

// The control fd, opened on first use and kept: every ioctl goes through the same one.
// Returns 0, or the errno of the open.
int ControlFd(int* fd);
// Throws Napi::TypeError on a value of the wrong type (validation proper is TypeScript's job).
void ParseRequest(const Napi::Value& v, Request* req, IoctlOptions* opt);
// How the request addressed its device, for error messages: name, "uuid X" or "major:minor".
std::string DeviceLabel(const Request& req);
Napi::Object ReplyToJs(Napi::Env env, const Reply& r);
// The JS error for a failed Outcome: ErrnoError for errno, TypeError or Error for codec failures.
Napi::Error OutcomeError(Napi::Env env, const Outcome& o, unsigned cmd, const std::string& label);

}  // namespace dm
