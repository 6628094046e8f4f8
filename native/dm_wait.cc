#include "addon.h"
void InitDmWait(Napi::Env, Napi::Object) {}
