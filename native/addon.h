#pragma once
#include <napi.h>

// Each concern registers its own functions on the module's exports.
void InitDm(Napi::Env env, Napi::Object exports);
void InitDmStatus(Napi::Env env, Napi::Object exports);
void InitDmWait(Napi::Env env, Napi::Object exports);
void InitLock(Napi::Env env, Napi::Object exports);
void InitLoop(Napi::Env env, Napi::Object exports);
void InitSys(Napi::Env env, Napi::Object exports);
