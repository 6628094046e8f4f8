// Loop devices: /dev/loop-control for allocation, per-device ioctls for binding a backing file.
#include <linux/loop.h>
#include <sys/ioctl.h>

#include <cstdlib>
#include <cstring>
#include <ctime>

#include "addon.h"
#include "posix.h"
#include "threads.h"

namespace {

const char kControl[] = "/dev/loop-control";

// The kernel answers EAGAIN while it cannot yet drop the device's page cache (older kernels,
// LOOP_SET_STATUS64 and friends); util-linux retries too.
int Ioctl(int fd, unsigned long req, unsigned long arg) {
  for (int attempt = 0;; ++attempt) {
    int rc = ioctl(fd, req, arg);
    if (rc >= 0 || (errno != EINTR && errno != EAGAIN) || attempt == 50) return rc;
    if (errno == EAGAIN) {
      timespec pause{0, 20 * 1000 * 1000};
      nanosleep(&pause, nullptr);
    }
  }
}

using threads::OpenRecorded;

// Like losetup: read-write if we may (unprivileged members of group disk need it for the
// mutating ioctls), read-only otherwise (root may use every ioctl on a read-only descriptor).
UniqueFd OpenLoop(threads::Failure* f, const std::string& path, const char* op) {
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM)) fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) f->Set("open", op, path);
  return UniqueFd(fd);
}

Napi::Value Undefined(Napi::Env env, const int&) { return env.Undefined(); }
Napi::Value Number(Napi::Env env, const int& n) { return Napi::Number::New(env, n); }

Napi::Value Control(const Napi::CallbackInfo& info, unsigned long req, const char* name, long arg,
                    Napi::Value (*toJs)(Napi::Env, const int&)) {
  return threads::Promise<int>(
      info.Env(), name,
      [=](threads::Failure* f) {
        UniqueFd ctl = OpenRecorded(f, kControl, O_RDWR, name);
        if (ctl.get() < 0) return -1;
        int rc = Ioctl(ctl.get(), req, static_cast<unsigned long>(arg));
        if (rc < 0) f->Set("ioctl", name, kControl);
        return rc;
      },
      toJs);
}

Napi::Value GetFree(const Napi::CallbackInfo& info) { return Control(info, LOOP_CTL_GET_FREE, "LOOP_CTL_GET_FREE", 0, Number); }

Napi::Value Add(const Napi::CallbackInfo& info) {
  return Control(info, LOOP_CTL_ADD, "LOOP_CTL_ADD", static_cast<long>(IntArg(info, 0, 0, INT32_MAX, "n")), Number);
}

Napi::Value Remove(const Napi::CallbackInfo& info) {
  return Control(info, LOOP_CTL_REMOVE, "LOOP_CTL_REMOVE", static_cast<long>(IntArg(info, 0, 0, INT32_MAX, "n")), Undefined);
}

struct Config {
  uint64_t offset = 0;
  uint64_t sizeLimit = 0;
  uint32_t flags = 0;
  uint32_t blockSize = 0;
};

uint64_t U64Field(Napi::Env env, Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return 0;
  if (!v.IsBigInt()) throw Napi::TypeError::New(env, std::string(key) + " must be a bigint");
  bool lossless = true;
  uint64_t n = v.As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless || n > INT64_MAX) throw Napi::TypeError::New(env, std::string(key) + " is out of range");
  return n;
}

Config ParseConfig(const Napi::CallbackInfo& info, size_t i) {
  Napi::Env env = info.Env();
  if (info.Length() <= i || !info[i].IsObject()) throw Napi::TypeError::New(env, "config must be an object");
  Napi::Object o = info[i].As<Napi::Object>();
  Config c;
  c.offset = U64Field(env, o, "offset");
  c.sizeLimit = U64Field(env, o, "sizeLimit");
  const std::pair<const char*, uint32_t> bits[] = {{"readOnly", LO_FLAGS_READ_ONLY},
                                                  {"autoclear", LO_FLAGS_AUTOCLEAR},
                                                  {"partscan", LO_FLAGS_PARTSCAN},
                                                  {"directIo", LO_FLAGS_DIRECT_IO}};
  for (const auto& [key, bit] : bits)
    if (o.Get(key).ToBoolean()) c.flags |= bit;
  Napi::Value bs = o.Get("blockSize");
  if (!bs.IsUndefined()) {
    if (!bs.IsNumber()) throw Napi::TypeError::New(env, "blockSize must be a number");
    c.blockSize = bs.As<Napi::Number>().Uint32Value();
  }
  return c;
}

loop_info64 InfoFor(const Config& c, const std::string& backing, uint32_t flags) {
  loop_info64 info;
  std::memset(&info, 0, sizeof info);
  info.lo_offset = c.offset;
  info.lo_sizelimit = c.sizeLimit;
  info.lo_flags = flags;
  // Informational only (the kernel reports the full path in sysfs); truncation is harmless.
  std::strncpy(reinterpret_cast<char*>(info.lo_file_name), backing.c_str(), LO_NAME_SIZE - 1);
  return info;
}

// For testing the path older kernels (before 5.8) take.
bool LegacyForced() {
  const char* v = std::getenv("DEVMAPPER_LOOP_LEGACY");
  return v && *v && std::strcmp(v, "0") != 0;
}

// LOOP_SET_FD binds; the rest is applied step by step, and the binding is undone if a step fails,
// so a failed attach never leaves a half-configured device behind.
bool AttachLegacy(threads::Failure* f, int loop, int file, const Config& c, const std::string& loopPath,
                  const std::string& backing) {
  if (Ioctl(loop, LOOP_SET_FD, static_cast<unsigned long>(file)) < 0) return f->Set("ioctl", "LOOP_SET_FD", loopPath);
  // LOOP_SET_FD takes read-only from the file's open mode; DIRECT_IO has an ioctl of its own.
  loop_info64 info = InfoFor(c, backing, c.flags & LOOP_SET_STATUS_SETTABLE_FLAGS);
  struct Step {
    unsigned long req;
    unsigned long arg;
    const char* name;
    bool wanted;
  } steps[] = {
      {LOOP_SET_STATUS64, reinterpret_cast<unsigned long>(&info), "LOOP_SET_STATUS64", true},
      {LOOP_SET_DIRECT_IO, 1, "LOOP_SET_DIRECT_IO", (c.flags & LO_FLAGS_DIRECT_IO) != 0},
      {LOOP_SET_BLOCK_SIZE, c.blockSize, "LOOP_SET_BLOCK_SIZE", c.blockSize != 0},
  };
  for (const Step& s : steps) {
    if (!s.wanted || Ioctl(loop, s.req, s.arg) >= 0) continue;
    f->Set("ioctl", s.name, loopPath);
    Ioctl(loop, LOOP_CLR_FD, 0);
    return false;
  }
  return true;
}

bool AttachOff(threads::Failure* f, const std::string& loopPath, const std::string& backing, const Config& c) {
  bool readOnly = (c.flags & LO_FLAGS_READ_ONLY) != 0;
  int fileFlags = (readOnly ? O_RDONLY : O_RDWR) | ((c.flags & LO_FLAGS_DIRECT_IO) ? O_DIRECT : 0);
  // Both descriptors close on return: the bound device keeps its own reference to the file.
  UniqueFd file = OpenRecorded(f, backing, fileFlags, "LOOP_CONFIGURE");
  if (file.get() < 0) return false;
  UniqueFd loop = OpenLoop(f, loopPath, "LOOP_CONFIGURE");
  if (loop.get() < 0) return false;
  if (!LegacyForced()) {
    loop_config cfg;
    std::memset(&cfg, 0, sizeof cfg);
    cfg.fd = static_cast<uint32_t>(file.get());
    cfg.block_size = c.blockSize;
    cfg.info = InfoFor(c, backing, c.flags);
    if (Ioctl(loop.get(), LOOP_CONFIGURE, reinterpret_cast<unsigned long>(&cfg)) >= 0) return true;
    // Kernels before 5.8 answer EINVAL (some ENOTTY) to an ioctl they do not know; the legacy
    // path then reports its own error if the configuration itself was the problem.
    if (errno != EINVAL && errno != ENOTTY) return f->Set("ioctl", "LOOP_CONFIGURE", loopPath);
  }
  return AttachLegacy(f, loop.get(), file.get(), c, loopPath, backing);
}

Napi::Value Attach(const Napi::CallbackInfo& info) {
  std::string loopPath = PathArg(info, 0);
  std::string backing = PathArg(info, 1);
  Config c = ParseConfig(info, 2);
  return threads::Promise<int>(
      info.Env(), "LOOP_CONFIGURE",
      [=](threads::Failure* f) { return AttachOff(f, loopPath, backing, c) ? 0 : -1; }, Undefined);
}

// One ioctl on a loop device, off the JS thread.
Napi::Value DeviceIoctl(const Napi::CallbackInfo& info, unsigned long req, unsigned long arg, const char* name) {
  std::string path = PathArg(info, 0);
  return threads::Promise<int>(
      info.Env(), name,
      [=](threads::Failure* f) {
        UniqueFd loop = OpenLoop(f, path, name);
        if (loop.get() < 0) return -1;
        if (Ioctl(loop.get(), req, arg) < 0) f->Set("ioctl", name, path);
        return 0;
      },
      Undefined);
}

Napi::Value Detach(const Napi::CallbackInfo& info) { return DeviceIoctl(info, LOOP_CLR_FD, 0, "LOOP_CLR_FD"); }

Napi::Value StatusToJs(Napi::Env env, const loop_info64& li) {
  const char* name = reinterpret_cast<const char*>(li.lo_file_name);
  Napi::Object out = Napi::Object::New(env);
  out.Set("number", Napi::Number::New(env, li.lo_number));
  out.Set("backingFile", Napi::String::New(env, name, strnlen(name, LO_NAME_SIZE)));
  out.Set("backingDevice", Napi::BigInt::New(env, static_cast<uint64_t>(li.lo_device)));
  out.Set("backingInode", Napi::BigInt::New(env, static_cast<uint64_t>(li.lo_inode)));
  out.Set("offset", Napi::BigInt::New(env, static_cast<uint64_t>(li.lo_offset)));
  out.Set("sizeLimit", Napi::BigInt::New(env, static_cast<uint64_t>(li.lo_sizelimit)));
  out.Set("flags", Napi::Number::New(env, li.lo_flags));
  return out;
}

Napi::Value Status(const Napi::CallbackInfo& info) {
  std::string path = PathArg(info, 0);
  return threads::Promise<loop_info64>(
      info.Env(), "LOOP_GET_STATUS64",
      [=](threads::Failure* f) {
        loop_info64 li;
        std::memset(&li, 0, sizeof li);
        UniqueFd loop = OpenRecorded(f, path, O_RDONLY, "LOOP_GET_STATUS64");
        if (loop.get() >= 0 && Ioctl(loop.get(), LOOP_GET_STATUS64, reinterpret_cast<unsigned long>(&li)) < 0)
          f->Set("ioctl", "LOOP_GET_STATUS64", path);
        return li;
      },
      StatusToJs);
}

Napi::Value SetCapacity(const Napi::CallbackInfo& info) {
  return DeviceIoctl(info, LOOP_SET_CAPACITY, 0, "LOOP_SET_CAPACITY");
}

Napi::Value SetDirectIo(const Napi::CallbackInfo& info) {
  if (info.Length() < 2 || !info[1].IsBoolean()) throw Napi::TypeError::New(info.Env(), "on must be a boolean");
  return DeviceIoctl(info, LOOP_SET_DIRECT_IO, info[1].As<Napi::Boolean>().Value() ? 1 : 0, "LOOP_SET_DIRECT_IO");
}

Napi::Value SetBlockSize(const Napi::CallbackInfo& info) {
  unsigned long size = static_cast<unsigned long>(IntArg(info, 1, 512, 65536, "size"));
  return DeviceIoctl(info, LOOP_SET_BLOCK_SIZE, size, "LOOP_SET_BLOCK_SIZE");
}

}  // namespace

void InitLoop(Napi::Env env, Napi::Object exports) {
  const std::pair<const char*, Napi::Value (*)(const Napi::CallbackInfo&)> fns[] = {
      {"loopGetFree", GetFree},         {"loopAdd", Add},
      {"loopRemove", Remove},           {"loopAttach", Attach},
      {"loopDetach", Detach},           {"loopStatus", Status},
      {"loopSetCapacity", SetCapacity}, {"loopSetDirectIo", SetDirectIo},
      {"loopSetBlockSize", SetBlockSize},
  };
  for (const auto& [name, fn] : fns) exports.Set(name, Napi::Function::New(env, fn, name));
}
