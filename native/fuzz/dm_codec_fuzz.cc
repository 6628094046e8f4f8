// libFuzzer harness for the dm-ioctl reply decoder (native/dm_codec.*).
//
// The input is taken as-is as the buffer the kernel filled: header (version, data_size,
// data_start, flags, target_count, ...) and payload (name list, status list, deps, versions,
// message, with their `next` offsets). Every decoder entry point runs on it:
//   - dm::Decode for every command number (and one past the table), so one input reaches the
//     name-list, targets, deps, versions and message decoders alike;
//   - dm::PeekFlags and dm::DecodeDev.
// and the claims of native/dm_codec.h are checked, not just "did not crash":
//   - Decode never reads outside [buf, buf + len): libFuzzer hands us a heap copy of exactly
//     len bytes, so ASan reports any read past it. Decode is also run on a copy cut to exactly
//     data_size bytes, which must give the same answer: the payload lies within data_size.
//   - Decode throws DecodeError on anything malformed and nothing else (any other exception,
//     e.g. std::length_error or std::bad_alloc from a size taken from the buffer, aborts).
//   - a DM_BUFFER_FULL_FLAG reply decodes to its header only.
//   - decoded strings hold no NUL and respect the dm length limits.
//   - PeekFlags is 0 for a buffer too short to hold the flags word, else that word.
//   - Request::Wipe zeroes every string of a request (built from the input's bytes).
// Run through `npm run fuzz -- <seconds>` (scripts/ship/fuzz.js), which also feeds the seed
// corpus from dm_codec_seeds.
#include <linux/dm-ioctl.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <typeinfo>
#include <vector>

#include "dm_codec.h"

namespace {

constexpr unsigned kNoCmd = ~0u;

[[noreturn]] void Fail(const char* what, unsigned cmd) {
  if (cmd == kNoCmd)
    std::fprintf(stderr, "dm_codec_fuzz: claim violated: %s\n", what);
  else
    std::fprintf(stderr, "dm_codec_fuzz: claim violated for cmd %u (%s): %s\n", cmd, dm::CommandName(cmd), what);
  std::abort();
}

void CheckString(const std::string& s, size_t maxLen, const char* what, unsigned cmd) {
  if (s.find('\0') != std::string::npos) Fail(what, cmd);
  if (s.size() > maxLen) Fail(what, cmd);
}

template <typename T, typename Eq>
bool SameList(const std::vector<T>& a, const std::vector<T>& b, Eq eq) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++)
    if (!eq(a[i], b[i])) return false;
  return true;
}

bool SameTargets(const std::vector<dm::Target>& a, const std::vector<dm::Target>& b) {
  return SameList(a, b, [](const dm::Target& x, const dm::Target& y) {
    return x.start == y.start && x.length == y.length && x.status == y.status && x.type == y.type && x.params == y.params;
  });
}

bool SameDevices(const std::vector<dm::Device>& a, const std::vector<dm::Device>& b) {
  return SameList(a, b, [](const dm::Device& x, const dm::Device& y) {
    return x.name == y.name && x.major == y.major && x.minor == y.minor && x.eventNr == y.eventNr && x.uuid == y.uuid;
  });
}

bool SameVersions(const std::vector<dm::TargetVersion>& a, const std::vector<dm::TargetVersion>& b) {
  return SameList(a, b, [](const dm::TargetVersion& x, const dm::TargetVersion& y) {
    return x.name == y.name && std::memcmp(x.version, y.version, sizeof x.version) == 0;
  });
}

template <typename T, typename Eq>
bool SameOpt(const std::optional<T>& a, const std::optional<T>& b, Eq eq) {
  if (a.has_value() != b.has_value()) return false;
  return !a || eq(*a, *b);
}

// Everything but dataSize, which is the capacity of the buffer and so differs by design.
bool SameReply(const dm::Reply& a, const dm::Reply& b) {
  return std::memcmp(a.version, b.version, sizeof a.version) == 0 && a.flags == b.flags && a.name == b.name &&
         a.uuid == b.uuid && a.major == b.major && a.minor == b.minor && a.openCount == b.openCount &&
         a.eventNr == b.eventNr && a.targetCount == b.targetCount && SameOpt(a.devices, b.devices, SameDevices) &&
         SameOpt(a.targets, b.targets, SameTargets) && SameOpt(a.versions, b.versions, SameVersions) &&
         SameOpt(a.deps, b.deps, [](const auto& x, const auto& y) { return x == y; }) &&
         SameOpt(a.message, b.message, [](const auto& x, const auto& y) { return x == y; });
}

// Decodes, enforcing "throws DecodeError and nothing else". Returns false when it threw.
bool TryDecode(unsigned cmd, const uint8_t* buf, size_t len, dm::Reply* out) {
  try {
    *out = dm::Decode(cmd, buf, len);
    return true;
  } catch (const dm::DecodeError&) {
    return false;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dm_codec_fuzz: Decode threw %s, not DecodeError: %s\n", typeid(e).name(), e.what());
    Fail("Decode throws only DecodeError", cmd);
  } catch (...) {
    Fail("Decode throws only DecodeError", cmd);
  }
}

void CheckReply(unsigned cmd, const dm::Reply& r) {
  CheckString(r.name, DM_NAME_LEN - 1, "header name", cmd);
  CheckString(r.uuid, DM_UUID_LEN - 1, "header uuid", cmd);
  if (r.flags & DM_BUFFER_FULL_FLAG) {
    if (r.devices || r.targets || r.deps || r.versions || r.message)
      Fail("a DM_BUFFER_FULL_FLAG reply decodes to its header only", cmd);
  }
  if (r.devices)
    for (const dm::Device& d : *r.devices) {
      CheckString(d.name, DM_NAME_LEN - 1, "device name", cmd);
      if (d.uuid) CheckString(*d.uuid, DM_UUID_LEN - 1, "device uuid", cmd);
    }
  if (r.targets) {
    if (r.targets->size() != r.targetCount) Fail("target list has target_count entries", cmd);
    for (const dm::Target& t : *r.targets) {
      CheckString(t.type, DM_MAX_TYPE_NAME - 1, "target type", cmd);
      CheckString(t.params, SIZE_MAX, "target params", cmd);
    }
  }
  if (r.versions)
    for (const dm::TargetVersion& v : *r.versions) CheckString(v.name, SIZE_MAX, "target name", cmd);
  if (r.message) CheckString(*r.message, SIZE_MAX, "message", cmd);
}

bool AllZero(const std::string& s) {
  for (char c : s)
    if (c != 0) return false;
  return true;
}

// dm_codec.h: Request::Wipe "zeroes every string this request holds". The strings are cut from
// the input, so they take every length and content.
void CheckRequestWipe(const uint8_t* data, size_t size) {
  size_t at = 0;
  auto piece = [&](size_t max) {
    const size_t n = size - at < max ? size - at : max;
    std::string s(reinterpret_cast<const char*>(data + at), n);
    at += n;
    return s;
  };
  dm::Request req;
  req.name = piece(40);
  req.uuid = piece(40);
  for (int i = 0; i < 2; i++) {
    dm::Target t;
    t.type = piece(12);
    t.params = piece(64);
    req.targets.push_back(std::move(t));
  }
  req.newName = piece(24);
  req.message = std::make_pair(uint64_t{0}, piece(48));
  req.geometry = piece(16);
  req.targetType = piece(12);
  req.Wipe();
  bool zero = AllZero(req.name) && AllZero(req.uuid) && AllZero(*req.newName) && AllZero(req.message->second) &&
              AllZero(*req.geometry) && AllZero(*req.targetType);
  for (const dm::Target& t : req.targets) zero = zero && AllZero(t.type) && AllZero(t.params);
  if (!zero) Fail("Request::Wipe zeroes every string the request holds", kNoCmd);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // PeekFlags: 0 when the buffer cannot hold the flags word, else that word.
  {
    const std::vector<uint8_t> v(data, data + size);
    const uint32_t got = dm::PeekFlags(v);
    uint32_t want = 0;
    if (size >= offsetof(struct dm_ioctl, flags) + 4) std::memcpy(&want, data + offsetof(struct dm_ioctl, flags), 4);
    if (got != want) Fail("PeekFlags returns the flags word or 0", kNoCmd);
  }
  // DecodeDev must invert EncodeDev for every 20-bit minor / 12-bit major (huge_encode_dev).
  if (size >= 8) {
    uint64_t dev;
    std::memcpy(&dev, data, 8);
    uint32_t ma, mi;
    dm::DecodeDev(dev, &ma, &mi);
    uint32_t ma2, mi2;
    dm::DecodeDev(dm::EncodeDev(ma, mi), &ma2, &mi2);
    if (ma != ma2 || mi != mi2) Fail("DecodeDev(EncodeDev(x)) == x", kNoCmd);
  }
  CheckRequestWipe(data, size);
  // A null buffer is refused, whatever the length.
  {
    dm::Reply r;
    if (TryDecode(0, nullptr, size, &r)) Fail("a null buffer is refused", 0);
  }

  uint32_t dataSize = 0;
  if (size >= offsetof(struct dm_ioctl, data_size) + 4)
    std::memcpy(&dataSize, data + offsetof(struct dm_ioctl, data_size), 4);
  const bool cut = dataSize < size && dataSize >= offsetof(struct dm_ioctl, data);
  // The copy cut at data_size: an exact-size heap block, so ASan also catches reads between
  // data_size and len.
  uint8_t* exact = nullptr;
  if (cut) {
    exact = static_cast<uint8_t*>(std::malloc(dataSize));
    std::memcpy(exact, data, dataSize);
  }

  for (unsigned cmd = 0; cmd <= dm::kCommandCount; cmd++) {
    dm::Reply r;
    const bool ok = TryDecode(cmd, data, size, &r);
    if (ok) {
      CheckReply(cmd, r);
      if (r.dataSize > size) Fail("dataSize within the buffer", cmd);
    }
    if (cut) {
      dm::Reply r2;
      const bool ok2 = TryDecode(cmd, exact, dataSize, &r2);
      if (ok != ok2) Fail("decoding depends only on the first data_size bytes (outcome differs)", cmd);
      if (ok && !SameReply(r, r2)) Fail("decoding depends only on the first data_size bytes (reply differs)", cmd);
    }
    // Secure replies are wiped in place; that must stay within the strings it decoded.
    if (ok) r.Wipe();
  }
  std::free(exact);
  return 0;
}
