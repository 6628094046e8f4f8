#include "addon.h"
void InitLoop(Napi::Env, Napi::Object) {}
