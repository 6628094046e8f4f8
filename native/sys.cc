// Small syscalls node:fs lacks.
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cstdlib>
#include <cstring>

#include "addon.h"
#include "posix.h"
#include "threads.h"

namespace {

Napi::Value BlockDeviceSize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = PathArg(info, 0);
  UniqueFd fd = OpenOrThrow(env, path, O_RDONLY, "BLKGETSIZE64");
  uint64_t size = 0;
  if (ioctl(fd.get(), BLKGETSIZE64, &size) < 0) throw ErrnoError(env, errno, "ioctl", "BLKGETSIZE64", path);
  return Napi::BigInt::New(env, size);
}

// BLKFLSBUF: writes back and drops the device's page cache, so that later buffered reads see what
// the device maps now rather than pages cached under an earlier table.
Napi::Value FlushBuffers(const Napi::CallbackInfo& info) {
  std::string path = PathArg(info, 0);
  // Writing back a cache behind slow storage can take seconds: off the JS thread.
  return threads::Promise<int>(
      info.Env(), "BLKFLSBUF",
      [path](threads::Failure* f) {
        UniqueFd fd = threads::OpenRecorded(f, path, O_RDONLY, "BLKFLSBUF");
        if (fd.get() >= 0 && ioctl(fd.get(), BLKFLSBUF, 0) < 0) f->Set("ioctl", "BLKFLSBUF", path);
        return 0;
      },
      [](Napi::Env env, const int&) { return env.Undefined(); });
}

Napi::Value MknodBlock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = PathArg(info, 0);
  mode_t mode = static_cast<mode_t>(IntArg(info, 1, 0, 07777, "mode"));
  unsigned major = static_cast<unsigned>(IntArg(info, 2, 0, 0xfff, "major"));
  unsigned minor = static_cast<unsigned>(IntArg(info, 3, 0, 0xfffff, "minor"));
  if (mknod(path.c_str(), S_IFBLK | mode, makedev(major, minor)) < 0) throw ErrnoError(env, errno, "mknod", "mknod", path);
  return env.Undefined();
}

// O_DIRECT wants memory aligned to the device's logical block size, and JS allocations promise
// no alignment: page-aligned memory, freed when the Buffer is collected.
Napi::Value AlignedBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t size = static_cast<size_t>(IntArg(info, 0, 1, int64_t{1} << 30, "size"));
  void* mem = nullptr;
  if (posix_memalign(&mem, 4096, size) != 0) throw ErrnoError(env, ENOMEM, "posix_memalign", "alignedBuffer", "");
  std::memset(mem, 0, size);
  Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(size));
  return Napi::Buffer<uint8_t>::New(env, static_cast<uint8_t*>(mem), size, [size](Napi::Env e, uint8_t* p) {
    std::free(p);
    Napi::MemoryManagement::AdjustExternalMemory(e, -static_cast<int64_t>(size));
  });
}

}  // namespace

void InitSys(Napi::Env env, Napi::Object exports) {
  exports.Set("blockDeviceSize", Napi::Function::New(env, BlockDeviceSize, "blockDeviceSize"));
  exports.Set("flushBuffers", Napi::Function::New(env, FlushBuffers, "flushBuffers"));
  exports.Set("alignedBuffer", Napi::Function::New(env, AlignedBuffer, "alignedBuffer"));
  exports.Set("mknodBlock", Napi::Function::New(env, MknodBlock, "mknodBlock"));
}
