#include "dm_codec.h"

#include <linux/dm-ioctl.h>
#include <string.h>

#include <cstddef>
#include <cstring>

namespace dm {

namespace {

constexpr size_t kHeader = sizeof(struct dm_ioctl);
// The kernel writes back at least this much (it resets data_size to it for replies that carry
// no payload), so a reply may legitimately report a data_size below sizeof(struct dm_ioctl).
constexpr size_t kMinReply = offsetof(struct dm_ioctl, data);
constexpr size_t kSpec = sizeof(struct dm_target_spec);
constexpr size_t kNameListHead = offsetof(struct dm_name_list, name);
constexpr size_t kVersionsHead = offsetof(struct dm_target_versions, name);
constexpr size_t kMsgHead = offsetof(struct dm_target_msg, message);
constexpr size_t kDepsHead = offsetof(struct dm_target_deps, dev);

const char* const kNames[kCommandCount] = {
    "VERSION",      "REMOVE_ALL",   "LIST_DEVICES",  "DEV_CREATE",    "DEV_REMOVE",
    "DEV_RENAME",   "DEV_SUSPEND",  "DEV_STATUS",    "DEV_WAIT",      "TABLE_LOAD",
    "TABLE_CLEAR",  "TABLE_DEPS",   "TABLE_STATUS",  "LIST_VERSIONS", "TARGET_MSG",
    "DEV_SET_GEOMETRY", "DEV_ARM_POLL", "GET_TARGET_VERSION",
};

size_t Align8(size_t v) { return (v + 7) & ~size_t{7}; }

void CheckString(const std::string& s, const char* what, size_t maxLen) {
  if (s.find('\0') != std::string::npos) throw EncodeError(std::string(what) + " contains a NUL byte");
  if (s.size() > maxLen)
    throw EncodeError(std::string(what) + " is longer than " + std::to_string(maxLen) + " bytes");
}

template <typename T>
void Put(std::vector<uint8_t>& buf, size_t off, T v) {
  std::memcpy(buf.data() + off, &v, sizeof v);
}

void PutString(std::vector<uint8_t>& buf, size_t off, const std::string& s) {
  std::memcpy(buf.data() + off, s.data(), s.size());
  buf[off + s.size()] = 0;
}

// Every access to the reply goes through here: offsets are absolute (from the start of the
// dm_ioctl struct, which is also what the kernel aligns against) and checked against `end`.
class Reader {
 public:
  Reader(const uint8_t* buf, size_t end) : buf_(buf), end_(end) {}

  bool Fits(size_t off, size_t n) const { return off <= end_ && n <= end_ - off; }

  void Need(size_t off, size_t n, const char* what) const {
    if (!Fits(off, n))
      throw DecodeError(std::string("malformed dm reply: ") + what + " at offset " + std::to_string(off) +
                        " runs past the end of the reply (" + std::to_string(end_) + " bytes)");
  }

  template <typename T>
  T Get(size_t off, const char* what) const {
    Need(off, sizeof(T), what);
    T v;
    std::memcpy(&v, buf_ + off, sizeof v);
    return v;
  }

  // A NUL-terminated string that must end inside [off, off + maxLen) and inside the reply.
  // Returns it and stores the offset just past its terminator in *after.
  std::string Str(size_t off, size_t maxLen, const char* what, size_t* after = nullptr) const {
    if (off > end_) Need(off, 1, what);
    size_t avail = end_ - off;
    size_t span = avail < maxLen ? avail : maxLen;
    const void* nul = std::memchr(buf_ + off, 0, span);
    if (!nul)
      throw DecodeError(std::string("malformed dm reply: ") + what + " at offset " + std::to_string(off) +
                        " has no NUL terminator within " + std::to_string(span) + " bytes");
    size_t len = static_cast<const uint8_t*>(nul) - (buf_ + off);
    if (after) *after = off + len + 1;
    return std::string(reinterpret_cast<const char*>(buf_ + off), len);
  }

  size_t end() const { return end_; }

 private:
  const uint8_t* buf_;
  size_t end_;
};

// A chain offset must move strictly forward, past what the current record occupies.
size_t Advance(const Reader& r, size_t from, size_t next, size_t minEnd, const char* what) {
  if (next > r.end() - from || from + next < minEnd)
    throw DecodeError(std::string("malformed dm reply: ") + what + " offset " + std::to_string(next) +
                      " at " + std::to_string(from) +
                      (from + next < minEnd ? " does not advance past the record" : " points past the end"));
  return from + next;
}

size_t EncodedTargetsSize(const std::vector<Target>& targets) {
  size_t total = 0;
  for (const Target& t : targets) total += kSpec + Align8(t.params.size() + 1);
  return total;
}

void EncodeTargets(std::vector<uint8_t>& buf, size_t off, const std::vector<Target>& targets) {
  for (const Target& t : targets) {
    // In a request `next` is relative to THIS spec (in a reply it is relative to the data area).
    const size_t size = kSpec + Align8(t.params.size() + 1);
    Put<uint64_t>(buf, off + offsetof(struct dm_target_spec, sector_start), t.start);
    Put<uint64_t>(buf, off + offsetof(struct dm_target_spec, length), t.length);
    Put<int32_t>(buf, off + offsetof(struct dm_target_spec, status), 0);
    Put<uint32_t>(buf, off + offsetof(struct dm_target_spec, next), static_cast<uint32_t>(size));
    PutString(buf, off + offsetof(struct dm_target_spec, target_type), t.type);
    PutString(buf, off + kSpec, t.params);
    off += size;
  }
}

std::vector<Device> DecodeNameList(const Reader& r, size_t base, const Reply& hdr) {
  std::vector<Device> out;
  // An empty list is a zero-length payload, or a first record whose dev is 0 ("no data").
  if (r.end() <= base) return out;
  if (r.Get<uint64_t>(base, "name list head") == 0) return out;
  // libdm trusts the trailing event_nr/flags only from interface 4.38 on; so do we.
  const bool hasEventNr = hdr.version[0] > 4 || (hdr.version[0] == 4 && hdr.version[1] >= 38);
  for (size_t off = base;;) {
    r.Need(off, kNameListHead, "name list record");
    Device d;
    DecodeDev(r.Get<uint64_t>(off + offsetof(struct dm_name_list, dev), "name list dev"), &d.major, &d.minor);
    const uint32_t next = r.Get<uint32_t>(off + offsetof(struct dm_name_list, next), "name list next");
    // The last record has next == 0, so its fields are bounded by the reply itself.
    size_t end = off + kNameListHead;
    d.name = r.Str(end, DM_NAME_LEN, "device name", &end);
    if (hasEventNr) {
      const size_t p = Align8(end);
      d.eventNr = r.Get<uint32_t>(p, "name list event_nr");
      const uint32_t flags = r.Get<uint32_t>(p + 4, "name list flags");
      end = p + 8;
      if (flags & DM_NAME_LIST_FLAG_HAS_UUID) d.uuid = r.Str(Align8(end), DM_UUID_LEN, "device uuid", &end);
    }
    out.push_back(std::move(d));
    if (next == 0) break;
    off = Advance(r, off, next, end, "name list next");
  }
  return out;
}

std::vector<Target> DecodeTargets(const Reader& r, size_t base, uint32_t count) {
  std::vector<Target> out;
  size_t off = base;
  for (uint32_t i = 0; i < count; i++) {
    r.Need(off, kSpec, "target spec");
    Target t;
    t.start = r.Get<uint64_t>(off + offsetof(struct dm_target_spec, sector_start), "target start");
    t.length = r.Get<uint64_t>(off + offsetof(struct dm_target_spec, length), "target length");
    t.status = r.Get<int32_t>(off + offsetof(struct dm_target_spec, status), "target status");
    const uint32_t next = r.Get<uint32_t>(off + offsetof(struct dm_target_spec, next), "target next");
    t.type = r.Str(off + offsetof(struct dm_target_spec, target_type), DM_MAX_TYPE_NAME, "target type");
    size_t end = 0;
    t.params = r.Str(off + kSpec, r.end(), "target parameters", &end);
    out.push_back(std::move(t));
    if (i + 1 == count) break;
    // In a reply `next` counts from the start of the data area, not from this spec.
    if (next > r.end() - base || base + next < end)
      throw DecodeError("malformed dm reply: target next offset " + std::to_string(next) + " of target " +
                        std::to_string(i) +
                        (base + next < end ? " does not advance past the target" : " points past the end"));
    off = base + next;
  }
  return out;
}

std::vector<std::pair<uint32_t, uint32_t>> DecodeDeps(const Reader& r, size_t base) {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  if (r.end() <= base) return out;  // no table: the kernel wrote no payload
  const uint32_t count = r.Get<uint32_t>(base + offsetof(struct dm_target_deps, count), "deps count");
  const size_t first = base + kDepsHead;
  r.Need(first, 0, "deps array");
  if (count > (r.end() - first) / sizeof(uint64_t))
    throw DecodeError("malformed dm reply: deps count " + std::to_string(count) + " does not fit in the reply");
  for (uint32_t i = 0; i < count; i++) {
    uint32_t ma, mi;
    DecodeDev(r.Get<uint64_t>(first + i * sizeof(uint64_t), "deps dev"), &ma, &mi);
    out.emplace_back(ma, mi);
  }
  return out;
}

std::vector<TargetVersion> DecodeVersions(const Reader& r, size_t base) {
  std::vector<TargetVersion> out;
  if (r.end() <= base) return out;
  for (size_t off = base;;) {
    r.Need(off, kVersionsHead, "target version record");
    TargetVersion v;
    const uint32_t next = r.Get<uint32_t>(off + offsetof(struct dm_target_versions, next), "version next");
    for (int k = 0; k < 3; k++)
      v.version[k] = r.Get<uint32_t>(off + offsetof(struct dm_target_versions, version) + 4 * k, "version");
    size_t end = 0;
    v.name = r.Str(off + kVersionsHead, r.end(), "target name", &end);
    out.push_back(std::move(v));
    if (next == 0) break;
    off = Advance(r, off, next, end, "target version next");
  }
  return out;
}

// The header both encoders write; `out` is zeroed and kHeader bytes long.
void PutHeader(const Request& req, uint32_t dataSize, struct dm_ioctl* out) {
  out->version[0] = DM_VERSION_MAJOR;
  out->data_size = dataSize;
  out->data_start = kHeader;
  out->target_count = static_cast<uint32_t>(req.targets.size());
  out->flags = req.flags;
  out->event_nr = req.eventNr;
  if (req.hasDev) out->dev = EncodeDev(req.major, req.minor);
  const std::string& name = req.targetType ? *req.targetType : req.name;
  std::memcpy(out->name, name.data(), name.size());
  std::memcpy(out->uuid, req.uuid.data(), req.uuid.size());
}

}  // namespace

const char* CommandName(unsigned cmd) { return cmd < kCommandCount ? kNames[cmd] : "UNKNOWN"; }

uint64_t EncodeDev(uint32_t major, uint32_t minor) {
  // The kernel's huge_encode_dev/new_encode_dev.
  return (uint64_t{minor} & 0xff) | (uint64_t{major} << 8) | ((uint64_t{minor} & ~uint64_t{0xff}) << 12);
}

void DecodeDev(uint64_t dev, uint32_t* major, uint32_t* minor) {
  *major = static_cast<uint32_t>((dev & 0xfff00) >> 8);
  *minor = static_cast<uint32_t>((dev & 0xff) | ((dev >> 12) & 0xfff00));
}

void Wipe(void* p, size_t n) {
  if (p && n) explicit_bzero(p, n);
}
void Wipe(std::string& s) { Wipe(s.data(), s.size()); }
void Wipe(std::vector<uint8_t>& v) { Wipe(v.data(), v.size()); }

void Request::Wipe() {
  dm::Wipe(name);
  dm::Wipe(uuid);
  for (Target& t : targets) {
    dm::Wipe(t.type);
    dm::Wipe(t.params);
  }
  if (newName) dm::Wipe(*newName);
  if (message) dm::Wipe(message->second);
  if (geometry) dm::Wipe(*geometry);
  if (targetType) dm::Wipe(*targetType);
}

void Reply::Wipe() {
  if (targets)
    for (Target& t : *targets) dm::Wipe(t.params);
  if (message) dm::Wipe(*message);
}

std::vector<uint8_t> Encode(unsigned cmd, const Request& req, size_t dataAreaSize) {
  if (cmd >= kCommandCount) throw EncodeError("unknown dm command " + std::to_string(cmd));
  CheckString(req.name, "name", DM_NAME_LEN - 1);
  CheckString(req.uuid, "uuid", DM_UUID_LEN - 1);
  if (req.targetType) {
    CheckString(*req.targetType, "target type", DM_NAME_LEN - 1);
    if (!req.name.empty()) throw EncodeError("GET_TARGET_VERSION carries the target type in the name field");
  }
  int payloads = !req.targets.empty() + !!req.newName + !!req.message + !!req.geometry;
  if (payloads > 1) throw EncodeError("a request carries at most one of targets, newName, message, geometry");
  for (const Target& t : req.targets) {
    if (t.type.empty()) throw EncodeError("target type is empty");
    CheckString(t.type, "target type", DM_MAX_TYPE_NAME - 1);
    CheckString(t.params, "target parameters", UINT32_MAX);
  }
  if (req.newName) CheckString(*req.newName, "new name", DM_UUID_LEN - 1);
  if (req.message) CheckString(req.message->second, "message", UINT32_MAX);
  if (req.geometry) CheckString(*req.geometry, "geometry", UINT32_MAX);

  size_t payload = EncodedTargetsSize(req.targets);
  if (req.newName) payload = req.newName->size() + 1;
  if (req.message) payload = kMsgHead + req.message->second.size() + 1;
  if (req.geometry) payload = req.geometry->size() + 1;
  const size_t area = payload > dataAreaSize ? payload : dataAreaSize;
  if (area > UINT32_MAX - kHeader) throw EncodeError("request does not fit in a dm-ioctl buffer (4 GiB)");

  std::vector<uint8_t> buf(kHeader + area, 0);
  PutHeader(req, static_cast<uint32_t>(buf.size()), reinterpret_cast<struct dm_ioctl*>(buf.data()));
  EncodeTargets(buf, kHeader, req.targets);
  if (req.newName) PutString(buf, kHeader, *req.newName);
  if (req.geometry) PutString(buf, kHeader, *req.geometry);
  if (req.message) {
    Put<uint64_t>(buf, kHeader + offsetof(struct dm_target_msg, sector), req.message->first);
    PutString(buf, kHeader + kMsgHead, req.message->second);
  }
  return buf;
}

void EncodeHeaderOnly(unsigned cmd, const Request& req, struct dm_ioctl* out) {
  if (cmd >= kCommandCount) throw EncodeError("unknown dm command " + std::to_string(cmd));
  CheckString(req.name, "name", DM_NAME_LEN - 1);
  CheckString(req.uuid, "uuid", DM_UUID_LEN - 1);
  if (!req.targets.empty() || req.newName || req.message || req.geometry || req.targetType)
    throw EncodeError("a header-only request carries no payload");
  std::memset(out, 0, kHeader);
  PutHeader(req, kHeader, out);
}

uint32_t PeekFlags(const std::vector<uint8_t>& buf) {
  uint32_t flags = 0;
  if (buf.size() >= offsetof(struct dm_ioctl, flags) + sizeof flags)
    std::memcpy(&flags, buf.data() + offsetof(struct dm_ioctl, flags), sizeof flags);
  return flags;
}

Reply Decode(unsigned cmd, const uint8_t* buf, size_t len) {
  if (!buf || len < kMinReply)
    throw DecodeError("malformed dm reply: " + std::to_string(len) + " bytes is shorter than the dm_ioctl header (" +
                      std::to_string(kMinReply) + ")");
  struct dm_ioctl h;
  std::memset(&h, 0, sizeof h);
  std::memcpy(&h, buf, len < kHeader ? len : kHeader);
  if (h.data_size > len)
    throw DecodeError("malformed dm reply: data_size " + std::to_string(h.data_size) + " is larger than the buffer (" +
                      std::to_string(len) + " bytes)");
  if (h.data_size < kMinReply)
    throw DecodeError("malformed dm reply: data_size " + std::to_string(h.data_size) + " is smaller than the header");
  if (h.data_start < kMinReply)
    throw DecodeError("malformed dm reply: data_start " + std::to_string(h.data_start) + " points into the header");
  if (h.version[0] != DM_VERSION_MAJOR)
    throw DecodeError("malformed dm reply: interface major version " + std::to_string(h.version[0]) + ", expected 4");

  const Reader r(buf, h.data_size);
  Reply out;
  for (int k = 0; k < 3; k++) out.version[k] = h.version[k];
  out.flags = h.flags;
  out.name = Reader(buf, kMinReply).Str(offsetof(struct dm_ioctl, name), DM_NAME_LEN, "device name");
  out.uuid = Reader(buf, kMinReply).Str(offsetof(struct dm_ioctl, uuid), DM_UUID_LEN, "device uuid");
  DecodeDev(h.dev, &out.major, &out.minor);
  out.openCount = h.open_count;
  out.eventNr = h.event_nr;
  out.targetCount = h.target_count;
  out.dataSize = len > h.data_start ? static_cast<uint32_t>(len - h.data_start) : 0;
  if (h.flags & DM_BUFFER_FULL_FLAG) return out;

  const size_t base = h.data_start;
  switch (cmd) {
    case DM_LIST_DEVICES_CMD:
      out.devices = DecodeNameList(r, base, out);
      break;
    case DM_TABLE_STATUS_CMD:
    case DM_DEV_WAIT_CMD:
      out.targets = DecodeTargets(r, base, h.target_count);
      break;
    case DM_TABLE_DEPS_CMD:
      out.deps = DecodeDeps(r, base);
      break;
    case DM_LIST_VERSIONS_CMD:
    case DM_GET_TARGET_VERSION_CMD:
      out.versions = DecodeVersions(r, base);
      break;
    case DM_TARGET_MSG_CMD:
      if (h.flags & DM_DATA_OUT_FLAG) {
        r.Need(base, 1, "message output");
        out.message = r.Str(base, r.end(), "message output");
      }
      break;
    default:
      break;
  }
  return out;
}

}  // namespace dm
