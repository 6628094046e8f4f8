#include "addon.h"
void InitSys(Napi::Env, Napi::Object) {}
