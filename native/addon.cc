#include "addon.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitDm(env, exports);
  InitDmStatus(env, exports);
  InitDmWait(env, exports);
  InitLock(env, exports);
  InitLoop(env, exports);
  InitSys(env, exports);
  return exports;
}

NODE_API_MODULE(devmapper, Init)
