#pragma once
// Pure encoding/decoding of dm-ioctl v4 buffers. No N-API and no syscalls here, so the codec
// can be unit-tested, fuzzed and sanitized on its own.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

struct dm_ioctl;

namespace dm {

// The caller handed us something the kernel cannot be asked (maps to a JS TypeError).
struct EncodeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// The reply buffer does not describe a well-formed dm-ioctl answer (maps to a JS Error).
struct DecodeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Target {
  uint64_t start = 0;
  uint64_t length = 0;
  int32_t status = 0;
  std::string type;
  std::string params;
};

struct Request {
  std::string name;
  std::string uuid;
  bool hasDev = false;
  uint32_t major = 0;
  uint32_t minor = 0;
  uint32_t flags = 0;
  uint32_t eventNr = 0;
  std::vector<Target> targets;
  std::optional<std::string> newName;
  std::optional<std::pair<uint64_t, std::string>> message;
  std::optional<std::string> geometry;
  std::optional<std::string> targetType;
  // Zeroes every string this request holds (for DM_SECURE_DATA_FLAG requests).
  void Wipe();
};

struct Device {
  std::string name;
  uint32_t major = 0;
  uint32_t minor = 0;
  std::optional<uint32_t> eventNr;
  std::optional<std::string> uuid;
};

struct TargetVersion {
  std::string name;
  uint32_t version[3] = {0, 0, 0};
};

struct Reply {
  uint32_t version[3] = {0, 0, 0};
  uint32_t flags = 0;
  std::string name;
  std::string uuid;
  uint32_t major = 0;
  uint32_t minor = 0;
  int32_t openCount = 0;
  uint32_t eventNr = 0;
  uint32_t targetCount = 0;
  uint32_t dataSize = 0;  // data-area capacity of the buffer the reply came in
  uint32_t retries = 0;
  std::optional<std::vector<Device>> devices;
  std::optional<std::vector<Target>> targets;
  std::optional<std::vector<std::pair<uint32_t, uint32_t>>> deps;
  std::optional<std::vector<TargetVersion>> versions;
  std::optional<std::string> message;
  void Wipe();
};

constexpr unsigned kCommandCount = 18;
// "DEV_REMOVE" etc.; "UNKNOWN" past the table.
const char* CommandName(unsigned cmd);

uint64_t EncodeDev(uint32_t major, uint32_t minor);
void DecodeDev(uint64_t dev, uint32_t* major, uint32_t* minor);

// Builds the ioctl buffer: header, then the payload the request carries, then free space so
// that the data area holds at least dataAreaSize bytes for the reply.
std::vector<uint8_t> Encode(unsigned cmd, const Request& req, size_t dataAreaSize);

// The header alone (data_size = sizeof(struct dm_ioctl)), for commands whose request and reply
// carry no payload; the caller reads the reply header in place.
void EncodeHeaderOnly(unsigned cmd, const Request& req, struct dm_ioctl* out);

// Flags word of a buffer the kernel filled (0 if the buffer is too short to hold one).
uint32_t PeekFlags(const std::vector<uint8_t>& buf);

// Decodes the header and the payload `cmd` returns. Throws DecodeError on anything malformed;
// never reads outside [buf, buf + len). A reply flagged DM_BUFFER_FULL_FLAG is incomplete by
// definition, so only its header is decoded.
Reply Decode(unsigned cmd, const uint8_t* buf, size_t len);

void Wipe(void* p, size_t n);
void Wipe(std::string& s);
void Wipe(std::vector<uint8_t>& v);

}  // namespace dm
