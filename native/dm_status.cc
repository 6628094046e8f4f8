// dmStatus: DEV_STATUS on the calling thread, with the reply written into a record JS reads in
// place. Under N-API, building a reply object costs several times the ioctl itself (every property
// set is a runtime call), so the hottest query returns numbers and bytes in shared memory instead.
// DEV_STATUS never waits for I/O in the kernel, so running it on the JS thread is safe.
#include <errno.h>
#include <linux/dm-ioctl.h>
#include <string.h>
#include <sys/ioctl.h>

#include <cstring>

#include "addon.h"
#include "dm_js.h"

namespace dm {

namespace {

// Layout shared with src/dm/status-record.ts: native-endian u32 words, then the two strings.
enum Word : unsigned { kFlags, kMajor, kMinor, kOpenCount, kEventNr, kTargetCount, kNameLen, kUuidLen };
constexpr size_t kNameAt = 64;
constexpr size_t kUuidAt = kNameAt + DM_NAME_LEN;
constexpr size_t kRecordSize = kUuidAt + DM_UUID_LEN;

struct Record {
  Napi::Reference<Napi::ArrayBuffer> buffer;
  uint8_t* data;
};

// Each N-API call costs about as much as the ioctl, so arguments are read with as few as possible.
void ReadString(napi_env env, napi_value v, size_t max, std::string* out) {
  char buf[DM_UUID_LEN + 2];
  size_t len = 0;
  // One byte past the limit, so that a string over it shows as too long instead of truncated.
  if (napi_get_value_string_utf8(env, v, buf, max + 2, &len) != napi_ok) throw Napi::TypeError::New(env, "expected a string");
  out->assign(buf, len);
}

uint32_t ReadU32(napi_env env, napi_value v) {
  uint32_t n = 0;
  if (napi_get_value_uint32(env, v, &n) != napi_ok) throw Napi::TypeError::New(env, "expected a number");
  return n;
}

void Put(uint8_t* rec, unsigned word, uint32_t v) { std::memcpy(rec + word * 4, &v, 4); }

// The ioctl on a header-only buffer: the kernel writes its reply over the request.
Outcome StatusIoctl(const Request& req, struct dm_ioctl* io) {
  Outcome o;
  try {
    EncodeHeaderOnly(DM_DEV_STATUS_CMD, req, io);
  } catch (const EncodeError& e) {
    o.message = e.what();
    o.typeError = true;
    return o;
  }
  int fd = -1;
  if (int err = ControlFd(&fd)) {
    o.err = err;
    o.syscall = "open";
    return o;
  }
  int rc;
  do rc = ioctl(fd, DM_DEV_STATUS, io);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) o.err = errno;
  return o;
}

// dmStatus(0, name) | dmStatus(1, uuid) | dmStatus(2, major, minor)
Napi::Value DmStatus(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  auto* rec = static_cast<Record*>(info.Data());
  Request req;
  switch (ReadU32(env, info[0])) {
    case 0:
      ReadString(env, info[1], DM_NAME_LEN - 1, &req.name);
      break;
    case 1:
      ReadString(env, info[1], DM_UUID_LEN - 1, &req.uuid);
      break;
    case 2:
      req.hasDev = true;
      req.major = ReadU32(env, info[1]);
      req.minor = ReadU32(env, info[2]);
      break;
    default:
      throw Napi::TypeError::New(env, "address a device by 0 (name), 1 (uuid) or 2 (major, minor)");
  }
  struct dm_ioctl io;
  Outcome o = StatusIoctl(req, &io);
  if (!o.ok()) throw OutcomeError(info.Env(), o, DM_DEV_STATUS_CMD, DeviceLabel(req));
  uint8_t* d = rec->data;
  uint32_t major, minor;
  DecodeDev(io.dev, &major, &minor);
  Put(d, kFlags, io.flags);
  Put(d, kMajor, major);
  Put(d, kMinor, minor);
  Put(d, kOpenCount, static_cast<uint32_t>(io.open_count));
  Put(d, kEventNr, io.event_nr);
  Put(d, kTargetCount, io.target_count);
  // strnlen keeps a reply without a terminator inside its own field.
  size_t nameLen = strnlen(io.name, sizeof io.name);
  size_t uuidLen = strnlen(io.uuid, sizeof io.uuid);
  Put(d, kNameLen, static_cast<uint32_t>(nameLen));
  Put(d, kUuidLen, static_cast<uint32_t>(uuidLen));
  std::memcpy(d + kNameAt, io.name, nameLen);
  std::memcpy(d + kUuidAt, io.uuid, uuidLen);
  return Napi::Value();
}

}  // namespace

}  // namespace dm

void InitDmStatus(Napi::Env env, Napi::Object exports) {
  // One record per environment (worker threads each load their own), freed with it.
  auto* rec = new dm::Record();
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, dm::kRecordSize);
  rec->data = static_cast<uint8_t*>(ab.Data());
  rec->buffer = Napi::Persistent(ab);
  env.AddCleanupHook([rec]() { delete rec; });
  exports.Set("dmStatusRecord", ab);
  exports.Set("dmStatus", Napi::Function::New(env, dm::DmStatus, "dmStatus", rec));
}
