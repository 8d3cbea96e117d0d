// Child→parent framing of the forked sandbox; see framing.h.
#include "functions/lua/framing.h"

#include <cstring>

namespace cloister::functions::lua {
namespace {

void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::string Frame(FrameType type, std::string_view payload) {
  std::string out;
  out.reserve(kFrameHeaderSize + payload.size());
  out.push_back(static_cast<char>(type));
  PutU32(out, static_cast<uint32_t>(payload.size()));
  out.append(payload);
  return out;
}

Error Malformed(std::string_view what) {
  return DataLoss("sandbox child sent malformed data: " + std::string(what),
                  "SANDBOX_PROTOCOL_ERROR");
}

// Bounds-checked cursor over untrusted bytes.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool empty() const { return pos_ == data_.size(); }
  size_t left() const { return data_.size() - pos_; }
  Result<uint8_t> U8() {
    if (left() < 1) return Malformed("truncated");
    return static_cast<uint8_t>(data_[pos_++]);
  }
  Result<uint32_t> U32() {
    if (left() < 4) return Malformed("truncated");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
      v |= static_cast<uint32_t>(static_cast<uint8_t>(data_[pos_ + i])) << (8 * i);
    pos_ += 4;
    return v;
  }
  Result<uint64_t> U64() {
    if (left() < 8) return Malformed("truncated");
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
      v |= static_cast<uint64_t>(static_cast<uint8_t>(data_[pos_ + i])) << (8 * i);
    pos_ += 8;
    return v;
  }
  Result<std::string_view> Bytes(uint64_t n) {
    if (n > left()) return Malformed("length past end of data");
    std::string_view v = data_.substr(pos_, n);
    pos_ += n;
    return v;
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

}  // namespace

std::string EncodeOutput(std::string_view name, std::string_view bytes) {
  std::string p;
  PutU32(p, static_cast<uint32_t>(name.size()));
  p.append(name);
  p.append(bytes);
  return Frame(FrameType::kOutput, p);
}

std::string EncodeLog(std::string_view log) { return Frame(FrameType::kLog, log); }

std::string EncodeUsage(const Usage& u) {
  std::string p;
  PutU64(p, u.instructions);
  PutU64(p, u.peak_memory_bytes);
  PutU64(p, static_cast<uint64_t>(u.wall_ms * 1000));
  return Frame(FrameType::kUsage, p);
}

std::string EncodeStatus(const Status& s) {
  std::string p;
  PutU32(p, static_cast<uint32_t>(s.code()));
  const std::string reason = s.ok() ? "" : s.error().reason();
  const std::string message = s.ok() ? "" : s.error().message();
  PutU32(p, static_cast<uint32_t>(reason.size()));
  p.append(reason);
  p.append(message);
  return Frame(FrameType::kStatus, p);
}

void EncodeViolation(uint32_t nr, char* out) {
  out[0] = static_cast<char>(FrameType::kViolation);
  const uint32_t len = 4;
  for (int i = 0; i < 4; ++i) out[1 + i] = static_cast<char>((len >> (8 * i)) & 0xff);
  for (int i = 0; i < 4; ++i) out[5 + i] = static_cast<char>((nr >> (8 * i)) & 0xff);
}

Result<ChildMessages> DecodeChildMessages(std::string_view wire, uint64_t max_field) {
  ChildMessages m;
  Reader r(wire);
  while (!r.empty()) {
    CLOISTER_ASSIGN_OR_RETURN(uint8_t type, r.U8());
    CLOISTER_ASSIGN_OR_RETURN(uint32_t len, r.U32());
    if (len > max_field + 64) return Malformed("frame longer than allowed");
    CLOISTER_ASSIGN_OR_RETURN(std::string_view payload, r.Bytes(len));
    if (m.status && static_cast<FrameType>(type) != FrameType::kViolation)
      return Malformed("data after the final status");
    Reader p(payload);
    switch (static_cast<FrameType>(type)) {
      case FrameType::kOutput: {
        CLOISTER_ASSIGN_OR_RETURN(uint32_t nlen, p.U32());
        if (nlen > 1024) return Malformed("output name too long");
        CLOISTER_ASSIGN_OR_RETURN(std::string_view name, p.Bytes(nlen));
        CLOISTER_ASSIGN_OR_RETURN(std::string_view bytes, p.Bytes(p.left()));
        m.outputs.emplace_back(std::string(name), std::string(bytes));
        break;
      }
      case FrameType::kLog:
        m.log.append(payload);
        break;
      case FrameType::kUsage: {
        Usage u;
        CLOISTER_ASSIGN_OR_RETURN(u.instructions, p.U64());
        CLOISTER_ASSIGN_OR_RETURN(u.peak_memory_bytes, p.U64());
        CLOISTER_ASSIGN_OR_RETURN(uint64_t us, p.U64());
        u.wall_ms = static_cast<double>(us) / 1000;
        if (!p.empty()) return Malformed("usage frame too long");
        m.usage = u;
        break;
      }
      case FrameType::kStatus: {
        CLOISTER_ASSIGN_OR_RETURN(uint32_t code, p.U32());
        if (code > static_cast<uint32_t>(Code::kUnauthenticated)) return Malformed("bad status code");
        CLOISTER_ASSIGN_OR_RETURN(uint32_t rlen, p.U32());
        if (rlen > 128) return Malformed("reason too long");
        CLOISTER_ASSIGN_OR_RETURN(std::string_view reason, p.Bytes(rlen));
        CLOISTER_ASSIGN_OR_RETURN(std::string_view message, p.Bytes(p.left()));
        if (code == 0) m.status = OkStatus();
        else m.status = Status(Error(static_cast<Code>(code), std::string(message.substr(0, 4096)),
                                     std::string(reason)));
        break;
      }
      case FrameType::kViolation: {
        CLOISTER_ASSIGN_OR_RETURN(uint32_t nr, p.U32());
        m.violation = nr;
        break;
      }
      default:
        return Malformed("unknown frame type " + std::to_string(type));
    }
  }
  return m;
}

}  // namespace cloister::functions::lua
