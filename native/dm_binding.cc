// dmIoctl, dmIoctlAsync, dmEncode, dmDecode: the request/reply half of the dm binding.
#include <chrono>
#include <memory>
#include <mutex>
#include <vector>

#include "addon.h"
#include "dm_js.h"
#include "errno_error.h"
#include "threads.h"

namespace dm {

namespace {

std::string Str(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return std::string();
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

bool Has(const Napi::Object& o, const char* key) { return !o.Get(key).IsUndefined(); }

uint32_t U32(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return 0;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 4294967295.0) || d != static_cast<double>(static_cast<uint64_t>(d)))
    throw Napi::TypeError::New(o.Env(), std::string(key) + " must be an unsigned 32-bit integer");
  return static_cast<uint32_t>(d);
}

size_t Size(const Napi::Object& o, const char* key, size_t dflt) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return dflt;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 1 && d <= 4294967295.0)) throw Napi::TypeError::New(o.Env(), std::string(key) + " is out of range");
  return static_cast<size_t>(d);
}

uint64_t U64(const Napi::Env& env, const Napi::Value& v, const char* what) {
  if (!v.IsBigInt()) throw Napi::TypeError::New(env, std::string(what) + " must be a bigint");
  bool lossless = false;
  uint64_t n = v.As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) throw Napi::TypeError::New(env, std::string(what) + " must fit in 64 bits unsigned");
  return n;
}

Napi::Value Big(Napi::Env env, uint64_t v) { return Napi::BigInt::New(env, v); }

Napi::Array TargetsToJs(Napi::Env env, const std::vector<Target>& ts) {
  Napi::Array a = Napi::Array::New(env, ts.size());
  for (size_t i = 0; i < ts.size(); i++) {
    Napi::Object t = Napi::Object::New(env);
    t.Set("start", Big(env, ts[i].start));
    t.Set("length", Big(env, ts[i].length));
    t.Set("type", ts[i].type);
    t.Set("params", ts[i].params);
    a.Set(static_cast<uint32_t>(i), t);
  }
  return a;
}

Napi::Array Version(Napi::Env env, const uint32_t v[3]) {
  Napi::Array a = Napi::Array::New(env, 3);
  for (uint32_t k = 0; k < 3; k++) a.Set(k, v[k]);
  return a;
}

unsigned Cmd(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "cmd must be a number");
  uint32_t cmd = info[0].As<Napi::Number>().Uint32Value();
  if (cmd >= kCommandCount) throw Napi::TypeError::New(info.Env(), "unknown dm command");
  return cmd;
}

// The request, parsed, with its buffers wiped on the way out when it was a secure one.
struct Call {
  unsigned cmd;
  Request req;
  IoctlOptions opt;
  std::string label;
  Reply reply;
  Outcome outcome;
  ~Call() {
    if (opt.secure) {
      req.Wipe();
      reply.Wipe();
    }
  }
};

void Parse(const Napi::CallbackInfo& info, Call* c) {
  c->cmd = Cmd(info);
  ParseRequest(info[1], &c->req, &c->opt);
  c->label = DeviceLabel(c->req);
}

void Execute(Call* c) {
  int fd = -1;
  if (int err = ControlFd(&fd)) {
    c->outcome.err = err;
    c->outcome.syscall = "open";
    return;
  }
  c->outcome = RunCaught(fd, c->cmd, c->req, c->opt, &c->reply);
}

Napi::Value DmIoctl(const Napi::CallbackInfo& info) {
  Call c;
  Parse(info, &c);
  Execute(&c);
  if (!c.outcome.ok()) throw OutcomeError(info.Env(), c.outcome, c.cmd, c.label);
  return ReplyToJs(info.Env(), c.reply);
}

Napi::Value DmIoctlAsync(const Napi::CallbackInfo& info) {
  auto call = std::make_shared<Call>();
  Parse(info, call.get());
  auto deferred = Napi::Promise::Deferred::New(info.Env());
  threads::Run(
      info.Env(), "dmIoctl", [call] { dm::Execute(call.get()); },
      [call, deferred](Napi::Env env) {
        if (call->outcome.ok())
          deferred.Resolve(ReplyToJs(env, call->reply));
        else
          deferred.Reject(OutcomeError(env, call->outcome, call->cmd, call->label).Value());
      });
  return deferred.Promise();
}

// Several ioctls back to back on one thread, stopping at the first failure: a freeze window
// (suspend ... resume) then has no JavaScript and no thread hop inside it.
struct Sequence {
  std::vector<std::unique_ptr<Call>> calls;
  size_t done = 0;
  double elapsedNs = 0;

  void Execute() {
    auto t0 = std::chrono::steady_clock::now();
    for (auto& c : calls) {
      dm::Execute(c.get());
      done++;
      if (!c->outcome.ok()) break;
    }
    elapsedNs = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
  }

  Napi::Object ToJs(Napi::Env env) const {
    Napi::Object out = Napi::Object::New(env);
    Napi::Array replies = Napi::Array::New(env);
    int failedAt = -1;
    for (size_t i = 0; i < done; i++) {
      const Call& c = *calls[i];
      if (c.outcome.ok()) {
        replies.Set(static_cast<uint32_t>(i), ReplyToJs(env, c.reply));
      } else {
        failedAt = static_cast<int>(i);
        out.Set("error", OutcomeError(env, c.outcome, c.cmd, c.label).Value());
      }
    }
    out.Set("replies", replies);
    out.Set("failedAt", failedAt);
    out.Set("elapsedNs", elapsedNs);
    return out;
  }
};

Napi::Value DmIoctlSequence(const Napi::CallbackInfo& info) {
  if (!info[0].IsArray()) throw Napi::TypeError::New(info.Env(), "steps must be an array of [cmd, request]");
  Napi::Array steps = info[0].As<Napi::Array>();
  auto seq = std::make_shared<Sequence>();
  for (uint32_t i = 0; i < steps.Length(); i++) {
    Napi::Value step = steps.Get(i);
    if (!step.IsArray()) throw Napi::TypeError::New(info.Env(), "each step must be [cmd, request]");
    Napi::Array pair = step.As<Napi::Array>();
    auto c = std::make_unique<Call>();
    Napi::Value cmd = pair.Get(0u);
    if (!cmd.IsNumber() || cmd.As<Napi::Number>().Uint32Value() >= kCommandCount)
      throw Napi::TypeError::New(info.Env(), "unknown dm command");
    c->cmd = cmd.As<Napi::Number>().Uint32Value();
    ParseRequest(pair.Get(1u), &c->req, &c->opt);
    c->label = DeviceLabel(c->req);
    seq->calls.push_back(std::move(c));
  }
  auto deferred = Napi::Promise::Deferred::New(info.Env());
  threads::Run(
      info.Env(), "dmIoctlSequence", [seq] { seq->Execute(); },
      [seq, deferred](Napi::Env env) { deferred.Resolve(seq->ToJs(env)); });
  return deferred.Promise();
}

Napi::Value DmEncode(const Napi::CallbackInfo& info) {
  Call c;
  Parse(info, &c);
  if (!info[2].IsNumber()) throw Napi::TypeError::New(info.Env(), "dataSize must be a number");
  double area = info[2].As<Napi::Number>().DoubleValue();
  if (!(area >= 0 && area <= 4294967295.0)) throw Napi::TypeError::New(info.Env(), "dataSize is out of range");
  try {
    std::vector<uint8_t> buf = Encode(c.cmd, c.req, static_cast<size_t>(area));
    Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::Copy(info.Env(), buf.data(), buf.size());
    if (c.opt.secure) Wipe(buf);
    return out;
  } catch (const EncodeError& e) {
    throw Napi::TypeError::New(info.Env(), e.what());
  }
}

Napi::Value DmDecode(const Napi::CallbackInfo& info) {
  unsigned cmd = Cmd(info);
  if (!info[1].IsBuffer()) throw Napi::TypeError::New(info.Env(), "reply must be a Buffer");
  auto b = info[1].As<Napi::Buffer<uint8_t>>();
  try {
    return ReplyToJs(info.Env(), Decode(cmd, b.Data(), b.Length()));
  } catch (const DecodeError& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

}  // namespace

int ControlFd(int* fd) {
  static std::mutex mu;
  static int cached = -1;
  std::lock_guard<std::mutex> lock(mu);
  if (cached < 0) {
    int err = OpenControl(&cached);
    if (err) return err;
  }
  *fd = cached;
  return 0;
}

void ParseRequest(const Napi::Value& v, Request* req, IoctlOptions* opt) {
  Napi::Env env = v.Env();
  if (!v.IsObject()) throw Napi::TypeError::New(env, "request must be an object");
  Napi::Object o = v.As<Napi::Object>();
  req->name = Str(o, "name");
  req->uuid = Str(o, "uuid");
  if (Has(o, "major") || Has(o, "minor")) {
    req->hasDev = true;
    req->major = U32(o, "major");
    req->minor = U32(o, "minor");
  }
  req->flags = U32(o, "flags");
  req->eventNr = U32(o, "eventNr");
  if (Has(o, "targets")) {
    Napi::Value tv = o.Get("targets");
    if (!tv.IsArray()) throw Napi::TypeError::New(env, "targets must be an array");
    Napi::Array a = tv.As<Napi::Array>();
    req->targets.reserve(a.Length());
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value e = a.Get(i);
      if (!e.IsObject()) throw Napi::TypeError::New(env, "each target must be an object");
      Napi::Object t = e.As<Napi::Object>();
      Target tg;
      tg.start = U64(env, t.Get("start"), "target start");
      tg.length = U64(env, t.Get("length"), "target length");
      tg.type = Str(t, "type");
      tg.params = Str(t, "params");
      req->targets.push_back(std::move(tg));
    }
  }
  if (Has(o, "newName")) req->newName = Str(o, "newName");
  if (Has(o, "message")) {
    Napi::Value mv = o.Get("message");
    if (!mv.IsObject()) throw Napi::TypeError::New(env, "message must be an object");
    Napi::Object m = mv.As<Napi::Object>();
    req->message = std::make_pair(U64(env, m.Get("sector"), "message sector"), Str(m, "text"));
  }
  if (Has(o, "geometry")) req->geometry = Str(o, "geometry");
  if (Has(o, "targetType")) req->targetType = Str(o, "targetType");
  opt->secure = o.Get("secure").ToBoolean().Value();
  opt->initialBufferSize = Size(o, "initialBufferSize", kDefaultInitialBuffer);
  opt->maxBufferSize = Size(o, "maxBufferSize", kDefaultMaxBuffer);
}

std::string DeviceLabel(const Request& req) {
  if (!req.name.empty()) return req.name;
  if (!req.uuid.empty()) return "uuid " + req.uuid;
  if (req.hasDev) return std::to_string(req.major) + ":" + std::to_string(req.minor);
  if (req.targetType) return "target " + *req.targetType;
  return std::string();
}

Napi::Object ReplyToJs(Napi::Env env, const Reply& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("version", Version(env, r.version));
  o.Set("flags", r.flags);
  o.Set("name", r.name);
  o.Set("uuid", r.uuid);
  o.Set("major", r.major);
  o.Set("minor", r.minor);
  o.Set("openCount", r.openCount);
  o.Set("eventNr", r.eventNr);
  o.Set("targetCount", r.targetCount);
  o.Set("dataSize", r.dataSize);
  o.Set("retries", r.retries);
  if (r.devices) {
    Napi::Array a = Napi::Array::New(env, r.devices->size());
    for (size_t i = 0; i < r.devices->size(); i++) {
      const Device& d = (*r.devices)[i];
      Napi::Object e = Napi::Object::New(env);
      e.Set("name", d.name);
      e.Set("major", d.major);
      e.Set("minor", d.minor);
      if (d.eventNr) e.Set("eventNr", *d.eventNr);
      if (d.uuid) e.Set("uuid", *d.uuid);
      a.Set(static_cast<uint32_t>(i), e);
    }
    o.Set("devices", a);
  }
  if (r.targets) o.Set("targets", TargetsToJs(env, *r.targets));
  if (r.deps) {
    Napi::Array a = Napi::Array::New(env, r.deps->size());
    for (size_t i = 0; i < r.deps->size(); i++) {
      Napi::Object e = Napi::Object::New(env);
      e.Set("major", (*r.deps)[i].first);
      e.Set("minor", (*r.deps)[i].second);
      a.Set(static_cast<uint32_t>(i), e);
    }
    o.Set("deps", a);
  }
  if (r.versions) {
    Napi::Array a = Napi::Array::New(env, r.versions->size());
    for (size_t i = 0; i < r.versions->size(); i++) {
      Napi::Object e = Napi::Object::New(env);
      e.Set("name", (*r.versions)[i].name);
      e.Set("version", Version(env, (*r.versions)[i].version));
      a.Set(static_cast<uint32_t>(i), e);
    }
    o.Set("versions", a);
  }
  if (r.message) o.Set("message", *r.message);
  return o;
}

Napi::Error OutcomeError(Napi::Env env, const Outcome& o, unsigned cmd, const std::string& label) {
  if (o.err) return ErrnoError(env, o.err, o.syscall, CommandName(cmd), label);
  std::string msg = std::string(CommandName(cmd)) + (label.empty() ? "" : " on " + label) + ": " + o.message;
  if (o.typeError) return Napi::TypeError::New(env, msg);
  return Napi::Error::New(env, msg);
}

}  // namespace dm

void InitDm(Napi::Env env, Napi::Object exports) {
  exports.Set("dmIoctl", Napi::Function::New(env, dm::DmIoctl, "dmIoctl"));
  exports.Set("dmIoctlAsync", Napi::Function::New(env, dm::DmIoctlAsync, "dmIoctlAsync"));
  exports.Set("dmIoctlSequence", Napi::Function::New(env, dm::DmIoctlSequence, "dmIoctlSequence"));
  exports.Set("dmEncode", Napi::Function::New(env, dm::DmEncode, "dmEncode"));
  exports.Set("dmDecode", Napi::Function::New(env, dm::DmDecode, "dmDecode"));
}
