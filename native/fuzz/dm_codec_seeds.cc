// Writes the seed corpus for dm_codec_fuzz: well-formed dm-ioctl replies laid out the way the
// kernel's drivers/md/dm-ioctl.c writes them (list_devices, retrieve_status, retrieve_deps,
// list_version_get_info, target_message), one file per reply, for every payload the decoder
// knows. Each seed is decoded once here and must decode to what was written, so the corpus
// starts deep inside every decoder rather than at its first bounds check.
//
//   dm_codec_seeds <output-dir>
#include <linux/dm-ioctl.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "dm_codec.h"

namespace {

size_t Align8(size_t v) { return (v + 7) & ~size_t{7}; }

// A reply buffer: the header at 0, the payload written at absolute offsets from data_start on.
struct Reply {
  std::vector<uint8_t> b;
  size_t start;

  explicit Reply(uint32_t minor = 48, size_t dataStart = sizeof(struct dm_ioctl)) : b(dataStart, 0), start(dataStart) {
    auto* h = reinterpret_cast<struct dm_ioctl*>(b.data());
    h->version[0] = 4;
    h->version[1] = minor;
    h->version[2] = 0;
    h->data_start = static_cast<uint32_t>(dataStart);
    std::strcpy(h->name, "vg0-data");
    std::strcpy(h->uuid, "LVM-abcdefghijklmnopqrstuvwxyz0123456789");
    h->dev = dm::EncodeDev(253, 3);
    h->open_count = 1;
    h->event_nr = 7;
  }
  struct dm_ioctl* hdr() { return reinterpret_cast<struct dm_ioctl*>(b.data()); }
  void Grow(size_t end) {
    if (b.size() < end) b.resize(end, 0);
  }
  template <typename T>
  void Put(size_t off, T v) {
    Grow(off + sizeof v);
    std::memcpy(b.data() + off, &v, sizeof v);
  }
  // Returns the offset just past the NUL.
  size_t Str(size_t off, const std::string& s) {
    Grow(off + s.size() + 1);
    std::memcpy(b.data() + off, s.data(), s.size());
    b[off + s.size()] = 0;
    return off + s.size() + 1;
  }
  // data_size covers what was written plus `slack` bytes of free space, as the kernel reports it.
  std::vector<uint8_t> Done(uint32_t flags = 0, size_t slack = 0) {
    Grow(b.size() + slack);
    hdr()->flags |= flags;
    hdr()->data_size = static_cast<uint32_t>(b.size());
    return b;
  }
};

struct Dev {
  std::string name;
  uint32_t major, minor, eventNr;
  const char* uuid;  // nullptr: DM_NAME_LIST_FLAG_DOESNT_HAVE_UUID
};

std::vector<uint8_t> NameList(uint32_t minorVersion, const std::vector<Dev>& devs) {
  Reply r(minorVersion);
  size_t off = r.start, prev = 0;
  bool first = true;
  for (const Dev& d : devs) {
    if (!first) r.Put<uint32_t>(prev + offsetof(struct dm_name_list, next), static_cast<uint32_t>(off - prev));
    first = false;
    r.Put<uint64_t>(off + offsetof(struct dm_name_list, dev), dm::EncodeDev(d.major, d.minor));
    r.Put<uint32_t>(off + offsetof(struct dm_name_list, next), 0);
    size_t end = r.Str(off + offsetof(struct dm_name_list, name), d.name);
    if (minorVersion >= 38) {
      const size_t ev = Align8(end);
      r.Put<uint32_t>(ev, d.eventNr);
      r.Put<uint32_t>(ev + 4, d.uuid ? DM_NAME_LIST_FLAG_HAS_UUID : DM_NAME_LIST_FLAG_DOESNT_HAVE_UUID);
      end = Align8(ev + 8);
      if (d.uuid) end = r.Str(end, d.uuid);
    }
    prev = off;
    off = Align8(end);
  }
  if (devs.empty()) r.Put<uint64_t>(r.start, 0);  // the kernel's "no devices" record
  return r.Done(0, 64);
}

struct Tgt {
  uint64_t start, length;
  std::string type, status;
};

// TABLE_STATUS / DEV_WAIT: specs whose next counts from the start of the data area.
std::vector<uint8_t> Status(const std::vector<Tgt>& ts, size_t dataStart = sizeof(struct dm_ioctl)) {
  Reply r(48, dataStart);
  size_t off = r.start;
  for (const Tgt& t : ts) {
    r.Put<uint64_t>(off + offsetof(struct dm_target_spec, sector_start), t.start);
    r.Put<uint64_t>(off + offsetof(struct dm_target_spec, length), t.length);
    r.Put<int32_t>(off + offsetof(struct dm_target_spec, status), 0);
    r.Str(off + offsetof(struct dm_target_spec, target_type), t.type);
    const size_t end = r.Str(off + sizeof(struct dm_target_spec), t.status);
    const size_t next = Align8(end);
    r.Put<uint32_t>(off + offsetof(struct dm_target_spec, next), static_cast<uint32_t>(next - r.start));
    off = next;
  }
  r.hdr()->target_count = static_cast<uint32_t>(ts.size());
  return r.Done(DM_ACTIVE_PRESENT_FLAG, 32);
}

std::vector<uint8_t> Deps(const std::vector<std::pair<uint32_t, uint32_t>>& devs) {
  Reply r;
  r.Put<uint32_t>(r.start + offsetof(struct dm_target_deps, count), static_cast<uint32_t>(devs.size()));
  r.Put<uint32_t>(r.start + offsetof(struct dm_target_deps, padding), 0);
  size_t off = r.start + offsetof(struct dm_target_deps, dev);
  for (const auto& d : devs) {
    r.Put<uint64_t>(off, dm::EncodeDev(d.first, d.second));
    off += 8;
  }
  r.hdr()->target_count = 1;
  return r.Done(DM_ACTIVE_PRESENT_FLAG, 16);
}

struct Ver {
  std::string name;
  uint32_t v[3];
};

// LIST_VERSIONS / GET_TARGET_VERSION: records whose next counts from the record itself.
std::vector<uint8_t> Versions(const std::vector<Ver>& vs) {
  Reply r;
  std::strcpy(r.hdr()->name, "");
  size_t off = r.start, prev = 0;
  bool first = true;
  for (const Ver& v : vs) {
    if (!first) r.Put<uint32_t>(prev + offsetof(struct dm_target_versions, next), static_cast<uint32_t>(off - prev));
    first = false;
    r.Put<uint32_t>(off + offsetof(struct dm_target_versions, next), 0);
    for (int k = 0; k < 3; k++) r.Put<uint32_t>(off + offsetof(struct dm_target_versions, version) + 4 * k, v.v[k]);
    const size_t end = r.Str(off + offsetof(struct dm_target_versions, name), v.name);
    prev = off;
    off = Align8(end);
  }
  return r.Done(0, 24);
}

std::vector<uint8_t> Message(const std::string& out) {
  Reply r;
  r.Str(r.start, out);
  return r.Done(DM_DATA_OUT_FLAG, 8);
}

std::vector<uint8_t> HeaderOnly(uint32_t flags, size_t slack, bool shortDataSize) {
  Reply r;
  auto v = r.Done(flags, slack);
  // The kernel resets data_size to offsetof(struct dm_ioctl, data) for payload-less replies.
  if (shortDataSize) reinterpret_cast<struct dm_ioctl*>(v.data())->data_size = offsetof(struct dm_ioctl, data);
  return v;
}

int failures = 0;

void Expect(bool ok, const std::string& name, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "dm_codec_seeds: seed %s does not decode as written: %s\n", name.c_str(), what);
    failures++;
  }
}

void Write(const std::string& dir, const std::string& name, const std::vector<uint8_t>& b) {
  const std::string path = dir + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(b.data(), 1, b.size(), f) != b.size() || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::exit(2);
  }
}

// Writes the seed and checks it decodes for `cmd` as expected (`check` inspects the Reply).
template <typename Check>
void Seed(const std::string& dir, const std::string& name, unsigned cmd, const std::vector<uint8_t>& b, Check check) {
  try {
    const dm::Reply r = dm::Decode(cmd, b.data(), b.size());
    check(r);
  } catch (const std::exception& e) {
    Expect(false, name, e.what());
  }
  Write(dir, name, b);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <output-dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  int n = 0;
  auto seed = [&](const std::string& name, unsigned cmd, const std::vector<uint8_t>& b, auto check) {
    Seed(dir, name, cmd, b, check);
    n++;
  };

  seed("version", DM_VERSION_CMD, HeaderOnly(0, 0, true), [&](const dm::Reply& r) {
    Expect(r.version[0] == 4 && r.name == "vg0-data" && r.major == 253 && r.minor == 3, "version", "header");
  });
  seed("dev_status", DM_DEV_STATUS_CMD, HeaderOnly(DM_ACTIVE_PRESENT_FLAG, 64, false),
       [&](const dm::Reply& r) { Expect(r.openCount == 1 && r.eventNr == 7, "dev_status", "header"); });
  seed("buffer_full", DM_TABLE_STATUS_CMD, HeaderOnly(DM_BUFFER_FULL_FLAG, 16, false),
       [&](const dm::Reply& r) { Expect(!r.targets, "buffer_full", "payload ignored"); });

  const std::vector<Dev> devs = {
      {"vg0-root", 253, 0, 1, "LVM-0123456789abcdef0123456789abcdefROOTROOTROOTROOTROOTROOTROOT"},
      {"crypt", 253, 1, 12, nullptr},
      {"mpatha", 253, 300, 4, "mpath-3600508b400105e210000900000490000"},
  };
  for (uint32_t minor : {37u, 48u}) {
    const std::string tag = std::to_string(minor);
    seed("names_empty_4." + tag, DM_LIST_DEVICES_CMD, NameList(minor, {}),
         [&](const dm::Reply& r) { Expect(r.devices && r.devices->empty(), "names_empty", "empty"); });
    seed("names_one_4." + tag, DM_LIST_DEVICES_CMD, NameList(minor, {devs[0]}),
         [&](const dm::Reply& r) { Expect(r.devices && r.devices->size() == 1, "names_one", "count"); });
    seed("names_three_4." + tag, DM_LIST_DEVICES_CMD, NameList(minor, devs), [&](const dm::Reply& r) {
      Expect(r.devices && r.devices->size() == 3 && (*r.devices)[2].minor == 300, "names_three", "count/minor");
      if (minor >= 38 && r.devices && r.devices->size() == 3)
        Expect((*r.devices)[0].uuid && !(*r.devices)[1].uuid && (*r.devices)[1].eventNr == 12u, "names_three",
               "uuid/event_nr");
    });
  }

  const std::vector<Tgt> tgts = {
      {0, 2048, "linear", "8:16 2048"},
      {2048, 4096, "striped", "2 128 8:32 0 8:48 0"},
      {6144, 1 << 20, "crypt", "aes-xts-plain64 :64:logon:cryptsetup:key 0 8:64 4096 1 allow_discards"},
      {0, 0, "error", ""},
  };
  for (unsigned cmd : {unsigned{DM_TABLE_STATUS_CMD}, unsigned{DM_DEV_WAIT_CMD}}) {
    const std::string tag = cmd == DM_DEV_WAIT_CMD ? "wait" : "status";
    seed(tag + "_one", cmd, Status({tgts[0]}),
         [&](const dm::Reply& r) { Expect(r.targets && r.targets->size() == 1, tag, "count"); });
    seed(tag + "_four", cmd, Status(tgts), [&](const dm::Reply& r) {
      Expect(r.targets && r.targets->size() == 4 && (*r.targets)[2].type == "crypt", tag, "count/type");
    });
  }
  seed("status_none", DM_TABLE_STATUS_CMD, Status({}),
       [&](const dm::Reply& r) { Expect(r.targets && r.targets->empty(), "status_none", "empty"); });
  // data_start past sizeof(struct dm_ioctl): the decoder must honour it.
  seed("status_start320", DM_TABLE_STATUS_CMD, Status({tgts[1], tgts[3]}, 320),
       [&](const dm::Reply& r) { Expect(r.targets && r.targets->size() == 2, "status_start320", "count"); });

  seed("deps_none", DM_TABLE_DEPS_CMD, Deps({}),
       [&](const dm::Reply& r) { Expect(r.deps && r.deps->empty(), "deps_none", "empty"); });
  seed("deps_three", DM_TABLE_DEPS_CMD, Deps({{8, 16}, {8, 32}, {259, 1048575}}), [&](const dm::Reply& r) {
    Expect(r.deps && r.deps->size() == 3 && (*r.deps)[2].second == 1048575, "deps_three", "count/minor");
  });

  const std::vector<Ver> vers = {
      {"linear", {1, 4, 0}}, {"striped", {1, 6, 0}}, {"crypt", {1, 24, 0}}, {"thin-pool", {1, 23, 0}},
      {"error", {1, 6, 0}},
  };
  seed("versions_all", DM_LIST_VERSIONS_CMD, Versions(vers),
       [&](const dm::Reply& r) { Expect(r.versions && r.versions->size() == 5, "versions_all", "count"); });
  seed("target_version", DM_GET_TARGET_VERSION_CMD, Versions({vers[2]}), [&](const dm::Reply& r) {
    Expect(r.versions && r.versions->size() == 1 && (*r.versions)[0].version[1] == 24, "target_version", "v");
  });

  seed("message_out", DM_TARGET_MSG_CMD, Message("0 8 1024 2048 stats: 12 34"),
       [&](const dm::Reply& r) { Expect(r.message && *r.message == "0 8 1024 2048 stats: 12 34", "message", "text"); });
  seed("message_empty", DM_TARGET_MSG_CMD, Message(""),
       [&](const dm::Reply& r) { Expect(r.message && r.message->empty(), "message_empty", "text"); });

  if (failures) return 1;
  std::printf("dm_codec_seeds: wrote %d seeds to %s\n", n, dir.c_str());
  return 0;
}
