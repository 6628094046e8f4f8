#include "addon.h"
void InitDm(Napi::Env, Napi::Object) {}
